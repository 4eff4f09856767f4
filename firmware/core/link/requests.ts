/*
 * Request/reply over the link, the one copy the shadow, jobs and map-slot clients share.
 * AWS IoT's device APIs (Device Shadow, Jobs) and our own upload slot all answer a
 * request on a reply topic, matched to it by the `clientToken` the request carried.
 *
 * What a request gets here, whoever sends it:
 * - a fresh client token (a counter and a random part: tokens of a robot that restarted
 *   must not match replies still on their way to its previous life);
 * - a timeout, after which the request is withdrawn from the outbox if it is still queued
 *   (nobody wants it sent any more);
 * - abandonment when the link drops (waiting or offline): its reply is lost with the
 *   session, so waiting out the timeout would only delay the caller;
 * - a result value, never a rejected promise: XS aborts the machine on an unhandled
 *   rejection, and a refusal is data (the reply arrives with `accepted: false`).
 *
 * Replies are routed by the owner's subscription handler through `answer`: the topics
 * differ per API (`/accepted` and `/rejected` for AWS's, an `error` field for the slot).
 */
import type { LogPort, RandomPort, TimerPort } from '../../ports';
import type { LinkError, LinkListener, MessageHandler } from './link';
import type { LinkState } from './machine';
import { err, ok, type Result } from '../util/result';
import { utf8Decode, utf8Encode } from '../util/utf8';

/** What request/reply needs of the link; `Link` has it. */
export interface Messenger {
	readonly state: LinkState;
	subscribe(filter: string, handler: MessageHandler, qos?: 0 | 1): Result<void, LinkError>;
	publish(topic: string, payload: Uint8Array, qos: 0 | 1, durable?: boolean): Result<number, LinkError>;
	withdraw(seq: number): boolean;
	listen(l: LinkListener): () => void;
}

/** The reply a request got: `accepted` false is the service's refusal, its reasons in `body`. */
export interface Reply {
	readonly accepted: boolean;
	readonly body: Record<string, unknown>;
}

export type RequestError =
	| { readonly code: 'timeout' }
	/** The link was down when asked, or went down while waiting. */
	| { readonly code: 'offline' }
	/** The link refused the publish (outbox full, payload too large). */
	| { readonly code: 'link'; readonly error: LinkError };

export interface RequestPorts {
	readonly timers: TimerPort;
	readonly random: RandomPort;
	readonly log: LogPort;
}

export interface RequestOptions {
	/** Log event prefix and the name in messages: `shadow`, `jobs`, `map`. */
	readonly name: string;
	readonly timeoutMs: number;
	/** Prepended to every token (tells apart clients that share a reply topic). */
	readonly tokenPrefix?: string;
}

interface Pending {
	readonly resolve: (r: Result<Reply, RequestError>) => void;
	readonly timer: ReturnType<TimerPort['set']>;
	readonly seq: number;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A message's payload as a JSON object, or undefined for anything else (not UTF-8, not JSON, not an object). */
export function jsonObject(payload: Uint8Array): Record<string, unknown> | undefined {
	const text = utf8Decode(payload);
	if (text === undefined) return undefined;
	try {
		const body: unknown = JSON.parse(text);
		return isObject(body) ? body : undefined;
	} catch {
		return undefined;
	}
}

export class Requests {
	readonly #link: Messenger;
	readonly #ports: RequestPorts;
	readonly #opts: RequestOptions;
	readonly #pending = new Map<string, Pending>();
	#tokens = 0;

	constructor(link: Messenger, ports: RequestPorts, options: RequestOptions) {
		if (!Number.isInteger(options.timeoutMs) || options.timeoutMs < 1) throw new RangeError('"timeoutMs" expected a positive integer, got ' + String(options.timeoutMs));
		this.#link = link;
		this.#ports = ports;
		this.#opts = options;
		link.listen({
			state: (s) => {
				if (s.value === 'waiting' || s.value === 'offline') this.abandon();
			},
		});
	}

	/** Requests in flight. */
	get size(): number {
		return this.#pending.size;
	}

	/**
	 * Publishes `body` with a fresh clientToken on `topic` (QoS 1, not durable) and resolves
	 * with its reply, or why there is none. `op` names the request in logs.
	 */
	send(topic: string, body: Record<string, unknown>, op: string): Promise<Result<Reply, RequestError>> {
		const s = this.#link.state.value;
		// connecting counts: the request rides in the connection's first write
		if (s !== 'connected' && s !== 'connecting') return Promise.resolve(err({ code: 'offline' }));
		const token = (this.#opts.tokenPrefix ?? '') + (++this.#tokens).toString(36) + '-' + Math.floor(this.#ports.random.random() * 0x7fffffff).toString(36);
		const sent = this.#link.publish(topic, utf8Encode(JSON.stringify({ ...body, clientToken: token })), 1, false);
		if (!sent.ok) return Promise.resolve(err(sent.error.code === 'offline' ? { code: 'offline' } : { code: 'link', error: sent.error }));
		return new Promise((resolve) => {
			const timer = this.#ports.timers.set(() => {
				const p = this.#pending.get(token);
				if (!p) return;
				this.#ports.log.log('warn', this.#opts.name + '.timeout', { op, topic, ms: this.#opts.timeoutMs });
				this.#settle(token, p, err({ code: 'timeout' }));
			}, this.#opts.timeoutMs);
			this.#pending.set(token, { resolve, timer, seq: sent.value });
		});
	}

	/**
	 * Settles the request `body.clientToken` names with `body`; false when none waits for it
	 * (another client's reply on a shared topic, or one given up on).
	 */
	answer(body: Record<string, unknown>, accepted: boolean): boolean {
		const token = body.clientToken;
		const p = typeof token === 'string' ? this.#pending.get(token) : undefined;
		if (!p) return false;
		this.#settle(token as string, p, ok({ accepted, body }));
		return true;
	}

	/** Settles every request in flight as offline (the link went down and its replies with it). */
	abandon(): void {
		for (const [token, p] of this.#pending) this.#settle(token, p, err({ code: 'offline' }));
	}

	#settle(token: string, p: Pending, r: Result<Reply, RequestError>): void {
		this.#pending.delete(token);
		this.#ports.timers.clear(p.timer);
		// a request still queued is no longer wanted by anyone
		if (!r.ok || !r.value.accepted) this.#link.withdraw(p.seq);
		p.resolve(r);
	}
}
