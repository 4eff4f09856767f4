/*
 * nextRun across DST in both hemispheres: a start the clocks skip runs at the jump, a start
 * that happens twice runs once (the first time), weekly entries wait for their day.
 */
import * as assert from '../testing/assert';
import type { Day, Entry, Schedule } from './model';
import { nextRun } from './next';

const at = (y: number, mo: number, d: number, h = 0, mi = 0): number => Date.UTC(y, mo - 1, d, h, mi);
const ALL: Day[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const daily = (id: string, start: string, more: Partial<Entry> = {}): Entry => ({ id, days: ALL, start, enabled: true, ...more });

/** Follows nextRun from `from`, `n` times: the missions a robot would start. */
function runs(s: Schedule, from: number, n: number): [string, string][] {
	const out: [string, string][] = [];
	let after = from;
	for (let i = 0; i < n; i++) {
		const r = nextRun(s, after);
		if (r === undefined) break;
		out.push([new Date(r.utcMs).toISOString().slice(0, 16), r.entryId]);
		after = r.utcMs;
	}
	return out;
}

describe('nextRun', () => {
	it('New York spring forward: 01:30 as usual, 02:30 at the jump (03:00 EDT)', () => {
		const s: Schedule = { tz: 'EST5EDT,M3.2.0,M11.1.0', entries: [daily('b', '02:30'), daily('a', '01:30')] };
		assert.deepEqual(runs(s, at(2027, 3, 13, 12), 4), [
			['2027-03-14T06:30', 'a'], // 01:30 EST
			['2027-03-14T07:00', 'b'], // 02:30 does not exist: 03:00 EDT
			['2027-03-15T05:30', 'a'], // 01:30 EDT
			['2027-03-15T06:30', 'b'],
		]);
	});

	it('New York fall back: 01:30 runs once, at its first occurrence', () => {
		const s: Schedule = { tz: 'EST5EDT,M3.2.0,M11.1.0', entries: [daily('a', '01:30'), daily('b', '02:30')] };
		assert.deepEqual(runs(s, at(2027, 11, 6, 12), 4), [
			['2027-11-07T05:30', 'a'], // 01:30 EDT; 01:30 EST (06:30Z) is skipped
			['2027-11-07T07:30', 'b'], // 02:30 EST
			['2027-11-08T06:30', 'a'],
			['2027-11-08T07:30', 'b'],
		]);
	});

	it('Sydney (southern hemisphere): gap in October, overlap in April', () => {
		const s: Schedule = { tz: 'AEST-10AEDT,M10.1.0,M4.1.0/3', entries: [daily('night', '02:30')] };
		assert.deepEqual(runs(s, at(2027, 10, 2, 0), 2), [
			['2027-10-02T16:00', 'night'], // Oct 3 02:30 AEST does not exist: 03:00 AEDT
			['2027-10-03T15:30', 'night'], // Oct 4 02:30 AEDT
		]);
		assert.deepEqual(runs(s, at(2027, 4, 3, 0), 2), [
			['2027-04-03T15:30', 'night'], // Apr 4 02:30 AEDT, first of two
			['2027-04-04T16:30', 'night'], // Apr 5 02:30 AEST
		]);
	});

	it('Santiago: transitions at midnight move Saturday night and Sunday morning starts', () => {
		const s: Schedule = {
			tz: '<-04>4<-03>,M9.1.6/24,M4.1.6/24',
			entries: [
				{ id: 'sat', days: ['sat'], start: '23:30', enabled: true },
				{ id: 'sun', days: ['sun'], start: '00:30', enabled: true },
			],
		};
		assert.deepEqual(runs(s, at(2027, 4, 3, 12), 2), [
			['2027-04-04T02:30', 'sat'], // Sat 23:30 -03, first of two
			['2027-04-04T04:30', 'sun'], // Sun 00:30 -04
		]);
		assert.deepEqual(runs(s, at(2027, 9, 4, 12), 2), [
			['2027-09-05T03:30', 'sat'], // Sat 23:30 -04
			['2027-09-05T04:00', 'sun'], // Sun 00:30 does not exist: 01:00 -03
		]);
	});

	it('a weekly entry waits for its day, across a DST change, strictly after `after`', () => {
		const s: Schedule = { tz: 'CET-1CEST,M3.5.0,M10.5.0/3', entries: [{ id: 'sunday', days: ['sun'], start: '10:00', enabled: true }] };
		assert.deepEqual(nextRun(s, at(2027, 3, 21, 9)), { utcMs: at(2027, 3, 28, 8), entryId: 'sunday' });
		assert.deepEqual(nextRun(s, at(2027, 3, 21, 9) - 0.5), { utcMs: at(2027, 3, 21, 9), entryId: 'sunday' });
		assert.deepEqual(nextRun(s, at(2027, 3, 28, 8)), { utcMs: at(2027, 4, 4, 8), entryId: 'sunday' });
	});

	it('crosses the year and the week edges', () => {
		const utc: Schedule = { tz: 'UTC0', entries: [daily('midnight', '00:00')] };
		assert.deepEqual(nextRun(utc, at(2027, 12, 31, 0)), { utcMs: at(2028, 1, 1), entryId: 'midnight' });
		const auckland: Schedule = { tz: 'NZST-12NZDT,M9.5.0,M4.1.0/3', entries: [{ id: 'fri', days: ['fri'], start: '23:00', enabled: true }] };
		// Fri Dec 31 2027 23:00 NZDT is 10:00Z that day; from just after it, the next is Jan 7 2028
		assert.deepEqual(nextRun(auckland, at(2027, 12, 31, 10)), { utcMs: at(2028, 1, 7, 10), entryId: 'fri' });
	});

	it('starts skipped into the same jump run once, named by the entry listed first', () => {
		const s: Schedule = { tz: 'EST5EDT,M3.2.0,M11.1.0', entries: [daily('late', '02:45'), daily('early', '02:15')] };
		assert.deepEqual(runs(s, at(2027, 3, 14, 0), 3), [
			['2027-03-14T07:00', 'late'],
			['2027-03-15T06:15', 'early'],
			['2027-03-15T06:45', 'late'],
		]);
	});

	it('skips disabled entries; nothing enabled means no run', () => {
		const s: Schedule = { tz: 'UTC0', entries: [daily('off', '01:00', { enabled: false }), daily('on', '02:00')] };
		assert.deepEqual(nextRun(s, at(2027, 6, 1)), { utcMs: at(2027, 6, 1, 2), entryId: 'on' });
		assert.equal(nextRun({ tz: 'UTC0', entries: [daily('off', '01:00', { enabled: false })] }, at(2027, 6, 1)), undefined);
		assert.equal(nextRun({ tz: 'UTC0', entries: [] }, at(2027, 6, 1)), undefined);
	});

	it('refuses an unvalidated schedule or a bad instant', () => {
		assert.throws(() => nextRun({ tz: 'nowhere', entries: [] }, 0), /"schedule" expected a validated schedule: TZ "nowhere"/);
		assert.throws(() => nextRun({ tz: 'UTC0', entries: [] }, Infinity), /"afterUtcMs" expected a finite number/);
	});
});
