/* Full-jitter backoff: delay = floor(r * min(cap, base * 2^(attempt-1))). */
import * as assert from '../testing/assert';
import { DEFAULT_BACKOFF, backoffDelay, checkBackoff, spreadWindowMs } from './backoff';

describe('backoff', () => {
	const p = { baseMs: 1000, capMs: 10_000 };

	/** [attempt, r, delay] */
	const ROWS: readonly (readonly [number, number, number])[] = [
		[1, 0, 0],
		[1, 0.5, 500],
		[1, 0.9999, 999],
		[2, 0.5, 1000],
		[3, 0.5, 2000],
		[4, 0.5, 4000],
		[4, 0.75, 6000],
		[5, 0.5, 5000], // 16 s window capped at 10 s
		[5, 0.9999, 9999],
		[40, 0.5, 5000],
		[1_000_000, 0.5, 5000], // 2^huge must not overflow to Infinity * 0 = NaN
	];
	for (const [attempt, r, want] of ROWS) {
		it('attempt ' + attempt + ', r ' + r + ' -> ' + want + ' ms', () => {
			assert.equal(backoffDelay(p, attempt, r), want);
		});
	}

	it('stays below the window for every attempt and never goes negative', () => {
		for (let attempt = 1; attempt < 64; attempt++) {
			const window = Math.min(p.capMs, p.baseMs * 2 ** (attempt - 1));
			const hi = backoffDelay(p, attempt, 0.999_999);
			assert.ok(hi >= 0 && hi < window, 'attempt ' + attempt + ': ' + hi);
			assert.equal(backoffDelay(p, attempt, 0), 0);
		}
	});

	it('the default policy is valid, frozen and caps at two minutes', () => {
		assert.equal(checkBackoff(DEFAULT_BACKOFF), DEFAULT_BACKOFF);
		assert.ok(Object.isFrozen(DEFAULT_BACKOFF));
		assert.equal(backoffDelay(DEFAULT_BACKOFF, 30, 0.5), 60_000);
	});

	it('checkBackoff refuses a zero base or a cap below the base, naming "backoff"', () => {
		assert.throws(() => checkBackoff({ baseMs: 0, capMs: 10 }), /"backoff" expected 0 < baseMs <= capMs/);
		assert.throws(() => checkBackoff({ baseMs: 100, capMs: 10 }), /"backoff"/);
		assert.throws(() => checkBackoff({ baseMs: NaN, capMs: 10 }), /"backoff"/);
		assert.equal(checkBackoff({ baseMs: 10, capMs: 10 }).capMs, 10);
	});

	describe('fleet spread', () => {
		const f = { baseMs: 1000, capMs: 120_000, spread: { windowMs: 5_000_000, afterAttempts: 3 } };
		/** [attempt, r, delay]: quick windows 1, 2, 4 s, then 5,000 s doubling twice (the cap does not cut it). */
		const SPREAD: readonly (readonly [number, number, number])[] = [
			[1, 0.5, 500],
			[3, 0.5, 2000],
			[4, 0.5, 2_500_000],
			[5, 0.5, 5_000_000],
			[6, 0.25, 5_000_000],
			[7, 0.5, 10_000_000],
			[1_000_000, 0.5, 10_000_000],
		];
		for (const [attempt, r, want] of SPREAD) it('attempt ' + attempt + ', r ' + r + ' -> ' + want + ' ms', () => assert.equal(backoffDelay(f, attempt, r), want));

		it('the window for two million robots at 500 connects/s is 5,000 s', () => {
			assert.equal(spreadWindowMs(2_000_000, 500), 5_000_000);
			assert.throws(() => spreadWindowMs(0, 500), /"robots"/);
		});

		it('checkBackoff refuses a spread it cannot use, naming "backoff.spread"', () => {
			assert.throws(() => checkBackoff({ baseMs: 1000, capMs: 2000, spread: { windowMs: 10, afterAttempts: 1 } }), /"backoff.spread"/);
			assert.throws(() => checkBackoff({ baseMs: 1000, capMs: 2000, spread: { windowMs: 5000, afterAttempts: 0 } }), /"backoff.spread"/);
			assert.equal(checkBackoff(f), f);
		});
	});
});
