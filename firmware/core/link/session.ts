/*
 * The MQTT 3.1.1 client session as a pure step (the shape of machine.ts): packet ids,
 * the in-flight window, SUBSCRIBE/UNSUBSCRIBE bookkeeping and keep-alive deadlines.
 * `sessionStep` takes the session, one event and what it reads from outside (the time,
 * the outbox's entries) and returns the next session and the effects the runner
 * (link.ts) performs in order: write packets, record an entry's packet id, tell
 * listeners, end the connection.
 *
 * The outbox stays the owner of queued messages and their ids (it keeps them on
 * storage); the session only decides which id an entry goes out with (`assign`).
 * Every `send` comes after the `assign`s it depends on, and no effect that calls out
 * to user code precedes a `send` of the same step, so a nested step always sees the
 * ids this one handed out.
 */
import type { Packet, Publish, Will } from '../mqtt/packet';
import { SUBACK_FAILURE } from '../mqtt/packet';
import { assertNever } from '../util/result';

export type SubscriptionStatus = 'pending' | 'granted' | 'refused';

export interface Subscription {
	readonly qos: 0 | 1;
	readonly status: SubscriptionStatus;
}

/** What the session reads of an outbox entry: `packetId` 0 means not sent yet. */
export interface Queued {
	readonly seq: number;
	readonly topic: string;
	readonly payload: Uint8Array;
	readonly packetId: number;
}

export interface SessionConfig {
	readonly clientId: string;
	/** Seconds. */
	readonly keepAlive: number;
	readonly pingTimeoutMs: number;
	readonly maxInflight: number;
	readonly will: Will | undefined;
}

export interface Session {
	/** A socket is open and writable: packets may go out. */
	readonly up: boolean;
	readonly nextId: number;
	/** Registered filters, sent again on every connection. */
	readonly subs: ReadonlyMap<string, Subscription>;
	/** SUBSCRIBE/UNSUBSCRIBE awaiting their ack: packet id -> filters. */
	readonly pending: ReadonlyMap<number, readonly string[]>;
	/** Monotonic ms of the last write and read; when the outstanding PINGREQ left. */
	readonly lastWrite: number;
	readonly lastRead: number;
	readonly pingSentAt: number | undefined;
}

export const NEW_SESSION: Session = Object.freeze({
	up: false,
	nextId: 1,
	subs: new Map<string, Subscription>(),
	pending: new Map<number, readonly string[]>(),
	lastWrite: 0,
	lastRead: 0,
	pingSentAt: undefined,
});

/** AWS IoT's limit on topic filters in one SUBSCRIBE. */
export const MAX_FILTERS_PER_SUBSCRIBE = 8;

export type SessionEvent =
	/** The socket is writable: CONNECT, every SUBSCRIBE, the unacknowledged publishes again, then new ones. */
	| { readonly type: 'opened' }
	/** CONNACK accepted: the keep-alive clock starts. */
	| { readonly type: 'connack' }
	| { readonly type: 'closed' }
	| { readonly type: 'subscribe'; readonly filter: string; readonly qos: 0 | 1 }
	| { readonly type: 'unsubscribe'; readonly filter: string }
	/** The outbox changed (an entry added or acknowledged): send what the window allows. */
	| { readonly type: 'queued' }
	/** A packet outside the session's bookkeeping (QoS 0 PUBLISH, an inbound PUBACK, DISCONNECT): sent if up. */
	| { readonly type: 'send'; readonly packet: Packet }
	/** Bytes came from the broker. */
	| { readonly type: 'received' }
	| { readonly type: 'puback'; readonly packetId: number }
	| { readonly type: 'suback'; readonly packetId: number; readonly granted: readonly number[] }
	| { readonly type: 'unsuback'; readonly packetId: number }
	/** The keep-alive timer: time to ping, or to give up on a ping. */
	| { readonly type: 'tick' };

export type SessionEffect =
	/** Written back to back in one write: one TLS record, one segment. */
	| { readonly type: 'send'; readonly packets: readonly Packet[] }
	/** The outbox entry `seq` goes out with this id (the outbox records it). */
	| { readonly type: 'assign'; readonly seq: number; readonly packetId: number }
	/** A PUBACK for an entry in flight: the outbox drops it, listeners hear of it, then `queued` follows. */
	| { readonly type: 'acknowledged'; readonly packetId: number }
	/** A SUBACK's code for one filter: granted QoS or SUBACK_FAILURE. */
	| { readonly type: 'subscription'; readonly filter: string; readonly granted: number }
	/** The connection must end: a dead link, or the broker broke the standard. Always the last effect. */
	| { readonly type: 'lost'; readonly reason: string }
	| { readonly type: 'protocolError'; readonly message: string }
	| { readonly type: 'log'; readonly level: 'debug' | 'error'; readonly event: string; readonly fields: Readonly<Record<string, string | number>> };

export interface SessionInput {
	/** Monotonic ms. */
	readonly now: number;
	/** The outbox's entries in order. */
	readonly queue: readonly Queued[];
}

export interface SessionStep {
	readonly session: Session;
	readonly effects: readonly SessionEffect[];
}

/** How often the keep-alive timer ticks: a fraction of the shorter deadline. */
export function keepAlivePeriod(c: SessionConfig): number {
	return Math.max(250, Math.min(c.keepAlive * 1000, c.pingTimeoutMs) / 4);
}

/** Packet ids in use: by an outbox entry, a pending SUBSCRIBE, or handed out earlier in this step. */
class Ids {
	#next: number;
	readonly #taken = new Set<number>();
	readonly #queue: readonly Queued[];
	constructor(s: Session, queue: readonly Queued[]) {
		this.#next = s.nextId;
		this.#queue = queue;
		for (const id of s.pending.keys()) this.#taken.add(id);
	}
	get next(): number {
		return this.#next;
	}
	/** Next id not in use [MQTT-2.3.1-2]. */
	take(): number {
		for (let tries = 0; tries < 0x10000; tries++) {
			const id = this.#next;
			this.#next = id === 0xffff ? 1 : id + 1;
			if (this.#taken.has(id) || this.#queue.some((e) => e.packetId === id)) continue;
			this.#taken.add(id);
			return id;
		}
		throw new Error('no free packet id');
	}
}

function publishOf(e: Queued, packetId: number, dup: boolean): Publish {
	return { type: 'publish', topic: e.topic, payload: e.payload, qos: 1, retain: false, dup, packetId };
}

/**
 * Appends what the window allows to `packets`: on a new connection every unacknowledged
 * entry again (DUP, old id) [MQTT-4.4.0-1], then entries never sent, up to maxInflight in flight.
 */
function pump(c: SessionConfig, queue: readonly Queued[], ids: Ids, packets: Packet[], effects: SessionEffect[], reconnect: boolean): void {
	let inflight = 0;
	for (const e of queue) if (e.packetId !== 0) inflight++;
	for (const e of queue) {
		if (e.packetId !== 0) {
			if (reconnect) packets.push(publishOf(e, e.packetId, true));
			continue;
		}
		if (inflight >= c.maxInflight) continue;
		const packetId = ids.take();
		effects.push({ type: 'assign', seq: e.seq, packetId });
		packets.push(publishOf(e, packetId, false));
		inflight++;
	}
}

/** Sends `packets` if the session is up, noting the time of the write. */
function sent(s: Session, now: number, packets: readonly Packet[], effects: SessionEffect[]): Session {
	if (!s.up || packets.length === 0) return s;
	effects.push({ type: 'send', packets });
	return { ...s, lastWrite: now };
}

function protocolError(s: Session, message: string, effects: SessionEffect[]): SessionStep {
	effects.push({ type: 'protocolError', message });
	return { session: s, effects };
}

function withPending(s: Session, packetId: number, filters: readonly string[] | undefined): ReadonlyMap<number, readonly string[]> {
	const m = new Map(s.pending);
	if (filters) m.set(packetId, filters);
	else m.delete(packetId);
	return m;
}

export function sessionStep(s: Session, e: SessionEvent, input: SessionInput, c: SessionConfig): SessionStep {
	const effects: SessionEffect[] = [];
	const { now, queue } = input;
	switch (e.type) {
		case 'opened': {
			const packets: Packet[] = [{ type: 'connect', clientId: c.clientId, cleanSession: false, keepAlive: c.keepAlive, ...(c.will ? { will: c.will } : {}) }];
			const subs = new Map<string, Subscription>();
			for (const [f, sub] of s.subs) subs.set(f, { qos: sub.qos, status: 'pending' });
			const ids = new Ids({ ...s, pending: new Map() }, queue);
			const pending = new Map<number, readonly string[]>();
			const filters = [...subs.keys()];
			// AWS IoT takes at most 8 filters in one SUBSCRIBE
			for (let i = 0; i < filters.length; i += MAX_FILTERS_PER_SUBSCRIBE) {
				const chunk = filters.slice(i, i + MAX_FILTERS_PER_SUBSCRIBE);
				const packetId = ids.take();
				pending.set(packetId, chunk);
				packets.push({ type: 'subscribe', packetId, subscriptions: chunk.map((topic) => ({ topic, qos: subs.get(topic)!.qos })) });
			}
			pump(c, queue, ids, packets, effects, true);
			const next: Session = { up: true, nextId: ids.next, subs, pending, lastWrite: s.lastWrite, lastRead: s.lastRead, pingSentAt: undefined };
			return { session: sent(next, now, packets, effects), effects };
		}
		case 'connack':
			return { session: { ...s, lastRead: now, pingSentAt: undefined }, effects };
		case 'closed':
			if (!s.up && s.pending.size === 0 && s.pingSentAt === undefined) return { session: s, effects };
			return { session: { ...s, up: false, pending: new Map(), pingSentAt: undefined }, effects };
		case 'subscribe': {
			const subs = new Map(s.subs);
			subs.set(e.filter, { qos: e.qos, status: 'pending' });
			if (!s.up) return { session: { ...s, subs }, effects };
			const ids = new Ids(s, queue);
			const packetId = ids.take();
			const next: Session = { ...s, subs, nextId: ids.next, pending: withPending(s, packetId, [e.filter]) };
			return { session: sent(next, now, [{ type: 'subscribe', packetId, subscriptions: [{ topic: e.filter, qos: e.qos }] }], effects), effects };
		}
		case 'unsubscribe': {
			if (!s.subs.has(e.filter)) return { session: s, effects };
			const subs = new Map(s.subs);
			subs.delete(e.filter);
			if (!s.up) return { session: { ...s, subs }, effects };
			const ids = new Ids(s, queue);
			const packetId = ids.take();
			const next: Session = { ...s, subs, nextId: ids.next, pending: withPending(s, packetId, [e.filter]) };
			return { session: sent(next, now, [{ type: 'unsubscribe', packetId, topics: [e.filter] }], effects), effects };
		}
		case 'queued': {
			if (!s.up) return { session: s, effects };
			const ids = new Ids(s, queue);
			const packets: Packet[] = [];
			pump(c, queue, ids, packets, effects, false);
			return { session: sent({ ...s, nextId: ids.next }, now, packets, effects), effects };
		}
		case 'send':
			return { session: sent(s, now, [e.packet], effects), effects };
		case 'received':
			return { session: { ...s, lastRead: now, pingSentAt: undefined }, effects };
		case 'puback':
			// 0 marks "not sent yet" in the outbox, never an id on the wire [MQTT-2.3.1-1]
			if (e.packetId !== 0 && queue.some((q) => q.packetId === e.packetId)) effects.push({ type: 'acknowledged', packetId: e.packetId });
			else effects.push({ type: 'log', level: 'debug', event: 'mqtt.puback_unknown', fields: { packetId: e.packetId } });
			return { session: s, effects };
		case 'suback': {
			const filters = s.pending.get(e.packetId);
			if (!filters) {
				effects.push({ type: 'log', level: 'debug', event: 'mqtt.suback_unknown', fields: { packetId: e.packetId } });
				return { session: s, effects };
			}
			const pending = withPending(s, e.packetId, undefined);
			if (filters.length !== e.granted.length) return protocolError({ ...s, pending }, 'SUBACK with ' + e.granted.length + ' codes for ' + filters.length + ' filters [MQTT-3.9.3-1]', effects);
			const subs = new Map(s.subs);
			filters.forEach((f, i) => {
				const g = e.granted[i]!;
				const sub = subs.get(f);
				if (sub) subs.set(f, { qos: sub.qos, status: g === SUBACK_FAILURE ? 'refused' : 'granted' });
				if (g === SUBACK_FAILURE) effects.push({ type: 'log', level: 'error', event: 'mqtt.subscribe_refused', fields: { filter: f } });
				effects.push({ type: 'subscription', filter: f, granted: g });
			});
			return { session: { ...s, pending, subs }, effects };
		}
		case 'unsuback':
			if (!s.pending.has(e.packetId)) return { session: s, effects };
			return { session: { ...s, pending: withPending(s, e.packetId, undefined) }, effects };
		case 'tick': {
			if (!s.up) return { session: s, effects };
			if (s.pingSentAt !== undefined) {
				if (now - s.pingSentAt >= c.pingTimeoutMs) effects.push({ type: 'lost', reason: 'no PINGRESP within ' + c.pingTimeoutMs + ' ms' });
				return { session: s, effects };
			}
			// silence in either direction: a steady stream of QoS 0 writes must not hide a half-open link
			const idle = c.keepAlive * 1000;
			if (now - s.lastWrite < idle && now - s.lastRead < idle) return { session: s, effects };
			return { session: { ...sent(s, now, [{ type: 'pingreq' }], effects), pingSentAt: now }, effects };
		}
		default:
			return assertNever(e);
	}
}
