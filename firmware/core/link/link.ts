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
import type { ClockPort, LogPort, RandomPort, Socket, SocketOptions, SocketPort, StoragePort, TimerPort } from '../../ports';
import { encodeInto, packetSize } from '../mqtt/codec';
import { CONNACK_REASON, type Packet, type Publish, type Will } from '../mqtt/packet';
import { PacketReader } from '../mqtt/reader';
import { filterError, topicError, topicMatches } from '../mqtt/topic';
import { assertNever, err, ok, type Result } from '../util/result';
import { Periodic, Timeout } from '../util/timers';
import { Runner } from '../util/runner';
import { DEFAULT_BACKOFF, backoffDelay, checkBackoff, type BackoffPolicy } from './backoff';
import { DEFAULT_TIMING, OFFLINE, checkTiming, step, type LinkEffect, type LinkEvent, type LinkState, type LinkTiming } from './machine';
import { DEFAULT_OUTBOX, Outbox, type OutboxError, type OutboxLimits } from './outbox';
import { NEW_SESSION, keepAlivePeriod, sessionStep, type Session, type SessionConfig, type SessionEffect, type SessionEvent, type SubscriptionStatus } from './session';

export { MAX_FILTERS_PER_SUBSCRIBE, type SubscriptionStatus } from './session';

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

export type LinkError = OutboxError | { readonly code: 'offline' } | { readonly code: 'invalid'; readonly message: string };

export interface LinkListener {
	state?(s: LinkState): void;
	/** A queued QoS 1 message got its PUBACK and left the outbox. */
	delivered?(seq: number, topic: string): void;
	/** A SUBACK for `filter`: granted QoS, or SUBACK_FAILURE (0x80). */
	subscription?(filter: string, granted: number): void;
}

export const MAX_INFLIGHT = 8;
/**
 * Writes up to this size are encoded into one buffer kept for the link's life; larger ones
 * (a map chunk) get their own, so a rare big publish does not hold its size in RAM for good.
 * The socket port copies what it keeps (ports.ts), so the buffer is free again when write returns.
 */
const REUSED_BUFFER_MAX = 2048;

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
	// run to completion: a socket port may report from inside open(), an effect may end the connection
	readonly #runner = new Runner<LinkState, LinkEvent, LinkEffect>(OFFLINE, {
		step: (s, e) => step(s, e, this.#opts.timing),
		perform: (fx) => this.#perform(fx),
		entered: (s, from, e) => {
			if (from.value === s.value) return;
			const fields: Record<string, string | number | boolean> = { from: from.value, to: s.value };
			if (e.type === 'lost') {
				fields.reason = e.reason;
				this.#lastError = e.reason;
			}
			this.#ports.log.log(e.type === 'lost' ? 'warn' : 'info', 'link.state', fields);
		},
		settled: (s) => {
			for (const l of this.#listeners) l.state?.(s);
		},
	});
	#socket: Socket | undefined;
	/** Bumped per socket, so callbacks of an old socket can tell they are stale. */
	#generation = 0;
	#reader: PacketReader | undefined;
	/** The socket said `connected`; the session is told once open() has returned too. */
	#writable = false;
	/** The backoff before a retry, or the deadline of a connect attempt. */
	readonly #timer: Timeout;
	readonly #keepAlive: Periodic;
	/** Packet ids, in-flight window, SUBACKs, keep-alive: stepped by session.ts. */
	#session: Session = NEW_SESSION;
	readonly #sessionConfig: SessionConfig;
	#handlers = new Map<string, MessageHandler>();
	#encodeBuffer = new Uint8Array(256);
	#inbound: Promise<void> = Promise.resolve();
	#listeners: LinkListener[] = [];
	/** Events raised while an effect runs wait here, so each step completes before the next. */
	/** Monotonic times of the latest CONNACKs, enough to tell a flapping link's rate. */
	#connackTimes: number[] = [];
	#connects = 0;
	#lastError: string | undefined;

	constructor(ports: LinkPorts, options: LinkOptions) {
		const o = options;
		if (typeof o.clientId !== 'string' || o.clientId.length === 0 || o.clientId.length > 128) throw new RangeError('"clientId" expected 1..128 characters, got ' + JSON.stringify(o.clientId));
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
		this.#timer = new Timeout(ports.timers);
		this.#keepAlive = new Periodic(ports.timers);
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
		this.#sessionConfig = { clientId: o.clientId, keepAlive, pingTimeoutMs: this.#opts.pingTimeoutMs, maxInflight, will: o.will };
	}

	get state(): LinkState {
		return this.#runner.state;
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
		this.#handlers.set(filter, handler);
		this.#sessionEvent({ type: 'subscribe', filter, qos });
		return ok(undefined);
	}

	unsubscribe(filter: string): void {
		if (!this.#handlers.delete(filter)) return;
		this.#sessionEvent({ type: 'unsubscribe', filter });
	}

	subscription(filter: string): SubscriptionStatus | undefined {
		return this.#session.subs.get(filter)?.status;
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
			if (!this.#session.up) return err({ code: 'offline' });
			this.#sessionEvent({ type: 'send', packet: { type: 'publish', topic, payload, qos: 0, retain: false, dup: false } });
			return ok(0);
		}
		const added = this.outbox.add(topic, payload, durable);
		if (!added.ok) {
			this.#ports.log.log('warn', 'outbox.refused', { topic, code: added.error.code });
			return added;
		}
		this.#sessionEvent({ type: 'queued' });
		return ok(added.value.seq);
	}

	/** Takes back a queued QoS 1 message that has not gone out yet; false once it is on the wire. */
	withdraw(seq: number): boolean {
		return this.outbox.withdraw(seq);
	}

	// ---- supervisor -------------------------------------------------------

	#dispatch(e: LinkEvent): void {
		this.#runner.dispatch(e);
	}

	#perform(fx: LinkEffect): void {
		switch (fx.type) {
			case 'open':
				return this.#open();
			case 'disconnect':
				// written before the close that follows; the socket port sends what was written before it closes
				this.#ports.log.log('info', 'link.disconnect', { clientId: this.#opts.clientId });
				return this.#sessionEvent({ type: 'send', packet: { type: 'disconnect' } });
			case 'close':
				return this.#close();
			case 'schedule': {
				const ms = backoffDelay(this.#opts.backoff, fx.attempt, this.#ports.random.random());
				this.#ports.log.log('info', 'link.backoff', { attempt: fx.attempt, ms });
				return this.#timer.set(() => this.#dispatch({ type: 'retry' }), ms);
			}
			case 'cancel':
				return this.#timer.clear();
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

	// ---- socket -----------------------------------------------------------

	#open(): void {
		const generation = ++this.#generation;
		this.#reader = new PacketReader(this.#opts.maxPacket);
		this.#writable = false;
		const stale = () => generation !== this.#generation;
		/** Whether open() has returned; `connected` may come before it does. */
		let opened = false;
		let gone = false;
		// one timer covers TCP, TLS and CONNACK: whichever hangs, the attempt ends
		this.#timer.set(() => {
			if (!stale()) this.#lost('no CONNACK within ' + this.#opts.connectTimeoutMs + ' ms');
		}, this.#opts.connectTimeoutMs);
		const socket = this.#ports.socket.open(this.#opts.endpoint, {
			connected: () => {
				if (stale()) return;
				this.#writable = true;
				if (opened) this.#sessionEvent({ type: 'opened' });
			},
			data: (bytes) => {
				if (!stale()) this.#received(bytes);
			},
			closed: (error) => {
				if (stale()) return;
				gone = true;
				this.#socket = undefined;
				this.#writable = false;
				this.#sessionEvent({ type: 'closed' });
				this.#lost(error ? 'socket: ' + error : 'closed by peer');
			},
		});
		opened = true;
		if (gone) return; // closed inside open(): keep no dead socket
		this.#socket = socket;
		if (this.#writable) this.#sessionEvent({ type: 'opened' });
	}

	#close(): void {
		this.#generation++;
		this.#writable = false;
		this.#keepAlive.stop();
		this.#timer.clear();
		const s = this.#socket;
		this.#socket = undefined;
		this.#reader = undefined;
		this.#sessionEvent({ type: 'closed' });
		s?.close();
	}

	#lost(reason: string): void {
		this.#dispatch({ type: 'lost', reason, at: this.#ports.clock.monotonic() });
	}

	#sessionEvent(e: SessionEvent): void {
		// synchronous: the step's state is in place before its effects call out, so a nested step sees it
		const next = sessionStep(this.#session, e, { now: this.#ports.clock.monotonic(), queue: this.outbox.entries() }, this.#sessionConfig);
		this.#session = next.session;
		for (const fx of next.effects) this.#performSession(fx);
	}

	#performSession(fx: SessionEffect): void {
		switch (fx.type) {
			case 'send':
				return this.#write(fx.packets);
			case 'assign': {
				const entry = this.outbox.entries().find((x) => x.seq === fx.seq);
				if (entry) this.outbox.assign(entry, fx.packetId);
				return;
			}
			case 'acknowledged': {
				const e = this.outbox.acknowledge(fx.packetId);
				if (e) for (const l of this.#listeners) l.delivered?.(e.seq, e.topic);
				return this.#sessionEvent({ type: 'queued' });
			}
			case 'subscription':
				for (const l of this.#listeners) l.subscription?.(fx.filter, fx.granted);
				return;
			case 'lost':
				return this.#lost(fx.reason);
			case 'protocolError':
				return this.#protocolError(fx.message);
			case 'log':
				return this.#ports.log.log(fx.level, fx.event, fx.fields);
			default:
				return assertNever(fx);
		}
	}

	/** Encodes packets back to back and writes them once: one TLS record, one segment. */
	#write(packets: readonly Packet[]): void {
		const socket = this.#socket;
		if (!socket || !this.#writable) return;
		let total = 0;
		for (const p of packets) total += packetSize(p);
		let out = this.#encodeBuffer;
		if (total > out.length) {
			out = new Uint8Array(total <= REUSED_BUFFER_MAX ? Math.min(REUSED_BUFFER_MAX, Math.max(total, out.length * 2)) : total);
			if (out.length <= REUSED_BUFFER_MAX) this.#encodeBuffer = out;
		}
		let at = 0;
		for (const p of packets) at += encodeInto(p, out.subarray(at, total));
		socket.write(out.subarray(0, total));
	}

	// ---- inbound ----------------------------------------------------------

	#received(bytes: Uint8Array): void {
		const r = this.#reader!.push(bytes);
		if (!r.ok) {
			this.#ports.log.log('error', 'mqtt.bad_frame', { rule: r.rule, message: r.message });
			this.#lost('bad frame: ' + r.message + ' [' + r.rule + ']');
			return;
		}
		this.#sessionEvent({ type: 'received' });
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
				if (this.#runner.state.value !== 'connecting') return this.#protocolError('CONNACK after CONNACK [MQTT-3.2.0-1]');
				if (p.returnCode !== 0) {
					const reason = CONNACK_REASON[p.returnCode] ?? 'code ' + p.returnCode;
					log.log('error', 'mqtt.refused', { code: p.returnCode, reason });
					return this.#lost('connection refused: ' + reason);
				}
				this.#timer.clear();
				this.#startKeepAlive();
				this.#dispatch({ type: 'connack', sessionPresent: p.sessionPresent, at: this.#ports.clock.monotonic() });
				return;
			case 'puback':
			case 'suback':
			case 'unsuback':
				return this.#sessionEvent(p);
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
		for (const [filter, handler] of this.#handlers) if (topicMatches(filter, p.topic)) handlers.push(handler);
		const generation = this.#generation;
		// handlers run one message at a time, so PUBACKs leave in arrival order
		this.#inbound = this.#inbound
			.then(async () => {
				for (const h of handlers) {
					// acknowledged even when the handler fails: a message its handler cannot take would come back forever
					const failure = await this.#runHandler(h, m);
					if (failure) this.#ports.log.log('error', 'link.handler_failed', { topic: p.topic, error: failure });
				}
				if (handlers.length === 0) this.#ports.log.log('warn', 'link.unrouted', { topic: p.topic });
				// after a reconnect the broker resends it: an ack on the new socket would name an id it never used there
				if (p.qos === 1 && generation === this.#generation) this.#sessionEvent({ type: 'send', packet: { type: 'puback', packetId: p.packetId! } });
			})
			.catch((e: unknown) => {
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
				Promise.resolve(h(m)).then(
					() => done(undefined),
					(e: unknown) => done(String((e as Error)?.message ?? e)),
				);
			} catch (e) {
				done(String((e as Error)?.message ?? e));
			}
		});
	}

	// ---- keep-alive -------------------------------------------------------

	#startKeepAlive(): void {
		this.#sessionEvent({ type: 'connack' });
		this.#keepAlive.start(() => this.#sessionEvent({ type: 'tick' }), keepAlivePeriod(this.#sessionConfig));
	}
}
