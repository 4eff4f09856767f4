import * as assert from '../testing/assert';
import { fakeTime } from '../testing/fakes';
import { Periodic } from './periodic';

describe('Periodic (core/util/periodic.ts)', () => {
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
