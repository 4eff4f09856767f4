/*
 * Token bucket: at most `capacity` sends at once, refilled at one token per
 * `refillMs`. Pure: the caller passes the monotonic time, so tests need no timers.
 */

export interface Bucket {
	readonly tokens: number;
	readonly at: number;
}

export interface BucketPolicy {
	readonly capacity: number;
	readonly refillMs: number;
}

export function fullBucket(p: BucketPolicy, now: number): Bucket {
	if (!(p.capacity >= 1) || !(p.refillMs > 0)) throw new RangeError('"bucket" expected capacity >= 1 and refillMs > 0');
	return { tokens: p.capacity, at: now };
}

function refill(p: BucketPolicy, b: Bucket, now: number): Bucket {
	const earned = Math.floor((now - b.at) / p.refillMs);
	if (earned <= 0) return b;
	const tokens = Math.min(p.capacity, b.tokens + earned);
	// keep the remainder of a partly earned token, unless the bucket is full
	return { tokens, at: tokens === p.capacity ? now : b.at + earned * p.refillMs };
}

/** Takes a token if there is one: the new bucket and whether the send may go. */
export function take(p: BucketPolicy, b: Bucket, now: number): { bucket: Bucket; ok: boolean } {
	const r = refill(p, b, now);
	return r.tokens >= 1 ? { bucket: { tokens: r.tokens - 1, at: r.at }, ok: true } : { bucket: r, ok: false };
}
