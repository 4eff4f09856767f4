/*
 * The SNTP clock setter (../sntp.ts) inside XS over the fake `sntp`, `time` and `timer`
 * (fakes/): hosts tried in order through sntp's own callback, the clock set on an answer,
 * a backoff after every host failed, a refresh after a success, stop() at any point.
 */
import * as assert from '../../../core/testing/assert';
import { memoryLog } from '../../../core/testing/fakes';
import { startSntp } from '../sntp';
import { loop } from './fakes/loop';
import { sntpFake } from './fakes/sntp';
import { timeFake } from './fakes/time';

describe('moddable SNTP adapter over sntp', () => {
	beforeEach(() => {
		loop.reset();
		timeFake.reset();
		sntpFake.reset();
	});

	it('sets the clock from the first host that answers, tells onTime, and syncs again after refreshMs', () => {
		const times: number[] = [];
		const log = memoryLog();
		const h = startSntp({ hosts: ['a.pool', 'b.pool'], log, onTime: (s) => times.push(s), refreshMs: 60_000 });
		const s = sntpFake.last;
		s.resolved(true);
		loop.advance(5000); // one retry from sntp itself: nothing to do
		s.answer(1_800_000_000);
		assert.deepEqual(timeFake.sets, [1_800_000_000]);
		assert.deepEqual(times, [1_800_000_000]);
		assert.equal(sntpFake.all.length, 1);
		loop.advance(60_000);
		assert.equal(sntpFake.all.length, 2, 'a new round after refreshMs');
		assert.deepEqual(sntpFake.last.hosts, ['a.pool']);
		h.stop();
	});

	it('hands sntp the next host when one fails (unresolvable, or no answer after five tries), in order', () => {
		const log = memoryLog();
		const h = startSntp({ hosts: ['bad.invalid', 'slow.pool', 'good.pool'], log });
		const s = sntpFake.last;
		s.resolved(false); // cannot resolve: the callback answers the next host
		assert.equal(s.host, 'slow.pool');
		s.resolved(true);
		loop.advance(25_000); // 4 retries, then "no response"
		assert.equal(s.host, 'good.pool');
		assert.deepEqual(s.hosts, ['bad.invalid', 'slow.pool', 'good.pool']);
		s.resolved(true);
		s.answer(1_800_000_123);
		assert.deepEqual(timeFake.sets, [1_800_000_123]);
		assert.equal(sntpFake.all.length, 1, 'one sntp instance walked all three hosts');
		h.stop();
	});

	it('after every host failed it waits a backoff (at least 1 s, at most the cap) and starts over from the first', () => {
		const log = memoryLog();
		const h = startSntp({ hosts: ['a', 'b'], log, retry: { baseMs: 30_000, capMs: 60_000 } });
		sntpFake.last.resolved(false);
		sntpFake.last.resolved(false);
		assert.equal(sntpFake.last.state, 'closed', 'sntp closes itself when no host is returned');
		assert.equal(sntpFake.all.length, 1);
		loop.advance(60_000);
		assert.equal(sntpFake.all.length, 2, 'a new round within the cap');
		assert.deepEqual(sntpFake.last.hosts, ['a']);
		h.stop();
	});

	it('a UDP socket that cannot be made (no network yet) is retried later, not thrown', () => {
		sntpFake.failNextConstruct = 'socket: no interface';
		const h = startSntp({ hosts: ['a'], log: memoryLog(), retry: { baseMs: 1000, capMs: 2000 } });
		assert.equal(sntpFake.all.length, 0);
		loop.advance(2000);
		assert.equal(sntpFake.all.length, 1);
		h.stop();
	});

	it('stop() closes the running request and cancels every timer; a late answer changes nothing', () => {
		const h = startSntp({ hosts: ['a', 'b'], log: memoryLog() });
		const s = sntpFake.last;
		s.resolved(true);
		h.stop();
		assert.equal(s.state, 'closed');
		assert.equal(loop.timers, 0);
		s.state = 'resolving'; // the network answers anyway
		s.resolved(false);
		assert.equal(s.state, 'closed', 'no next host after stop');
		loop.advance(24 * 60 * 60_000);
		assert.equal(sntpFake.all.length, 1);
		assert.deepEqual(timeFake.sets, []);
	});

	it('refuses an empty host list', () => {
		assert.throws(() => startSntp({ hosts: ['', ''], log: memoryLog() }), /"hosts" expected at least one host name/);
	});
});
