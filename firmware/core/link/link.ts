/*
 * The robot's link to the broker: runs the supervisor machine (machine.ts) over the
 * socket port and speaks MQTT 3.1.1 with a persistent session (clean session off).
 *
 * What it guarantees:
 * - QoS 1 messages go through the outbox; a durable one survives reboot and leaves
 *   only on PUBACK. At most `maxInflight` are unacknowledged at once.
 * - On every connection the first write carries CONNECT, one SUBSCRIBE for every
 *   registered filter and the unacknowledged and queued publishes: MQTT 3.1.1 lets
 *   a client send before CONNACK, which saves a round trip per connection. The
 *   SUBSCRIBE is sent even when the broker may have kept the session, because a
 *   pipelined request's reply topic must be in place before its reply comes.
 * - Unacknowledged publishes are resent with their old id and DUP set [MQTT-4.4.0-1].
 * - An inbound QoS 1 message is acknowledged after its handlers ran, in the order
 *   received [MQTT-4.6.0-2].
 * - Keep-alive: PINGREQ after `keepAlive` s without sending; no reply within
 *   `pingTimeoutMs` means the link is dead and is closed.
 * - A frame that breaks the standard closes the link with the rule it broke.
 */
import type { ClockPort, LogPort, RandomPort, Socket, SocketOptions, SocketPort, StoragePort, TimerHandle, TimerPort } from '../../ports';
import { encodeInto, packetSize } from '../mqtt/codec';
import { CONNACK_REASON, SUBACK_FAILURE, type Packet, type Publish, type Will } from '../mqtt/packet';
import { PacketReader } from '../mqtt/reader';
import { filterError, topicError, topicMatches } from '../mqtt/topic';
import { assertNever, err, ok, type Result } from '../util/result';
import { DEFAULT_BACKOFF, backoffDelay, checkBackoff, type BackoffPolicy } from './backoff';
import { DEFAULT_TIMING, OFFLINE, checkTiming, step, type LinkEffect, type LinkEvent, type LinkState, type LinkTiming } from './machine';
import { DEFAULT_OUTBOX, Outbox, type OutboxEntry, type OutboxError, type OutboxLimits } from './outbox';

export interface LinkPorts {
	readonly socket: SocketPort;
	readonly timers: TimerPort;
	readonly clock: ClockPort;
	readonly random: RandomPort;
	readonly storage: StoragePort;
	readonly log: LogPort;
}

export interface LinkOptions {
	readonly endpoint: SocketOptions;
	/** MQTT client id; AWS IoT requires the thing name. */
	readonly clientId: string;
	/** Seconds; AWS IoT accepts 30..1200. */
	readonly keepAlive?: number;
	readonly pingTimeoutMs?: number;
	/** From socket open to CONNACK, TLS handshake included. */
	readonly connectTimeoutMs?: number;
	readonly backoff?: BackoffPolicy;
	/** When a connection counts as lasting (resets the backoff), when flapping is reported. */
	readonly timing?: LinkTiming;
	readonly maxInflight?: number;
	/** Largest inbound packet accepted; AWS IoT's payload limit is 128 KB. */
	readonly maxPacket?: number;
	readonly outbox?: OutboxLimits;
	/** How long an inbound message's handler may take before it is acknowledged regardless. */
	readonly handlerTimeoutMs?: number;
	/**
	 * Last will, sent in every CONNECT: the broker publishes it when the connection is lost,
	 * never after `stop()`, which sends DISCONNECT [MQTT-3.14.4-3].
	 */
	readonly will?: Will;
}

/** What the link has seen since it was made: for health reports. */
export interface LinkStats {
	/** CONNACKs accepted. */
	readonly connects: number;
	/** Why the last connection or attempt ended, or undefined. */
	readonly lastError: string | undefined;
}

export interface Message {
	readonly topic: string;
	readonly payload: Uint8Array;
	readonly qos: 0 | 1;
	readonly dup: boolean;
	readonly retain: boolean;
}

export type MessageHandler = (m: Message) => void | Promise<void>;

export type SubscriptionStatus = 'pending' | 'granted' | 'refused';

export type LinkError =
	| OutboxError
	| { readonly code: 'offline' }
	| { readonly code: 'invalid'; readonly message: string };

export interface LinkListener {
	state?(s: LinkState): void;
	/** A queued QoS 1 message got its PUBACK and left the outbox. */
	delivered?(seq: number, topic: string): void;
	/** A SUBACK for `filter`: granted QoS, or SUBACK_FAILURE (0x80). */
	subscription?(filter: string, granted: number): void;
}

interface Sub {
	readonly handler: MessageHandler;
	readonly qos: 0 | 1;
	status: SubscriptionStatus;
}

export const MAX_INFLIGHT = 8;
/** AWS IoT's limit on topic filters in one SUBSCRIBE. */
export const MAX_FILTERS_PER_SUBSCRIBE = 8;

/** Wire size of a PUBLISH of this topic and payload, or why it cannot be sent. */
function publishSize(topic: string, payload: Uint8Array): number | string {
	try {
		return packetSize({ type: 'publish', topic, payload, qos: 1, retain: false, dup: false, packetId: 1 });
	} catch (e) {
		return String((e as Error).message);
	}
}

export class Link {
	readonly #ports: LinkPorts;
	readonly #opts: Required<Omit<LinkOptions, 'backoff' | 'outbox' | 'timing' | 'will'>> & { backoff: BackoffPolicy; timing: LinkTiming; will: Will | undefined };
	readonly outbox: Outbox;
	#state: LinkState = OFFLINE;
	#socket: Socket | undefined;
	/** Bumped per socket, so callbacks of an old socket can tell they are stale. */
	#generation = 0;
	#reader: PacketReader | undefined;
	#writable = false;
	#timer: TimerHandle | undefined;
	#keepAliveTimer: TimerHandle | undefined;
	#lastWrite = 0;
	#lastRead = 0;
	/** When the outstanding PINGREQ left; undefined when none is outstanding. */
	#pingSentAt: number | undefined;
	#nextId = 1;
	#subs = new Map<string, Sub>();
	/** SUBSCRIBE/UNSUBSCRIBE awaiting their ack: packet id -> filters. */
	#pendingSub = new Map<number, readonly string[]>();
	#inbound: Promise<void> = Promise.resolve();
	#listeners: LinkListener[] = [];
	/** Events raised while an effect runs wait here, so each step completes before the next. */
	#events: LinkEvent[] = [];
	#dispatching = false;
	/** Monotonic times of the latest CONNACKs, enough to tell a flapping link's rate. */
	#connackTimes: number[] = [];
	#connects = 0;
	#lastError: string | undefined;

	constructor(ports: LinkPorts, options: LinkOptions) {
		const o = options;
		if (typeof o.clientId !== 'string' || o.clientId.length === 0 || o.clientId.length > 128)
			throw new RangeError('"clientId" expected 1..128 characters, got ' + JSON.stringify(o.clientId));
		const keepAlive = o.keepAlive ?? 60;
		if (!Number.isInteger(keepAlive) || keepAlive < 1 || keepAlive > 0xffff) throw new RangeError('"keepAlive" expected 1..65535 s, got ' + keepAlive);
		const maxInflight = o.maxInflight ?? MAX_INFLIGHT;
		if (!Number.isInteger(maxInflight) || maxInflight < 1 || maxInflight > 100) throw new RangeError('"maxInflight" expected 1..100, got ' + maxInflight);
		if (o.will !== undefined) {
			const why = topicError(o.will.topic);
			if (why) throw new RangeError('"will.topic" ' + why);
			if (o.will.qos !== 0 && o.will.qos !== 1) throw new RangeError('"will.qos" expected 0 or 1, got ' + String(o.will.qos));
			if (!(o.will.payload instanceof Uint8Array)) throw new TypeError('"will.payload" expected a Uint8Array');
		}
		this.#ports = ports;
		this.#opts = {
			endpoint: o.endpoint,
			clientId: o.clientId,
			keepAlive,
			pingTimeoutMs: o.pingTimeoutMs ?? 10_000,
			connectTimeoutMs: o.connectTimeoutMs ?? 20_000,
			backoff: checkBackoff(o.backoff ?? DEFAULT_BACKOFF),
			timing: checkTiming(o.timing ?? DEFAULT_TIMING),
			maxInflight,
			maxPacket: o.maxPacket ?? 128 * 1024 + 1024,
			handlerTimeoutMs: o.handlerTimeoutMs ?? 30_000,
			will: o.will,
		};
		this.outbox = new Outbox(ports.storage, ports.log, o.outbox ?? DEFAULT_OUTBOX);
	}

	get state(): LinkState {
		return this.#state;
	}

	get stats(): LinkStats {
		return { connects: this.#connects, lastError: this.#lastError };
	}

	listen(l: LinkListener): () => void {
		this.#listeners.push(l);
		return () => {
			this.#listeners = this.#listeners.filter((x) => x !== l);
		};
	}

	start(): void {
		this.#dispatch({ type: 'start' });
	}

	stop(): void {
		this.#dispatch({ type: 'stop' });
	}

	/**
	 * Registers a subscription and its handler. It is (re)sent on every connection
	 * until `unsubscribe`; its SUBACK result is told to listeners. QoS 1 (default)
	 * makes the broker keep messages for the robot while it is away; QoS 0 does
	 * not, which is right for replies the robot asks for again when it is back.
	 */
	subscribe(filter: string, handler: MessageHandler, qos: 0 | 1 = 1): Result<void, LinkError> {
		const why = filterError(filter);
		if (why) return err({ code: 'invalid', message: '"filter" ' + why });
		if (typeof handler !== 'function') throw new TypeError('"handler" expected a function');
		if (qos !== 0 && qos !== 1) throw new RangeError('"qos" expected 0 or 1, got ' + qos);
		this.#subs.set(filter, { handler, qos, status: 'pending' });
		if (this.#canWrite()) {
			const packetId = this.#allocateId();
			this.#pendingSub.set(packetId, [filter]);
			this.#write([{ type: 'subscribe', packetId, subscriptions: [{ topic: filter, qos }] }]);
		}
		return ok(undefined);
	}

	unsubscribe(filter: string): void {
		if (!this.#subs.delete(filter)) return;
		if (this.#canWrite()) {
			const packetId = this.#allocateId();
			this.#pendingSub.set(packetId, [filter]);
			this.#write([{ type: 'unsubscribe', packetId, topics: [filter] }]);
		}
	}

	subscription(filter: string): SubscriptionStatus | undefined {
		return this.#subs.get(filter)?.status;
	}

	/**
	 * QoS 0: sent now if the link is up, else refused with `offline` (fire and forget).
	 * QoS 1: queued in the outbox and sent as soon as the window allows; `durable`
	 * entries survive reboot. The entry's `seq` comes back in `delivered`.
	 */
	publish(topic: string, payload: Uint8Array, qos: 0 | 1, durable = false): Result<number, LinkError> {
		const why = topicError(topic);
		if (why) return err({ code: 'invalid', message: '"topic" ' + why });
		if (!(payload instanceof Uint8Array)) throw new TypeError('"payload" expected a Uint8Array');
		if (qos !== 0 && qos !== 1) throw new RangeError('"qos" expected 0 or 1, got ' + qos);
		const size = publishSize(topic, payload);
		if (typeof size === 'string') return err({ code: 'invalid', message: size });
		if (qos === 0) {
			if (!this.#canWrite()) return err({ code: 'offline' });
			this.#write([{ type: 'publish', topic, payload, qos: 0, retain: false, dup: false }]);
			return ok(0);
		}
		const added = this.outbox.add(topic, payload, durable);
		if (!added.ok) {
			this.#ports.log.log('warn', 'outbox.refused', { topic, code: added.error.code });
			return added;
		}
		if (this.#canWrite()) this.#pump([]);
		return ok(added.value.seq);
	}

	/** Takes back a queued QoS 1 message that has not gone out yet; false once it is on the wire. */
	withdraw(seq: number): boolean {
		return this.outbox.withdraw(seq);
	}

	// ---- supervisor -------------------------------------------------------

	#dispatch(e: LinkEvent): void {
		// a socket port may report from inside open(): run to completion, one step at a time
		this.#events.push(e);
		if (this.#dispatching) return;
		this.#dispatching = true;
		try {
			for (let next = this.#events.shift(); next; next = this.#events.shift()) this.#step(next);
		} finally {
			this.#dispatching = false;
			this.#events.length = 0;
		}
	}

	#step(e: LinkEvent): void {
		const next = step(this.#state, e, this.#opts.timing);
		if (!next) return;
		const from = this.#state.value;
		this.#state = next.state;
		if (from !== next.state.value) {
			const fields: Record<string, string | number | boolean> = { from, to: next.state.value };
			if (e.type === 'lost') {
				fields.reason = e.reason;
				this.#lastError = e.reason;
			}
			this.#ports.log.log(e.type === 'lost' ? 'warn' : 'info', 'link.state', fields);
		}
		for (const fx of next.effects) this.#perform(fx);
		for (const l of this.#listeners) l.state?.(this.#state);
	}

	#perform(fx: LinkEffect): void {
		switch (fx.type) {
			case 'open':
				return this.#open();
			case 'disconnect':
				// written before the close that follows; the socket port sends what was written before it closes
				this.#ports.log.log('info', 'link.disconnect', { clientId: this.#opts.clientId });
				return this.#write([{ type: 'disconnect' }]);
			case 'close':
				return this.#close();
			case 'schedule': {
				const ms = backoffDelay(this.#opts.backoff, fx.attempt, this.#ports.random.random());
				this.#ports.log.log('info', 'link.backoff', { attempt: fx.attempt, ms });
				this.#clearTimer();
				this.#timer = this.#ports.timers.set(() => {
					this.#timer = undefined;
					this.#dispatch({ type: 'retry' });
				}, ms);
				return;
			}
			case 'cancel':
				return this.#clearTimer();
			case 'online': {
				this.#connects++;
				const times = this.#connackTimes;
				times.push(this.#ports.clock.monotonic());
				if (times.length > this.#opts.timing.flapsToWarn + 1) times.shift();
				this.#ports.log.log('info', 'link.online', { sessionPresent: fx.sessionPresent, outbox: this.outbox.size });
				return;
			}
			case 'offline':
				return;
			case 'flapping': {
				// the signature of a takeover: another client with this id connects, the broker drops us, we take it back
				const times = this.#connackTimes;
				const spanMs = times.length > 1 ? times[times.length - 1]! - times[0]! : 0;
				const perMinute = spanMs > 0 ? Math.round(((times.length - 1) * 60_000 * 10) / spanMs) / 10 : 0;
				this.#ports.log.log('warn', 'link.takeover_suspected', {
					clientId: this.#opts.clientId,
					shortConnections: fx.flaps,
					lastUpMs: fx.upMs,
					connectsPerMinute: perMinute,
					minConnectedMs: this.#opts.timing.minConnectedMs,
				});
				return;
			}
			default:
				return assertNever(fx);
		}
	}

	#clearTimer(): void {
		if (this.#timer !== undefined) this.#ports.timers.clear(this.#timer);
		this.#timer = undefined;
	}

	// ---- socket -----------------------------------------------------------

	#open(): void {
		const generation = ++this.#generation;
		this.#reader = new PacketReader(this.#opts.maxPacket);
		this.#writable = false;
		const stale = () => generation !== this.#generation;
		/** Whether open() has returned; `connected` may come before it does. */
		let opened = false;
		let gone = false;
		this.#clearTimer();
		// one timer covers TCP, TLS and CONNACK: whichever hangs, the attempt ends
		this.#timer = this.#ports.timers.set(() => {
			this.#timer = undefined;
			if (!stale()) this.#lost('no CONNACK within ' + this.#opts.connectTimeoutMs + ' ms');
		}, this.#opts.connectTimeoutMs);
		const socket = this.#ports.socket.open(this.#opts.endpoint, {
			connected: () => {
				if (stale()) return;
				this.#writable = true;
				if (opened) this.#sendOpening();
			},
			data: (bytes) => {
				if (!stale()) this.#received(bytes);
			},
			closed: (error) => {
				if (stale()) return;
				gone = true;
				this.#socket = undefined;
				this.#writable = false;
				this.#lost(error ? 'socket: ' + error : 'closed by peer');
			},
		});
		opened = true;
		if (gone) return; // closed inside open(): keep no dead socket
		this.#socket = socket;
		if (this.#writable) this.#sendOpening();
	}

	#close(): void {
		this.#generation++;
		this.#writable = false;
		this.#stopKeepAlive();
		this.#clearTimer();
		const s = this.#socket;
		this.#socket = undefined;
		this.#reader = undefined;
		this.#pendingSub.clear();
		s?.close();
	}

	#lost(reason: string): void {
		this.#dispatch({ type: 'lost', reason, at: this.#ports.clock.monotonic() });
	}

	#canWrite(): boolean {
		return this.#writable && this.#socket !== undefined;
	}

	/** Encodes packets back to back into one buffer and writes it once: one TLS record, one segment. */
	#write(packets: readonly Packet[]): void {
		if (!this.#canWrite() || packets.length === 0) return;
		let total = 0;
		for (const p of packets) total += packetSize(p);
		const out = new Uint8Array(total);
		let at = 0;
		for (const p of packets) at += encodeInto(p, out.subarray(at));
		this.#lastWrite = this.#ports.clock.monotonic();
		this.#socket!.write(out);
	}

	#sendOpening(): void {
		const will = this.#opts.will;
		const packets: Packet[] = [{ type: 'connect', clientId: this.#opts.clientId, cleanSession: false, keepAlive: this.#opts.keepAlive, ...(will ? { will } : {}) }];
		const filters = [...this.#subs.keys()];
		for (const f of filters) this.#subs.get(f)!.status = 'pending';
		// AWS IoT takes at most 8 filters in one SUBSCRIBE
		for (let i = 0; i < filters.length; i += MAX_FILTERS_PER_SUBSCRIBE) {
			const chunk = filters.slice(i, i + MAX_FILTERS_PER_SUBSCRIBE);
			const packetId = this.#allocateId();
			this.#pendingSub.set(packetId, chunk);
			packets.push({ type: 'subscribe', packetId, subscriptions: chunk.map((topic) => ({ topic, qos: this.#subs.get(topic)!.qos })) });
		}
		this.#pump(packets, true);
	}

	/**
	 * Sends what the window allows: on a new connection every unacknowledged entry
	 * again (DUP, old id), then entries never sent, up to maxInflight in flight.
	 */
	#pump(packets: Packet[], reconnect = false): void {
		let inflight = 0;
		for (const e of this.outbox.entries()) if (e.packetId !== 0) inflight++;
		for (const e of this.outbox.entries()) {
			if (e.packetId !== 0) {
				if (reconnect) packets.push(this.#publishOf(e, true));
				continue;
			}
			if (inflight >= this.#opts.maxInflight) continue;
			this.outbox.assign(e, this.#allocateId());
			packets.push(this.#publishOf(e, false));
			inflight++;
		}
		this.#write(packets);
	}

	#publishOf(e: OutboxEntry, dup: boolean): Publish {
		return { type: 'publish', topic: e.topic, payload: e.payload, qos: 1, retain: false, dup, packetId: e.packetId };
	}

	/** Next packet id not held by an outbox entry or a pending SUBSCRIBE [MQTT-2.3.1-2]. */
	#allocateId(): number {
		for (let tries = 0; tries < 0x10000; tries++) {
			const id = this.#nextId;
			this.#nextId = id === 0xffff ? 1 : id + 1;
			if (this.#pendingSub.has(id)) continue;
			if (this.outbox.entries().some((e) => e.packetId === id)) continue;
			return id;
		}
		throw new Error('no free packet id');
	}

	// ---- inbound ----------------------------------------------------------

	#received(bytes: Uint8Array): void {
		const r = this.#reader!.push(bytes);
		if (!r.ok) {
			this.#ports.log.log('error', 'mqtt.bad_frame', { rule: r.rule, message: r.message });
			this.#lost('bad frame: ' + r.message + ' [' + r.rule + ']');
			return;
		}
		this.#pingSentAt = undefined;
		this.#lastRead = this.#ports.clock.monotonic();
		const generation = this.#generation;
		for (const p of r.packets) {
			if (generation !== this.#generation) return; // a packet closed the link
			this.#handle(p);
		}
	}

	#handle(p: Packet): void {
		const log = this.#ports.log;
		switch (p.type) {
			case 'connack':
				if (this.#state.value !== 'connecting') return this.#protocolError('CONNACK after CONNACK [MQTT-3.2.0-1]');
				if (p.returnCode !== 0) {
					const reason = CONNACK_REASON[p.returnCode] ?? 'code ' + p.returnCode;
					log.log('error', 'mqtt.refused', { code: p.returnCode, reason });
					return this.#lost('connection refused: ' + reason);
				}
				this.#clearTimer();
				this.#startKeepAlive();
				this.#dispatch({ type: 'connack', sessionPresent: p.sessionPresent, at: this.#ports.clock.monotonic() });
				return;
			case 'puback': {
				const e = this.outbox.acknowledge(p.packetId);
				if (!e) {
					log.log('debug', 'mqtt.puback_unknown', { packetId: p.packetId });
					return;
				}
				for (const l of this.#listeners) l.delivered?.(e.seq, e.topic);
				this.#pump([]);
				return;
			}
			case 'suback': {
				const filters = this.#pendingSub.get(p.packetId);
				if (!filters) return log.log('debug', 'mqtt.suback_unknown', { packetId: p.packetId });
				this.#pendingSub.delete(p.packetId);
				if (filters.length !== p.granted.length) return this.#protocolError('SUBACK with ' + p.granted.length + ' codes for ' + filters.length + ' filters [MQTT-3.9.3-1]');
				filters.forEach((f, i) => {
					const g = p.granted[i]!;
					const sub = this.#subs.get(f);
					if (sub) sub.status = g === SUBACK_FAILURE ? 'refused' : 'granted';
					if (g === SUBACK_FAILURE) log.log('error', 'mqtt.subscribe_refused', { filter: f });
					for (const l of this.#listeners) l.subscription?.(f, g);
				});
				return;
			}
			case 'unsuback':
				this.#pendingSub.delete(p.packetId);
				return;
			case 'publish':
				return this.#deliver(p);
			case 'pingresp':
				return;
			default:
				// CONNECT, SUBSCRIBE, PINGREQ... are client-to-server only; QoS 2 flows are never asked for
				return this.#protocolError(p.type.toUpperCase() + ' is not sent to a client at the QoS we use');
		}
	}

	#protocolError(message: string): void {
		this.#ports.log.log('error', 'mqtt.protocol_error', { message });
		this.#lost('protocol error: ' + message);
	}

	#deliver(p: Publish): void {
		if (p.qos === 2) return this.#protocolError('QoS 2 PUBLISH on a QoS 1 subscription [MQTT-3.8.4-6]');
		const m: Message = { topic: p.topic, payload: p.payload, qos: p.qos, dup: p.dup, retain: p.retain };
		const handlers: MessageHandler[] = [];
		for (const [filter, sub] of this.#subs) if (topicMatches(filter, p.topic)) handlers.push(sub.handler);
		const generation = this.#generation;
		// handlers run one message at a time, so PUBACKs leave in arrival order
		this.#inbound = this.#inbound.then(async () => {
			for (const h of handlers) {
				// acknowledged even when the handler fails: a message its handler cannot take would come back forever
				const failure = await this.#runHandler(h, m);
				if (failure) this.#ports.log.log('error', 'link.handler_failed', { topic: p.topic, error: failure });
			}
			if (handlers.length === 0) this.#ports.log.log('warn', 'link.unrouted', { topic: p.topic });
			// after a reconnect the broker resends it: an ack on the new socket would name an id it never used there
			if (p.qos === 1 && generation === this.#generation) this.#write([{ type: 'puback', packetId: p.packetId! }]);
		}).catch((e: unknown) => {
			// the chain must stay usable for the next message, and a rejection would abort XS
			this.#ports.log.log('error', 'link.inbound_failed', { topic: p.topic, error: String((e as Error)?.message ?? e) });
		});
	}

	/** Runs one handler; resolves to a failure text, or undefined. A handler that hangs is given up on after handlerTimeoutMs. */
	#runHandler(h: MessageHandler, m: Message): Promise<string | undefined> {
		return new Promise((resolve) => {
			const timer = this.#ports.timers.set(() => resolve('no result within ' + this.#opts.handlerTimeoutMs + ' ms'), this.#opts.handlerTimeoutMs);
			const done = (failure: string | undefined) => {
				this.#ports.timers.clear(timer);
				resolve(failure);
			};
			try {
				Promise.resolve(h(m)).then(() => done(undefined), (e: unknown) => done(String((e as Error)?.message ?? e)));
			} catch (e) {
				done(String((e as Error)?.message ?? e));
			}
		});
	}

	// ---- keep-alive -------------------------------------------------------

	#startKeepAlive(): void {
		this.#stopKeepAlive();
		this.#lastRead = this.#ports.clock.monotonic();
		const period = Math.max(250, Math.min(this.#opts.keepAlive * 1000, this.#opts.pingTimeoutMs) / 4);
		const tick = () => {
			this.#keepAliveTimer = this.#ports.timers.set(tick, period);
			const now = this.#ports.clock.monotonic();
			if (this.#pingSentAt !== undefined) {
				if (now - this.#pingSentAt >= this.#opts.pingTimeoutMs) this.#lost('no PINGRESP within ' + this.#opts.pingTimeoutMs + ' ms');
				return;
			}
			// silence in either direction: a steady stream of QoS 0 writes must not hide a half-open link
			const idle = this.#opts.keepAlive * 1000;
			if (now - this.#lastWrite >= idle || now - this.#lastRead >= idle) {
				this.#write([{ type: 'pingreq' }]);
				this.#pingSentAt = now;
			}
		};
		this.#keepAliveTimer = this.#ports.timers.set(tick, period);
	}

	#stopKeepAlive(): void {
		if (this.#keepAliveTimer !== undefined) this.#ports.timers.clear(this.#keepAliveTimer);
		this.#keepAliveTimer = undefined;
		this.#pingSentAt = undefined;
	}
}
