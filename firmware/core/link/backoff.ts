/*
 * Full-jitter exponential backoff (the AWS Architecture Blog's "full jitter"):
 * sleep = random(0, min(cap, base * 2^(attempt-1))). Spreads a fleet that lost its
 * broker at the same instant over the whole window instead of in waves.
 *
 * A fleet spread (`spread`) is for fleets whose size over AWS IoT's account connect
 * limit (500 CONNECT/s by default) is longer than the cap: two million robots come
 * back at 500/s in no less than 67 minutes whatever they do, and with a 2-minute cap
 * they knock about 45,000 times a second meanwhile, 97% of it throttled (bench
 * section `storm`). After `afterAttempts` quick tries (a Wi-Fi blip is over by then)
 * the window jumps to `windowMs`, set to fleet size / (0.8 x the account limit), and
 * doubles from there up to 4x (a long outage): the fleet arrives at about 80% of the limit and is hardly
 * throttled, at the cost of a long wait for a robot that was offline alone.
 */

export interface FleetSpread {
	/** The window after the quick attempts, ms: fleet size / (0.8 * connects per second allowed). */
	readonly windowMs: number;
	/** Attempts in a row that use the ordinary exponential windows first. */
	readonly afterAttempts: number;
}

export interface BackoffPolicy {
	/** First window, ms. */
	readonly baseMs: number;
	/** Largest window of the exponential part, ms (the spread has its own). */
	readonly capMs: number;
	readonly spread?: FleetSpread;
}

/** The spread window doubles at most this many times. */
export const SPREAD_DOUBLINGS = 2;

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 1000, capMs: 120_000 });

/** The spread window for `robots` robots under an account limit of `connectsPerS`, aiming at 80% of it. */
export function spreadWindowMs(robots: number, connectsPerS: number): number {
	if (!(robots >= 1) || !(connectsPerS > 0)) throw new RangeError('"robots" and "connectsPerS" expected positive, got ' + robots + ', ' + connectsPerS);
	return Math.ceil((robots / (0.8 * connectsPerS)) * 1000);
}

export function checkBackoff(p: BackoffPolicy): BackoffPolicy {
	if (!(p.baseMs > 0) || !(p.capMs >= p.baseMs)) throw new RangeError('"backoff" expected 0 < baseMs <= capMs, got ' + p.baseMs + ', ' + p.capMs);
	if (p.spread !== undefined && (!(p.spread.windowMs >= p.baseMs) || !Number.isInteger(p.spread.afterAttempts) || p.spread.afterAttempts < 1))
		throw new RangeError('"backoff.spread" expected windowMs >= baseMs and afterAttempts >= 1, got ' + p.spread.windowMs + ', ' + p.spread.afterAttempts);
	return p;
}

/** Delay before attempt number `attempt` (1 = the first retry); `r` is uniform in [0, 1). */
export function backoffDelay(p: BackoffPolicy, attempt: number, r: number): number {
	const s = p.spread;
	if (s && attempt > s.afterAttempts) {
		// doubling stops at 4x: after an outage hours long the fleet comes back at a quarter of the rate it aimed at
		const exp = Math.min(attempt - 1 - s.afterAttempts, SPREAD_DOUBLINGS);
		return Math.floor(r * s.windowMs * 2 ** exp);
	}
	const exp = Math.min(attempt - 1, 30); // 2^30 already passes any sane cap
	const window = Math.min(p.capMs, p.baseMs * 2 ** exp);
	return Math.floor(r * window);
}
