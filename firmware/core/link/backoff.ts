/*
 * Full-jitter exponential backoff (the AWS Architecture Blog's "full jitter"):
 * sleep = random(0, min(cap, base * 2^attempt)). Spreads a fleet that lost its
 * broker at the same instant over the whole window instead of in waves.
 */

export interface BackoffPolicy {
	/** First window, ms. */
	readonly baseMs: number;
	/** Largest window, ms. */
	readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 1000, capMs: 120_000 });

export function checkBackoff(p: BackoffPolicy): BackoffPolicy {
	if (!(p.baseMs > 0) || !(p.capMs >= p.baseMs)) throw new RangeError('"backoff" expected 0 < baseMs <= capMs, got ' + p.baseMs + ', ' + p.capMs);
	return p;
}

/** Delay before attempt number `attempt` (1 = the first retry); `r` is uniform in [0, 1). */
export function backoffDelay(p: BackoffPolicy, attempt: number, r: number): number {
	const exp = Math.min(attempt - 1, 30); // 2^30 already passes any sane cap
	const window = Math.min(p.capMs, p.baseMs * 2 ** exp);
	return Math.floor(r * window);
}
