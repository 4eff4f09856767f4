/*
 * The shadow service on MQTT (AWS "Device Shadow MQTT topics"): requests on
 *   $aws/things/{thing}/shadow/{get,update,delete}
 *   $aws/things/{thing}/shadow/name/{name}/{get,update,delete}
 * answered on `<request>/accepted` or `<request>/rejected`, with `update/delta` and
 * `update/documents` after each accepted update, whichever transport made it. The broker's
 * policy already limits a device to its own thing's topics; the bus bypasses it.
 */
import { shadowTopicPrefix } from '../../../firmware/core/contracts/topics';
import type { Bus } from '../bus';
import type { LogFn } from '../log';
import type { ShadowChange, ShadowOperations } from './service';

export const SHADOW_FILTER = '$aws/things/+/shadow/#';

type Operation = 'get' | 'update' | 'delete';

export interface ShadowTopic {
	readonly thing: string;
	readonly name: string;
	readonly operation: Operation;
}

/** The request a topic names, or undefined for reply topics (ours) and anything else. */
export function parseShadowTopic(topic: string): ShadowTopic | undefined {
	const parts = topic.split('/');
	if (parts[0] !== '$aws' || parts[1] !== 'things' || parts[3] !== 'shadow') return undefined;
	const thing = parts[2] as string;
	let name = '';
	let rest = parts.slice(4);
	if (rest[0] === 'name' && rest.length === 3) {
		name = rest[1] as string;
		rest = rest.slice(2);
	}
	if (rest.length !== 1 || thing === '') return undefined;
	const op = rest[0];
	if (op !== 'get' && op !== 'update' && op !== 'delete') return undefined;
	if (name === '' && parts.length !== 5) return undefined;
	return { thing, name, operation: op };
}

/** '' is the classic shadow (the core's topic rule, contracts/topics.ts). */
export function shadowPrefix(thing: string, name: string): string {
	return shadowTopicPrefix(thing, name === '' ? undefined : name);
}

/** Subscribes the operations to the bus; returns the unsubscribe. */
export function bindShadowMqtt(bus: Bus, ops: ShadowOperations, log: LogFn): () => void {
	const publish = (topic: string, body: unknown): void => {
		bus.publish(topic, JSON.stringify(body), 1).catch((e: unknown) => log({ level: 'error', event: 'shadow.publish.failed', topic, error: String(e) }));
	};
	const offChange = ops.onChange((c: ShadowChange) => {
		const prefix = shadowPrefix(c.thing, c.name);
		if (c.kind === 'delete') {
			publish(prefix + '/delete/accepted', c.accepted);
			return;
		}
		publish(prefix + '/update/accepted', c.accepted);
		if (c.delta) publish(prefix + '/update/delta', c.delta);
		publish(prefix + '/update/documents', c.documents);
	});
	const offSub = bus.subscribe(SHADOW_FILTER, (m) => {
		const t = parseShadowTopic(m.topic);
		if (!t) return;
		const prefix = shadowPrefix(t.thing, t.name) + '/' + t.operation;
		const reply = t.operation === 'get' ? ops.get(t.thing, t.name, m.payload) : t.operation === 'update' ? ops.update(t.thing, t.name, m.payload) : ops.delete(t.thing, t.name, m.payload);
		log({ level: 'debug', event: 'shadow.' + t.operation, thing: t.thing, shadow: t.name, ok: reply.ok, ...(reply.ok ? {} : { code: reply.error.code }) });
		if (!reply.ok) publish(prefix + '/rejected', reply.error);
		// update and delete acceptances went out through onChange, for every transport alike
		else if (t.operation === 'get') publish(prefix + '/accepted', reply.value);
	});
	return () => {
		offSub();
		offChange();
	};
}
