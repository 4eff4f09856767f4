import * as assert from '../testing/assert';
import { fakeTime, memoryLog, memoryStorage } from '../testing/fakes';
import type { ClockPort } from '../../ports';
import type { Schedule } from './model';
import { readRecord } from '../util/record';
import { utf8Decode } from '../util/utf8';
import { ScheduleRunner, type Due } from './runner';

// 2027-01-04 is a Monday; 00:00 UTC
const MONDAY = Date.UTC(2027, 0, 4);
const H = 3_600_000;
const daily: Schedule = { tz: 'UTC0', entries: [{ id: 'morning', days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '09:00', enabled: true, mode: 'vacuum' }] };

function setup(start: number, options = {}) {
	const time = fakeTime(start);
	let known = true;
	const clock: ClockPort = { now: () => (known ? time.now() : undefined), monotonic: () => time.now() };
	const storage = memoryStorage();
	const log = memoryLog();
	const due: Due[] = [];
	const make = () => new ScheduleRunner({ clock, timers: time.timers, storage, log }, (d) => due.push(d), options);
	return { time, storage, log, due, make, setKnown: (k: boolean) => (known = k) };
}

describe('schedule runner', () => {
	it('fires on time, once per start, from the device clock alone', () => {
		const t = setup(MONDAY + 8 * H);
		t.make().set(daily);
		t.time.advance(H - 1);
		assert.equal(t.due.length, 0);
		t.time.advance(1);
		assert.deepEqual(t.due, [{ entryId: 'morning', at: MONDAY + 9 * H, lateMs: 0, mode: 'vacuum' }]);
		t.time.advance(24 * H);
		assert.equal(t.due.length, 2);
		assert.equal(t.due[1]!.at, MONDAY + 33 * H);
	});

	it('does not run a start twice after a reboot in the same minute', () => {
		const t = setup(MONDAY + 9 * H - 10);
		t.make().set(daily);
		t.time.advance(20);
		assert.equal(t.due.length, 1);
		t.make().set(daily); // reboot: a new runner on the same storage
		t.time.advance(1000);
		assert.equal(t.due.length, 1);
	});

	it('runs a start missed by less than the grace window late, once; older ones are skipped and logged', () => {
		const t = setup(MONDAY + 9 * H + 10 * 60_000, { graceMs: 15 * 60_000 });
		t.make().set(daily);
		assert.deepEqual(
			t.due.map((d) => [d.at, d.lateMs]),
			[[MONDAY + 9 * H, 10 * 60_000]],
		);
		const u = setup(MONDAY + 9 * H + 20 * 60_000, { graceMs: 15 * 60_000 });
		u.make().set(daily);
		assert.equal(u.due.length, 0, 'twenty minutes late is too late');
	});

	it('with the clock unknown starts nothing, says so once, and resumes when the clock is set', () => {
		const t = setup(MONDAY + 8 * H + 59 * 60_000, { maxSleepMs: 60_000, graceMs: 15 * 60_000 });
		t.setKnown(false);
		t.make().set(daily);
		t.time.advance(5 * 60_000); // 09:04, still unknown
		assert.equal(t.due.length, 0);
		assert.equal(t.log.events().filter((e) => e === 'schedule.clock_unknown').length, 1);
		t.setKnown(true); // SNTP answered
		t.time.advance(60_000);
		assert.deepEqual(
			t.due.map((d) => d.at),
			[MONDAY + 9 * H],
			'the 09:00 start runs late, within grace',
		);
	});

	it('a clock jump forward past several starts runs only the newest within grace', () => {
		const time = fakeTime(MONDAY + 8 * H);
		let offset = 0;
		const clock: ClockPort = { now: () => time.now() + offset, monotonic: () => time.now() };
		const due: Due[] = [];
		new ScheduleRunner({ clock, timers: time.timers, storage: memoryStorage(), log: memoryLog() }, (d) => due.push(d), { maxSleepMs: 60_000 }).set(daily);
		offset = 49 * H + 5 * 60_000; // SNTP corrects the clock to Wednesday 09:05
		time.advance(60_000);
		assert.deepEqual(
			due.map((d) => d.at),
			[MONDAY + 57 * H],
			'only Wednesday 09:00, five minutes late',
		);
	});

	it('a disabled entry never fires; an empty schedule sleeps', () => {
		const t = setup(MONDAY);
		t.make().set({ tz: 'UTC0', entries: [{ ...daily.entries[0]!, enabled: false }] });
		t.time.advance(72 * H);
		assert.equal(t.due.length, 0);
	});

	it('follows the local time of its TZ rule across DST', () => {
		// New York: 2027-03-14 the clocks go 02:00 -> 03:00; 09:00 EST is 14:00 UTC, 09:00 EDT 13:00 UTC
		const t = setup(Date.UTC(2027, 2, 13, 12));
		t.make().set({ tz: 'EST5EDT,M3.2.0,M11.1.0', entries: [{ id: 'm', days: ['sat', 'sun'], start: '09:00', enabled: true }] });
		t.time.advance(30 * H);
		assert.deepEqual(
			t.due.map((d) => d.at),
			[Date.UTC(2027, 2, 13, 14), Date.UTC(2027, 2, 14, 13)],
		);
	});

	it('a full store: starts keep firing on time, each refusal logged; the last start saved before stays', () => {
		const t = setup(MONDAY + 8 * H);
		t.make().set(daily);
		t.time.advance(H);
		assert.equal(t.due.length, 1);
		t.storage.faults.fail = () => 'full';
		t.time.advance(24 * H);
		t.time.advance(24 * H);
		assert.equal(t.due.length, 3, 'the schedule keeps running');
		assert.equal(t.log.lines.filter((l) => l.event === 'schedule.last_unsaved').length, 2);
		t.storage.faults.fail = undefined;
		assert.equal(utf8Decode(readRecord(t.storage, 'sched.last')!), String(MONDAY + 9 * H));
	});
});
