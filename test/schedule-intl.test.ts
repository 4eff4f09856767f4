/*
 * The device's POSIX TZ evaluator (firmware/core/schedule) against the host's IANA database
 * (Intl, ICU's tzdata), Node only: for twelve zones over 2027-2028, offsets every three hours
 * and around every change Intl reports; localToUtc every 15 minutes of each change day; and
 * nextRun against a brute-force reference that reads wall-clock time through Intl alone with
 * the same policy (a skipped time runs at the first instant whose local time is past it, a
 * repeated time at its first occurrence). Also: tools/tz/iana-to-posix.ts gives these rules.
 */
import * as assert from 'node:assert/strict';
import type { Day, Entry, Schedule } from '../firmware/core/schedule/model';
import { nextRun } from '../firmware/core/schedule/next';
import { localToUtc, nextTransition, offsetAt, parseTz, type LocalKind, type TzRule } from '../firmware/core/schedule/tz';
import { ianaToPosix, intlOffset, intlTransitions } from '../tools/tz/iana-to-posix';

const DAY = 86400;
const FROM = Date.UTC(2027, 0, 1) / 1000;
const TO = Date.UTC(2029, 0, 1) / 1000;

/** zone, its POSIX rule (tzdata's TZ string), and what tools/tz/iana-to-posix.ts writes when names differ. */
const ZONES: [string, string, string?][] = [
	['America/New_York', 'EST5EDT,M3.2.0,M11.1.0'],
	['Europe/Berlin', 'CET-1CEST,M3.5.0,M10.5.0/3'],
	['Europe/London', 'GMT0BST,M3.5.0/1,M10.5.0'],
	['Australia/Sydney', 'AEST-10AEDT,M10.1.0,M4.1.0/3'],
	['America/Santiago', '<-04>4<-03>,M9.1.6/24,M4.1.6/24'],
	['Pacific/Auckland', 'NZST-12NZDT,M9.5.0,M4.1.0/3'],
	['Asia/Kolkata', 'IST-5:30'],
	['America/Sao_Paulo', '<-03>3'],
	['Asia/Tehran', '<+0330>-3:30'],
	['America/St_Johns', 'NST3:30NDT,M3.2.0,M11.1.0'],
	['Pacific/Chatham', '<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45'],
	// ICU has no English abbreviation for Cuba: numeric names, same rule
	['America/Havana', 'CST5CDT,M3.2.0/0,M11.1.0/1', '<-05>5<-04>,M3.2.0/0,M11.1.0/1'],
];

const WEEK: readonly Day[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const ALL: Day[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** Starts in and around the transitions of these zones (02:00-03:00, 00:00-01:00, 02:45-03:45, midnight). */
const ENTRIES: Entry[] = [
	{ id: 'a-0130', days: ALL, start: '01:30', enabled: true },
	{ id: 'b-0230', days: ALL, start: '02:30', enabled: true },
	{ id: 'c-0000', days: ['sun'], start: '00:00', enabled: true },
	{ id: 'd-0015', days: ['sat', 'sun'], start: '00:15', enabled: true },
	{ id: 'e-0300', days: ALL, start: '03:00', enabled: true },
	{ id: 'f-0315', days: ['mon', 'wed', 'fri', 'sun'], start: '03:15', enabled: true },
	{ id: 'g-2330', days: ['sat'], start: '23:30', enabled: true },
	{ id: 'h-1200', days: ['tue', 'thu'], start: '12:00', enabled: true },
	{ id: 'off-0200', days: ALL, start: '02:00', enabled: false },
];

function rule(text: string): TzRule {
	const r = parseTz(text);
	if (!r.ok) throw new Error(r.error.message);
	return r.value;
}

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();

// ---------------------------------------------------------------------------------------
// The reference: wall-clock time through Intl only

const memo = new Map<string, { utc: number; kind: LocalKind }>();

/** Instant of local wall-clock `wall` (seconds on the local timeline) in `zone`. */
function refLocalToUtc(zone: string, wall: number): { utc: number; kind: LocalKind } {
	const key = zone + ' ' + wall;
	const hit = memo.get(key);
	if (hit) return hit;
	const offsets = [...new Set([intlOffset(zone, wall - DAY), intlOffset(zone, wall), intlOffset(zone, wall + DAY)])];
	const valid = offsets.map((o) => wall - o).filter((u) => u + intlOffset(zone, u) === wall);
	let r: { utc: number; kind: LocalKind };
	if (valid.length > 0) r = { utc: Math.min(...valid), kind: valid.length === 1 ? 'exact' : 'overlap' };
	else {
		// skipped: the first instant whose local time is at or past `wall`
		let lo = wall - Math.max(...offsets);
		let hi = wall - Math.min(...offsets);
		assert.ok(lo + intlOffset(zone, lo) < wall && hi + intlOffset(zone, hi) >= wall, zone + ' ' + iso(wall));
		while (hi - lo > 1) {
			const mid = Math.floor((lo + hi) / 2);
			if (mid + intlOffset(zone, mid) >= wall) hi = mid;
			else lo = mid;
		}
		r = { utc: hi, kind: 'gap' };
	}
	memo.set(key, r);
	return r;
}

/** The first start strictly after `after`: every day from the day before to eight days after, every entry. */
function refNextRun(zone: string, entries: readonly Entry[], after: number): { utcMs: number; entryId: string } | undefined {
	const today = Math.floor((after + intlOffset(zone, after)) / DAY);
	let best: { utc: number; id: string } | undefined;
	for (let d = today - 1; d <= today + 8; d++) {
		const weekday = WEEK[new Date(d * DAY * 1000).getUTCDay()]!;
		for (const e of entries) {
			if (!e.enabled || !e.days.includes(weekday)) continue;
			const wall = d * DAY + Number(e.start.slice(0, 2)) * 3600 + Number(e.start.slice(3)) * 60;
			const { utc } = refLocalToUtc(zone, wall);
			if (utc > after && (best === undefined || utc < best.utc)) best = { utc, id: e.id };
		}
	}
	return best && { utcMs: best.utc * 1000, entryId: best.id };
}

// ---------------------------------------------------------------------------------------

describe('schedule against Intl (IANA zones, 2027-2028)', function () {
	this.timeout(120000);

	for (const [zone, text, toolText] of ZONES) {
		describe(zone + ' = ' + text, () => {
			const r = rule(text);
			const changes = intlTransitions(zone, FROM, TO);

			it('has the offset Intl has, every 3 hours and around each change', () => {
				let checked = 0;
				const check = (t: number): void => {
					assert.equal(offsetAt(r, t * 1000), intlOffset(zone, t), zone + ' at ' + iso(t));
					checked++;
				};
				for (let t = FROM; t < TO; t += 3 * 3600) check(t);
				for (const c of changes) for (const d of [-3600, -60, -1, 0, 1, 60, 3600]) check(c.at + d);
				assert.ok(checked > 5800);
			});

			it('finds the same changes as Intl', () => {
				const ours: number[] = [];
				for (let t = nextTransition(r, FROM * 1000 - 1); t !== undefined && t.utcMs < TO * 1000; t = nextTransition(r, t.utcMs)) {
					assert.equal(t.offset, intlOffset(zone, t.utcMs / 1000));
					ours.push(t.utcMs / 1000);
				}
				assert.deepEqual(
					ours.map(iso),
					changes.map((c) => iso(c.at)),
				);
				assert.equal(changes.length, r.dst ? 4 : 0);
			});

			it('maps wall-clock times on change days as Intl does (gap, overlap, exact)', () => {
				for (const c of changes) {
					const localDay = Math.floor((c.at + c.before) / DAY);
					for (let wall = (localDay - 1) * DAY; wall < (localDay + 2) * DAY; wall += 900) {
						const d = new Date(wall * 1000);
						const local = { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes() };
						const ref = refLocalToUtc(zone, wall);
						assert.deepEqual(localToUtc(r, local), { utcMs: ref.utc * 1000, kind: ref.kind }, zone + ' ' + JSON.stringify(local));
					}
				}
			});

			it('starts missions when the Intl reference does', () => {
				const s: Schedule = { tz: text, entries: ENTRIES };
				const afters: number[] = [];
				for (let t = FROM; t < TO; t += 29 * 3600 + 17 * 60) afters.push(t);
				for (const c of changes) for (const d of [-DAY, -3 * 3600, -3600 - 60, -60, -1, 0, 1, 60, 1800, 3600, 2 * 3600]) afters.push(c.at + d);
				for (const after of afters) assert.deepEqual(nextRun(s, after * 1000), refNextRun(zone, ENTRIES, after), zone + ' after ' + iso(after));
				// follow the robot through each change week: every start, none twice, none skipped
				for (const c of changes) {
					let after = c.at - 2 * DAY;
					for (let i = 0; i < 20; i++) {
						const got = nextRun(s, after * 1000);
						assert.deepEqual(got, refNextRun(zone, ENTRIES, after), zone + ' run ' + i + ' after ' + iso(after));
						after = got!.utcMs / 1000;
					}
				}
			});

			it('is what tools/tz/iana-to-posix.ts derives from Intl', () => {
				assert.equal(ianaToPosix(zone, 2027), toolText ?? text);
				assert.equal(ianaToPosix(zone, 2028), toolText ?? text);
				if (toolText !== undefined) {
					// only the names differ
					const strip = (x: TzRule) => ({ std: x.std.offset, dst: x.dst && { ...x.dst, name: '' } });
					assert.deepEqual(strip(rule(toolText)), strip(r));
				}
			});
		});
	}
});
