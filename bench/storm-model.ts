/*
 * Reconnect storm model: what a fleet does when the broker goes away for everyone at
 * once and comes back, without opening a socket per robot. Every robot is driven by
 * the firmware's own supervisor machine (firmware/core/link/machine.ts `step`) and
 * backoff (backoff.ts `backoffDelay`) on a simulated clock; only the broker is a model:
 *
 * - down for `outageMs` from t = 0: an attempt fails after `refusedMs` (TCP refused);
 * - then up, with AWS IoT's account limit on CONNECT requests per second (`limitPerS`,
 *   counted per wall-clock second): an attempt over the limit is throttled (the robot
 *   sees its connection closed after `handshakeMs`), the others get their CONNACK
 *   after `handshakeMs`;
 * - optionally a server that completes at most `capacityPerS` handshakes a second, in
 *   order (the local cloud's one process, which is what the 1,000-robot measurement
 *   runs against); an attempt that would wait past `connectTimeoutMs` fails then.
 *
 * Events sit in a calendar queue of 10 ms bins (one pending event per robot), so two
 * million robots fit in memory and run in seconds to minutes; randomness is a seeded
 * generator, so a run is reproducible.
 */
import { backoffDelay, checkBackoff, type BackoffPolicy } from '../firmware/core/link/backoff';
import { seededRandom } from '../firmware/platform/portable/random';
import { DEFAULT_TIMING, step, type LinkEffect, type LinkState, type LinkTiming } from '../firmware/core/link/machine';

export interface StormOptions {
	readonly robots: number;
	readonly policy: BackoffPolicy;
	readonly timing?: LinkTiming;
	/** The broker is down from 0 to this, ms. */
	readonly outageMs: number;
	/** AWS IoT connect requests per second per account; Infinity for none. */
	readonly limitPerS: number;
	/** Handshakes per second the server completes, in order; Infinity for no bound. */
	readonly capacityPerS?: number;
	readonly refusedMs?: number;
	readonly handshakeMs?: number;
	readonly connectTimeoutMs?: number;
	/** Simulated time to stop at, ms. */
	readonly horizonMs: number;
	readonly seed?: number;
}

export interface StormSeries {
	/** Per second from t = 0: CONNECT attempts that reached the broker (after the outage). */
	readonly attempts: number[];
	/** Attempts accepted (a CONNACK follows), counted in the second of the attempt. */
	readonly connects: number[];
	readonly throttled: number[];
	/** Attempts that failed while the broker was down. */
	readonly refused: number[];
}

export interface StormResult {
	readonly robots: number;
	readonly outageMs: number;
	readonly limitPerS: number;
	readonly series: StormSeries;
	readonly peakAttemptsPerS: number;
	readonly peakConnectsPerS: number;
	readonly attemptsTotal: number;
	readonly throttledTotal: number;
	/** From the broker's return to 50%, 99% and all robots connected; undefined if not within the horizon. */
	readonly toHalfMs: number | undefined;
	readonly to99Ms: number | undefined;
	readonly toAllMs: number | undefined;
	readonly connectedAtEnd: number;
	/** Machine steps run: every one is the firmware's `step`. */
	readonly steps: number;
	readonly wallMs: number;
}

const BIN_MS = 10;
const EV_RETRY = 1;
const EV_CONNACK = 2;
const EV_LOST = 3;

export function simulateStorm(o: StormOptions): StormResult {
	if (!Number.isInteger(o.robots) || o.robots < 1 || o.robots > 10_000_000) throw new RangeError('"robots" expected 1..10,000,000, got ' + o.robots);
	if (!(o.outageMs >= 0) || !(o.horizonMs > o.outageMs)) throw new RangeError('"horizonMs" expected > outageMs >= 0, got ' + o.horizonMs + ', ' + o.outageMs);
	if (!(o.limitPerS > 0)) throw new RangeError('"limitPerS" expected > 0, got ' + o.limitPerS);
	checkBackoff(o.policy);
	const wall0 = performance.now();
	const timing = o.timing ?? DEFAULT_TIMING;
	const refusedMs = o.refusedMs ?? 5;
	const handshakeMs = o.handshakeMs ?? 100;
	const connectTimeoutMs = o.connectTimeoutMs ?? 20_000;
	const capacity = o.capacityPerS ?? Infinity;
	// mulberry32, the simulator's generator: small, fast, good enough for jitter
	const jitter = seededRandom(o.seed ?? 1);
	const random = () => jitter.random();
	const n = o.robots;
	const bins = Math.ceil(o.horizonMs / BIN_MS) + 1;
	const seconds = Math.ceil(o.horizonMs / 1000);
	const head = new Int32Array(bins).fill(-1);
	const next = new Int32Array(n);
	const kind = new Uint8Array(n);
	const when = new Float64Array(n);
	const states: LinkState[] = new Array(n);
	const series: StormSeries = {
		attempts: new Array(seconds).fill(0),
		connects: new Array(seconds).fill(0),
		throttled: new Array(seconds).fill(0),
		refused: new Array(seconds).fill(0),
	};
	let steps = 0;
	let connected = 0;
	let attemptsTotal = 0;
	let throttledTotal = 0;
	let serverFree = 0;
	let second = -1;
	let inSecond = 0;
	const marks = { half: undefined as number | undefined, p99: undefined as number | undefined, all: undefined as number | undefined };

	const enqueue = (robot: number, ev: number, t: number): void => {
		if (t >= o.horizonMs) return; // past the end: never happens in this run
		const b = Math.floor(t / BIN_MS);
		kind[robot] = ev;
		when[robot] = t;
		next[robot] = head[b]!;
		head[b] = robot;
	};

	/** Runs the effects of one step the way link.ts does: a schedule becomes a retry after the backoff. */
	const perform = (robot: number, effects: readonly LinkEffect[], t: number): void => {
		for (const fx of effects) {
			if (fx.type === 'schedule') enqueue(robot, EV_RETRY, t + backoffDelay(o.policy, fx.attempt, random()));
			else if (fx.type === 'open') attempt(robot, t);
		}
	};

	const attempt = (robot: number, t: number): void => {
		if (t < o.outageMs) {
			series.refused[Math.floor(t / 1000)]!++;
			enqueue(robot, EV_LOST, t + refusedMs);
			return;
		}
		const s = Math.floor(t / 1000);
		attemptsTotal++;
		series.attempts[s]!++;
		if (s !== second) {
			second = s;
			inSecond = 0;
		}
		if (inSecond >= o.limitPerS) {
			throttledTotal++;
			series.throttled[s]!++;
			enqueue(robot, EV_LOST, t + handshakeMs);
			return;
		}
		inSecond++;
		series.connects[s]!++;
		let done = t + handshakeMs;
		if (capacity !== Infinity) {
			const start = Math.max(t, serverFree);
			serverFree = start + 1000 / capacity;
			done = serverFree + handshakeMs;
			if (done - t > connectTimeoutMs) {
				enqueue(robot, EV_LOST, t + connectTimeoutMs);
				return;
			}
		}
		enqueue(robot, EV_CONNACK, done);
	};

	const apply = (robot: number, t: number): void => {
		const ev = kind[robot];
		const e = ev === EV_RETRY ? ({ type: 'retry' } as const) : ev === EV_CONNACK ? ({ type: 'connack', sessionPresent: true, at: t } as const) : ({ type: 'lost', reason: 'broker', at: t } as const);
		const r = step(states[robot]!, e, timing);
		steps++;
		if (!r) throw new Error('event ' + e.type + ' does not apply in ' + states[robot]!.value);
		states[robot] = r.state;
		if (ev === EV_CONNACK) {
			connected++;
			const since = t - o.outageMs;
			if (marks.half === undefined && connected >= n * 0.5) marks.half = since;
			if (marks.p99 === undefined && connected >= n * 0.99) marks.p99 = since;
			if (marks.all === undefined && connected === n) marks.all = since;
		}
		perform(robot, r.effects, t);
	};

	// every robot has been connected for an hour and loses the broker at t = 0
	const lost = { type: 'lost', reason: 'broker gone', at: 3_600_000 } as const;
	for (let i = 0; i < n; i++) {
		const r = step({ value: 'connected', sessionPresent: true, attempt: 0, flaps: 0, since: 0 }, lost, timing)!;
		steps++;
		states[i] = r.state;
		perform(i, r.effects, 0);
	}
	for (let b = 0; b < bins && connected < n; b++) {
		while (head[b] !== -1) {
			const robot = head[b]!;
			head[b] = next[robot]!;
			apply(robot, when[robot]!);
		}
	}
	const max = (xs: number[]) => xs.reduce((m, x) => (x > m ? x : m), 0);
	return {
		robots: n,
		outageMs: o.outageMs,
		limitPerS: o.limitPerS,
		series,
		peakAttemptsPerS: max(series.attempts),
		peakConnectsPerS: max(series.connects),
		attemptsTotal,
		throttledTotal,
		toHalfMs: marks.half,
		to99Ms: marks.p99,
		toAllMs: marks.all,
		connectedAtEnd: connected,
		steps,
		wallMs: Math.round(performance.now() - wall0),
	};
}
