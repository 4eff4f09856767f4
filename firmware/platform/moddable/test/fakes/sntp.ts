/*
 * Fake of the SDK's `sntp` (modules/network/sntp/sntp.js), on the shared virtual loop, driven
 * by the test through `sntpFake`. What it keeps from sntp.js (and from tools/sdk-facts.ts on
 * 8.2.3: an unresolvable host is reported as -1 "cannot resolve <host>"):
 * - The constructor makes a UDP socket (which throws when there is no network) and starts
 *   resolving `host` (test: `resolved(true|false)`).
 * - Resolved, it asks and repeats every 5 s: four `retry` (2) messages, then at the fifth tick
 *   `error` (-1) "no response from SNTP server". A failed resolution is `error` at once.
 * - On `error` the callback may return another host: sntp starts over with it (resolving, five
 *   tries); otherwise it closes itself.
 * - An answer (test: `answer(seconds)`) closes the socket FIRST, then calls back `time` (1)
 *   with the seconds since the epoch.
 * - close() clears its timer and closes the socket; closing twice is harmless here.
 */
import { loop } from './loop';

type Callback = (message: number, value?: number | string) => string | undefined | void;

export class SNTP {
	static readonly time = 1;
	static readonly retry = 2;
	static readonly error = -1;
	host: string;
	/** Hosts in the order sntp was pointed at them. */
	readonly hosts: string[] = [];
	state: 'resolving' | 'asking' | 'closed' = 'resolving';
	readonly #callback: Callback;
	#timer: number | undefined;
	#retry = 5;

	constructor(dict: { host: string }, callback: Callback) {
		if (sntpFake.failNextConstruct) {
			const why = sntpFake.failNextConstruct;
			sntpFake.failNextConstruct = undefined;
			throw new Error(why);
		}
		this.#callback = callback;
		this.host = dict.host;
		this.hosts.push(dict.host);
		sntpFake.all.push(this);
	}
	close(): void {
		if (this.#timer !== undefined) loop.remove(this.#timer);
		this.#timer = undefined;
		this.state = 'closed';
	}

	// ---- the network, as the test plays it ----
	/** The name resolved (or not). */
	resolved(ok: boolean): void {
		if (this.state !== 'resolving') throw new Error('fake sntp: not resolving');
		if (!ok) return this.#failed('cannot resolve ' + this.host);
		this.state = 'asking';
		this.#retry = 5;
		this.#timer = loop.add(
			() => {
				if (!--this.#retry) return this.#failed('no response from SNTP server');
				this.#callback(SNTP.retry);
			},
			5000,
			5000,
		);
	}
	/** The server answered. */
	answer(seconds: number): void {
		if (this.state !== 'asking') throw new Error('fake sntp: not asking');
		this.close();
		this.#callback(SNTP.time, seconds);
	}
	#failed(message: string): void {
		if (this.#timer !== undefined) loop.remove(this.#timer);
		this.#timer = undefined;
		const next = this.#callback(SNTP.error, message);
		if (typeof next === 'string' && next) {
			this.host = next;
			this.hosts.push(next);
			this.state = 'resolving';
		} else this.close();
	}
}

export const sntpFake = {
	all: [] as SNTP[],
	failNextConstruct: undefined as string | undefined,
	get last(): SNTP {
		const s = this.all[this.all.length - 1];
		if (!s) throw new Error('no SNTP was made');
		return s;
	},
	reset(): void {
		this.all.length = 0;
		this.failNextConstruct = undefined;
	},
};

export default SNTP;
