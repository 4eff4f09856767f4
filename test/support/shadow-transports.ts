// The two ways a client reaches the local shadow service, behind one interface so a conformance
// table runs through both: MQTT as a device (MQTT.js with a dev device certificate, through the
// real broker and its policy) and HTTP through @aws-sdk/client-iot-data-plane.
import { DeleteThingShadowCommand, GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import type { MqttClient } from 'mqtt';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../cloud/local/credentials';

export type Outcome = { readonly ok: true; readonly body: any } | { readonly ok: false; readonly code: number; readonly message: string; readonly clientToken?: string; readonly exception?: string };

export interface ShadowTransport {
	readonly name: 'mqtt' | 'http';
	get(thing: string, shadow: string, clientToken?: string): Promise<Outcome>;
	/** `body` as JSON text, or a value to serialize. */
	update(thing: string, shadow: string, body: unknown): Promise<Outcome>;
	delete(thing: string, shadow: string, clientToken?: string): Promise<Outcome>;
}

export interface Received {
	readonly topic: string;
	readonly body: any;
}

/** Every message a device client receives, in order, with waits on them. */
export class Inbox {
	readonly messages: Received[] = [];
	private waiters: (() => void)[] = [];

	constructor(client: MqttClient) {
		client.on('message', (topic, payload) => {
			let body: unknown;
			try {
				body = JSON.parse(payload.toString('utf8'));
			} catch {
				body = payload.toString('utf8');
			}
			this.messages.push({ topic, body });
			for (const w of this.waiters.splice(0)) w();
		});
	}

	/** The first message at index >= `from` that matches, waiting up to `ms`. */
	async next(match: (m: Received) => boolean, from = 0, ms = 5000): Promise<Received & { index: number }> {
		const deadline = Date.now() + ms;
		for (;;) {
			for (let i = from; i < this.messages.length; i++) {
				const m = this.messages[i] as Received;
				if (match(m)) return { ...m, index: i };
			}
			const left = deadline - Date.now();
			if (left <= 0) throw new Error('no matching message within ' + ms + ' ms');
			await new Promise<void>((resolve) => {
				const t = setTimeout(resolve, left);
				this.waiters.push(() => (clearTimeout(t), resolve()));
			});
		}
	}
}

export function prefixOf(thing: string, shadow: string): string {
	return shadow === '' ? `$aws/things/${thing}/shadow` : `$aws/things/${thing}/shadow/name/${shadow}`;
}

/** A device's requests: publish, then the first reply on the operation's accepted or rejected topic. */
export function mqttTransport(client: MqttClient, inbox: Inbox): ShadowTransport {
	const request = async (thing: string, shadow: string, op: string, payload: string): Promise<Outcome> => {
		const base = prefixOf(thing, shadow) + '/' + op;
		const from = inbox.messages.length;
		await client.publishAsync(base, payload, { qos: 1 });
		const m = await inbox.next((r) => r.topic === base + '/accepted' || r.topic === base + '/rejected', from);
		if (m.topic.endsWith('/accepted')) return { ok: true, body: m.body };
		return { ok: false, code: m.body.code, message: m.body.message, ...(m.body.clientToken !== undefined ? { clientToken: m.body.clientToken } : {}) };
	};
	const tokenOnly = (clientToken?: string): string => (clientToken === undefined ? '' : JSON.stringify({ clientToken }));
	return {
		name: 'mqtt',
		get: (thing, shadow, clientToken) => request(thing, shadow, 'get', tokenOnly(clientToken)),
		update: (thing, shadow, body) => request(thing, shadow, 'update', typeof body === 'string' ? body : JSON.stringify(body)),
		delete: (thing, shadow, clientToken) => request(thing, shadow, 'delete', tokenOnly(clientToken)),
	};
}

/** The AWS SDK against the local endpoint; a service exception becomes a rejected outcome. */
export function httpTransport(endpoint: string): ShadowTransport & { readonly client: IoTDataPlaneClient } {
	const client = new IoTDataPlaneClient({ endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS }, maxAttempts: 1 });
	const dec = new TextDecoder();
	const call = async (send: () => Promise<{ payload?: Uint8Array }>): Promise<Outcome> => {
		try {
			const out = await send();
			return { ok: true, body: out.payload && out.payload.length > 0 ? JSON.parse(dec.decode(out.payload)) : undefined };
		} catch (e) {
			const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
			if (err.$metadata?.httpStatusCode === undefined) throw e;
			return { ok: false, code: err.$metadata.httpStatusCode, message: err.message, exception: err.name };
		}
	};
	const shadowName = (shadow: string) => (shadow === '' ? {} : { shadowName: shadow });
	return {
		name: 'http',
		client,
		get: (thing, shadow) => call(() => client.send(new GetThingShadowCommand({ thingName: thing, ...shadowName(shadow) }))),
		update: (thing, shadow, body) =>
			call(() =>
				client.send(
					new UpdateThingShadowCommand({
						thingName: thing,
						...shadowName(shadow),
						payload: new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body)),
					}),
				),
			),
		delete: (thing, shadow) => call(() => client.send(new DeleteThingShadowCommand({ thingName: thing, ...shadowName(shadow) }))),
	};
}
