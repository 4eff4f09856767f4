import * as assert from '../testing/assert';
import { fakeTime } from '../testing/fakes';
import { Periodic, Timeout } from './timers';

describe('Timeout (core/util/timers.ts)', () => {
	it('calls once, ms from set; pending until then', () => {
		const time = fakeTime(0);
		const t = new Timeout(time.timers);
		const at: number[] = [];
		assert.equal(t.pending, false);
		t.set(() => at.push(time.now()), 100);
		assert.equal(t.pending, true);
		time.advance(99);
		assert.deepEqual(at, []);
		time.advance(500);
		assert.deepEqual(at, [100]);
		assert.equal(t.pending, false);
	});

	it('a set replaces the call pending; clear drops it', () => {
		const time = fakeTime(0);
		const t = new Timeout(time.timers);
		const calls: string[] = [];
		t.set(() => calls.push('a'), 100);
		time.advance(50);
		t.set(() => calls.push('b'), 100);
		time.advance(100);
		assert.deepEqual(calls, ['b']);
		t.set(() => calls.push('c'), 0);
		t.clear();
		assert.equal(t.pending, false);
		time.advance(1000);
		assert.deepEqual(calls, ['b']);
	});

	it('a call may set the next one (not pending while it runs)', () => {
		const time = fakeTime(0);
		const t = new Timeout(time.timers);
		const seen: boolean[] = [];
		const again = () => {
			seen.push(t.pending);
			if (seen.length < 3) t.set(again, 10);
		};
		t.set(again, 10);
		time.advance(100);
		assert.deepEqual(seen, [false, false, false]);
		assert.equal(t.pending, false);
	});

	it('refuses a delay that is not a finite number >= 0, and a fn that is not a function', () => {
		const t = new Timeout(fakeTime(0).timers);
		for (const ms of [-1, Number.NaN, Infinity]) assert.throws(() => t.set(() => undefined, ms), /"ms" expected a finite number >= 0/);
		assert.throws(() => t.set(undefined as unknown as () => void, 10), /"fn" expected a function/);
		assert.equal(t.pending, false);
	});
});

describe('Periodic (core/util/timers.ts)', () => {
	it('calls every ms from start, the first call one period after it, until stop', () => {
		const time = fakeTime(0);
		const p = new Periodic(time.timers);
		const at: number[] = [];
		p.start(() => at.push(time.now()), 100);
		assert.equal(p.running, true);
		time.advance(99);
		assert.deepEqual(at, []);
		time.advance(251);
		assert.deepEqual(at, [100, 200, 300]);
		p.stop();
		assert.equal(p.running, false);
		time.advance(1000);
		assert.deepEqual(at, [100, 200, 300]);
	});

	it('a second start replaces the beat: one timer, the new period', () => {
		const time = fakeTime(0);
		const p = new Periodic(time.timers);
		const calls: string[] = [];
		p.start(() => calls.push('a'), 100);
		time.advance(50);
		p.start(() => calls.push('b'), 30);
		time.advance(100);
		assert.deepEqual(calls, ['b', 'b', 'b']);
	});

	it('goes on when fn throws; stop from inside fn ends it', () => {
		const time = fakeTime(0);
		const p = new Periodic(time.timers);
		let n = 0;
		p.start(() => {
			n++;
			if (n === 1) throw new Error('boom');
			if (n === 3) p.stop();
		}, 10);
		assert.throws(() => time.advance(10), /boom/);
		time.advance(100);
		assert.equal(n, 3);
		assert.equal(p.running, false);
	});

	it('refuses a period that is not a finite number > 0, and a fn that is not a function', () => {
		const p = new Periodic(fakeTime(0).timers);
		for (const ms of [0, -1, Number.NaN, Infinity]) assert.throws(() => p.start(() => undefined, ms), /"ms" expected a finite number > 0/);
		assert.throws(() => p.start(undefined as unknown as () => void, 10), /"fn" expected a function/);
		assert.equal(p.running, false);
	});
});
