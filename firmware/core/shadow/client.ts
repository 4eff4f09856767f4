/*
 * Device Shadow client over the link (AWS IoT Device Shadow MQTT API). The surface
 * follows the AWS device SDK's shadow client (get, update, delete; delta and
 * documents streams; a clientToken on every request matched on /accepted and
 * /rejected), with typed results instead of exceptions: a rejection is data
 * ({ code: 'rejected', status }) distinct from a timeout or an offline link.
 *
 * Subscriptions: the reply topics only, not `.../#`: AWS IoT delivers a client its
 * own publishes when a filter matches them, and every inbound message is billed.
 * `update/documents` only when asked for.
 */
import type { LogPort, RandomPort, TimerPort } from '../../ports';
import type { LinkError, Message } from '../link/link';
import { jsonObject, Requests, type Messenger } from '../link/requests';
import { checkThingName, isShadowName, SHADOW_NAME_RULE } from '../contracts/thing';
import { shadowTopicPrefix } from '../contracts/topics';
import { err, ok, type Result } from '../util/result';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface ShadowState {
	readonly desired?: JsonObject | null;
	readonly reported?: JsonObject | null;
	readonly delta?: JsonObject;
}

/** get/accepted and update/accepted bodies (the fields we rely on). */
export interface ShadowDocument {
	readonly state: ShadowState;
	readonly metadata?: JsonObject;
	readonly version: number;
	readonly timestamp: number;
}

export interface Delta {
	readonly state: JsonObject;
	readonly metadata: JsonObject;
	readonly version: number;
	readonly timestamp: number;
}

export type ShadowError = { readonly code: 'rejected'; readonly status: number; readonly message: string } | { readonly code: 'timeout' } | { readonly code: 'offline' } | { readonly code: 'link'; readonly error: LinkError };

export interface ShadowOptions {
	readonly thing: string;
	/** Named shadow; omitted for the classic one. */
	readonly name?: string;
	readonly timeoutMs?: number;
	/** Also subscribe to update/documents. */
	readonly documents?: boolean;
}

const OPS = Object.freeze(['get', 'update', 'delete'] as const);
type Op = (typeof OPS)[number];

function isObject(x: unknown): x is JsonObject {
	return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export class ShadowClient {
	readonly prefix: string;
	readonly #ports: { timers: TimerPort; random: RandomPort; log: LogPort };
	readonly #requests: Requests;
	#version: number | undefined;
	#delta: ((d: Delta) => void) | undefined;
	#documents: ((d: { previous: ShadowDocument | null; current: ShadowDocument | null; timestamp: number }) => void) | undefined;

	constructor(link: Messenger, ports: { timers: TimerPort; random: RandomPort; log: LogPort }, options: ShadowOptions) {
		checkThingName(options.thing);
		if (options.name !== undefined && !isShadowName(options.name)) throw new RangeError('"name" expected ' + SHADOW_NAME_RULE + ', got ' + JSON.stringify(options.name));
		this.#ports = ports;
		this.#requests = new Requests(link, ports, { name: 'shadow', timeoutMs: options.timeoutMs ?? 10_000 });
		this.prefix = shadowTopicPrefix(options.thing, options.name);
		// three filters cover every reply (AWS IoT takes at most 8 per SUBSCRIBE, 50 per connection);
		// QoS 0: the robot reads the whole shadow on every connection, so replies and deltas
		// queued for it while it was away would only be billed and thrown away
		const filters = ['+/accepted', '+/rejected', 'update/delta'];
		if (options.documents) filters.push('update/documents');
		const at = this.prefix.length + 1;
		for (const f of filters) {
			const r = link.subscribe(this.prefix + '/' + f, (m) => this.#received(m.topic.slice(at), m), 0);
			if (!r.ok) throw new Error('shadow: cannot subscribe ' + f + ': ' + JSON.stringify(r.error));
		}
	}

	/** Highest shadow version seen in any reply, delta or document. */
	get version(): number | undefined {
		return this.#version;
	}

	onDelta(handler: (d: Delta) => void): void {
		this.#delta = handler;
	}

	onDocuments(handler: (d: { previous: ShadowDocument | null; current: ShadowDocument | null; timestamp: number }) => void): void {
		this.#documents = handler;
	}

	get(): Promise<Result<ShadowDocument, ShadowError>> {
		return this.#request('get', {}) as Promise<Result<ShadowDocument, ShadowError>>;
	}

	/** `version` makes the update conditional: a stale one is rejected with 409. */
	update(state: { desired?: JsonObject | null; reported?: JsonObject | null }, version?: number): Promise<Result<ShadowDocument, ShadowError>> {
		if (!isObject(state) || (state.desired === undefined && state.reported === undefined)) throw new TypeError('"state" expected { desired?, reported? } with at least one of them');
		const body: JsonObject = { state: state as JsonObject };
		if (version !== undefined) body.version = version;
		return this.#request('update', body) as Promise<Result<ShadowDocument, ShadowError>>;
	}

	delete(): Promise<Result<{ version: number; timestamp: number }, ShadowError>> {
		return this.#request('delete', {}) as Promise<Result<{ version: number; timestamp: number }, ShadowError>>;
	}

	async #request(op: Op, body: JsonObject): Promise<Result<ShadowDocument | { version: number; timestamp: number }, ShadowError>> {
		const r = await this.#requests.send(this.prefix + '/' + op, body, op);
		if (!r.ok) return r;
		const reply = r.value.body;
		if (!r.value.accepted) {
			const status = typeof reply.code === 'number' ? reply.code : 0;
			const message = typeof reply.message === 'string' ? reply.message : '';
			this.#ports.log.log('warn', 'shadow.rejected', { topic: this.prefix + '/' + op, status, message });
			return err({ code: 'rejected', status, message });
		}
		if (op === 'delete') return ok({ version: Number(reply.version), timestamp: Number(reply.timestamp) });
		return ok(reply as unknown as ShadowDocument);
	}

	#seen(version: unknown): void {
		if (typeof version === 'number' && Number.isInteger(version) && (this.#version === undefined || version > this.#version)) this.#version = version;
	}

	#received(suffix: string, m: Message): void {
		const body = jsonObject(m.payload) as JsonObject | undefined;
		if (!body) {
			this.#ports.log.log('error', 'shadow.bad_message', { topic: m.topic, bytes: m.payload.length });
			return;
		}
		this.#seen(body.version);
		if (suffix === 'update/delta') {
			if (!isObject(body.state) || typeof body.version !== 'number') return this.#ports.log.log('error', 'shadow.bad_delta', { topic: m.topic });
			this.#delta?.({ state: body.state, metadata: isObject(body.metadata) ? body.metadata : {}, version: body.version, timestamp: Number(body.timestamp) });
			return;
		}
		if (suffix === 'update/documents') {
			const doc = (x: Json | undefined) => (isObject(x) && isObject(x.state) ? (x as unknown as ShadowDocument) : null);
			this.#documents?.({ previous: doc(body.previous), current: doc(body.current), timestamp: Number(body.timestamp) });
			return;
		}
		const accepted = suffix.endsWith('/accepted');
		// an accepted get or update must carry the document; a malformed one is left to time out
		if (accepted && suffix !== 'delete/accepted' && (!isObject(body.state) || typeof body.version !== 'number')) {
			this.#ports.log.log('error', 'shadow.bad_reply', { topic: m.topic });
			return;
		}
		this.#requests.answer(body, accepted);
	}
}
