/*
 * POSIX TZ rules: the parser as a table of rules -> value or exact error; offsets on both
 * sides of transitions (hand-computed from the rule text, checked against IANA zones by
 * test/schedule-intl.test.ts); the gap and overlap policy of localToUtc.
 */
import * as assert from '../testing/assert';
import { localToUtc, MAX_TZ_LENGTH, nextTransition, offsetAt, parseTz, type LocalKind, type TzChange, type TzRule } from './tz';

/** UTC instant in ms (Date.UTC: a pure function of its arguments on every engine). */
const at = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number => Date.UTC(y, mo - 1, d, h, mi, s);

function rule(text: string): TzRule {
	const r = parseTz(text);
	if (!r.ok) throw new Error(r.error.message);
	return r.value;
}

const H = 3600;
const mwd = (month: number, week: number, weekday: number, time = 7200): TzChange => ({ date: { kind: 'weekday', month, week, weekday }, time });

describe('parseTz', () => {
	it('reads valid rules', () => {
		const rows: [string, TzRule][] = [
			['UTC0', { std: { name: 'UTC', offset: 0 } }],
			['<+03>-3', { std: { name: '+03', offset: 3 * H } }],
			['CST-8', { std: { name: 'CST', offset: 8 * H } }],
			['IST-5:30', { std: { name: 'IST', offset: 5.5 * H } }],
			['<+0330>-3:30', { std: { name: '+0330', offset: 3.5 * H } }],
			['<-03>3', { std: { name: '-03', offset: -3 * H } }],
			['EST5EDT,M3.2.0,M11.1.0', { std: { name: 'EST', offset: -5 * H }, dst: { name: 'EDT', offset: -4 * H, start: mwd(3, 2, 0), end: mwd(11, 1, 0) } }],
			['EST+5EDT,M3.2.0/2,M11.1.0/2:00', { std: { name: 'EST', offset: -5 * H }, dst: { name: 'EDT', offset: -4 * H, start: mwd(3, 2, 0), end: mwd(11, 1, 0) } }],
			['CET-1CEST,M3.5.0,M10.5.0/3', { std: { name: 'CET', offset: H }, dst: { name: 'CEST', offset: 2 * H, start: mwd(3, 5, 0), end: mwd(10, 5, 0, 3 * H) } }],
			['AEST-10AEDT,M10.1.0,M4.1.0/3', { std: { name: 'AEST', offset: 10 * H }, dst: { name: 'AEDT', offset: 11 * H, start: mwd(10, 1, 0), end: mwd(4, 1, 0, 3 * H) } }],
			['<-04>4<-03>,M9.1.6/24,M4.1.6/24', { std: { name: '-04', offset: -4 * H }, dst: { name: '-03', offset: -3 * H, start: mwd(9, 1, 6, 24 * H), end: mwd(4, 1, 6, 24 * H) } }],
			['NST3:30NDT,M3.2.0,M11.1.0', { std: { name: 'NST', offset: -3.5 * H }, dst: { name: 'NDT', offset: -2.5 * H, start: mwd(3, 2, 0), end: mwd(11, 1, 0) } }],
			['<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45', { std: { name: '+1245', offset: 12.75 * H }, dst: { name: '+1345', offset: 13.75 * H, start: mwd(9, 5, 0, 2.75 * H), end: mwd(4, 1, 0, 3.75 * H) } }],
			[
				'EST5EDT,0/0,J365/25',
				{
					std: { name: 'EST', offset: -5 * H },
					dst: { name: 'EDT', offset: -4 * H, start: { date: { kind: 'yearday', day: 0 }, time: 0 }, end: { date: { kind: 'julian', day: 365 }, time: 25 * H } },
				},
			],
			['<-02>2<-01>,M3.5.0/-1,M10.5.0/0', { std: { name: '-02', offset: -2 * H }, dst: { name: '-01', offset: -H, start: mwd(3, 5, 0, -H), end: mwd(10, 5, 0, 0) } }],
			// negative DST (Europe/Dublin): the "daylight" offset is the smaller one
			['IST-1GMT0,M10.5.0,M3.5.0/1', { std: { name: 'IST', offset: H }, dst: { name: 'GMT', offset: 0, start: mwd(10, 5, 0), end: mwd(3, 5, 0, H) } }],
			[
				'XXX+3:00:15YYY2,J60/1:30:45,300/-167',
				{
					std: { name: 'XXX', offset: -(3 * H + 15) },
					dst: { name: 'YYY', offset: -2 * H, start: { date: { kind: 'julian', day: 60 }, time: 5445 }, end: { date: { kind: 'yearday', day: 300 }, time: -167 * H } },
				},
			],
		];
		for (const [text, expected] of rows) {
			const r = parseTz(text);
			assert.ok(r.ok, text + ': ' + (r.ok ? '' : r.error.message));
			assert.deepEqual(r.value, expected, text);
		}
	});

	it('names what was wrong and where', () => {
		const rows: [string, number, string][] = [
			['', 0, 'empty rule, expected e.g. "UTC0" or "CET-1CEST,M3.5.0,M10.5.0/3"'],
			['EST', 3, 'standard time offset hours: expected a digit, got end of rule'],
			['E5', 0, 'standard time name: expected 3 or more letters or a <quoted> name, got "E5"'],
			['<+3>-3', 0, 'standard time name: expected 3 or more characters inside <>, got "+3"'],
			['<+03-3', 0, 'standard time name: "<" without a closing ">"'],
			['<+0 3>-3', 3, 'standard time name: " " not allowed in a quoted name'],
			['EST25', 3, 'standard time offset: expected hours 0-24, got 25'],
			['IST-5:3', 6, 'standard time offset: expected minutes 00-59, got "3"'],
			['IST-5:60', 6, 'standard time offset: expected minutes 00-59, got "60"'],
			['EST5EDT', 7, 'expected ",start[/time],end[/time]" after the daylight time, got end of rule'],
			['EST5ED,M3.2.0,M11.1.0', 4, 'daylight time name: expected 3 or more letters or a <quoted> name, got "ED,"'],
			['UTC0,M3.2.0', 4, 'daylight time name: expected 3 or more letters or a <quoted> name, got ","'],
			['EST5EDT,M13.2.0,M11.1.0', 9, 'start month: expected 1-12, got 13'],
			['EST5EDT,M3.6.0,M11.1.0', 11, 'start week: expected 1-5, got 6'],
			['EST5EDT,M3.2.7,M11.1.0', 13, 'start weekday (0 = Sunday): expected 0-6, got 7'],
			['EST5EDT,M3.2,M11.1.0', 12, 'start: expected "." after the week, got ","'],
			['EST5EDT,J0,J365', 9, 'start Julian day: expected 1-365, got 0'],
			['EST5EDT,0,366', 10, 'end day of year: expected 0-365, got 366'],
			['EST5EDT,X3,M11.1.0', 8, 'start: expected "Mm.w.d", "Jn" or "n", got "X"'],
			['EST5EDT,M3.2.0/168,M11.1.0', 15, 'start time: expected hours 0-167, got 168'],
			['EST5EDT,M3.2.0/,M11.1.0', 15, 'start time hours: expected a digit, got ","'],
			['EST5EDT,M3.2.0', 14, 'expected "," before the end of daylight time, got end of rule'],
			['EST5EDT,M3.2.0,M11.1.0x', 22, 'unexpected "x" after the end rule'],
		];
		for (const [text, where, what] of rows) {
			const r = parseTz(text);
			assert.ok(!r.ok, text + ' should be refused');
			assert.deepEqual(r.error, { at: where, message: 'TZ "' + text + '"' + (text === '' ? '' : ' at ' + where) + ': ' + what }, text);
		}
		const long = 'UTC0' + 'x'.repeat(MAX_TZ_LENGTH - 3);
		assert.deepEqual(parseTz(long), { ok: false, error: { at: MAX_TZ_LENGTH, message: 'TZ rule: expected at most 64 characters, got 65' } });
		assert.throws(() => parseTz(5 as unknown as string), /"rule" expected a string, got number/);
	});
});

describe('offsetAt (seconds east of UTC)', () => {
	it('changes exactly at each transition', () => {
		const rows: [string, number, number][] = [
			// America/New_York 2027: DST from Mar 14 02:00 EST (07:00Z) to Nov 7 02:00 EDT (06:00Z)
			['EST5EDT,M3.2.0,M11.1.0', at(2027, 1, 15), -5 * H],
			['EST5EDT,M3.2.0,M11.1.0', at(2027, 3, 14, 6, 59, 59), -5 * H],
			['EST5EDT,M3.2.0,M11.1.0', at(2027, 3, 14, 6, 59, 59) + 999, -5 * H],
			['EST5EDT,M3.2.0,M11.1.0', at(2027, 3, 14, 7), -4 * H],
			['EST5EDT,M3.2.0,M11.1.0', at(2027, 11, 7, 5, 59, 59), -4 * H],
			['EST5EDT,M3.2.0,M11.1.0', at(2027, 11, 7, 6), -5 * H],
			// Europe/Berlin 2027: both changes at 01:00Z (02:00 CET, 03:00 CEST)
			['CET-1CEST,M3.5.0,M10.5.0/3', at(2027, 3, 28, 0, 59, 59), H],
			['CET-1CEST,M3.5.0,M10.5.0/3', at(2027, 3, 28, 1), 2 * H],
			['CET-1CEST,M3.5.0,M10.5.0/3', at(2027, 10, 31, 0, 59, 59), 2 * H],
			['CET-1CEST,M3.5.0,M10.5.0/3', at(2027, 10, 31, 1), H],
			// Australia/Sydney: DST across the new year; ends Apr 4 03:00 AEDT, starts Oct 3 02:00 AEST
			['AEST-10AEDT,M10.1.0,M4.1.0/3', at(2027, 1, 1, 0), 11 * H],
			['AEST-10AEDT,M10.1.0,M4.1.0/3', at(2027, 4, 3, 15, 59, 59), 11 * H],
			['AEST-10AEDT,M10.1.0,M4.1.0/3', at(2027, 4, 3, 16), 10 * H],
			['AEST-10AEDT,M10.1.0,M4.1.0/3', at(2027, 7, 1), 10 * H],
			['AEST-10AEDT,M10.1.0,M4.1.0/3', at(2027, 10, 2, 15, 59, 59), 10 * H],
			['AEST-10AEDT,M10.1.0,M4.1.0/3', at(2027, 10, 2, 16), 11 * H],
			['AEST-10AEDT,M10.1.0,M4.1.0/3', at(2027, 12, 31, 23, 59, 59), 11 * H],
			// America/Santiago: /24 is midnight after the first Saturday (Apr 4 and Sep 5 2027)
			['<-04>4<-03>,M9.1.6/24,M4.1.6/24', at(2027, 4, 4, 2, 59, 59), -3 * H],
			['<-04>4<-03>,M9.1.6/24,M4.1.6/24', at(2027, 4, 4, 3), -4 * H],
			['<-04>4<-03>,M9.1.6/24,M4.1.6/24', at(2027, 9, 5, 3, 59, 59), -4 * H],
			['<-04>4<-03>,M9.1.6/24,M4.1.6/24', at(2027, 9, 5, 4), -3 * H],
			// America/Nuuk: /-1 is 23:00 the day before the last Sunday
			['<-02>2<-01>,M3.5.0/-1,M10.5.0/0', at(2027, 3, 28, 0, 59, 59), -2 * H],
			['<-02>2<-01>,M3.5.0/-1,M10.5.0/0', at(2027, 3, 28, 1), -H],
			['<-02>2<-01>,M3.5.0/-1,M10.5.0/0', at(2027, 10, 31, 0, 59, 59), -H],
			['<-02>2<-01>,M3.5.0/-1,M10.5.0/0', at(2027, 10, 31, 1), -2 * H],
			// Europe/Dublin, negative DST: GMT in winter
			['IST-1GMT0,M10.5.0,M3.5.0/1', at(2027, 3, 28, 0, 59, 59), 0],
			['IST-1GMT0,M10.5.0,M3.5.0/1', at(2027, 3, 28, 1), H],
			['IST-1GMT0,M10.5.0,M3.5.0/1', at(2027, 10, 31, 0, 59, 59), H],
			['IST-1GMT0,M10.5.0,M3.5.0/1', at(2027, 10, 31, 1), 0],
			// DST all year: each year's DST ends (Dec 31 25:00 EDT) as the next one starts (Jan 1 00:00 EST)
			['EST5EDT,0/0,J365/25', at(2027, 1, 1, 0), -4 * H],
			['EST5EDT,0/0,J365/25', at(2027, 12, 31, 23, 59, 59), -4 * H],
			['EST5EDT,0/0,J365/25', at(2028, 1, 1, 4, 59, 59), -4 * H],
			['EST5EDT,0/0,J365/25', at(2028, 1, 1, 5), -4 * H],
			['EST5EDT,0/0,J365/25', at(2028, 2, 29, 12), -4 * H],
			['EST5EDT,0/0,J365/25', at(2028, 12, 31, 23), -4 * H],
			// Julian days skip Feb 29 (J60 is March 1 every year), zero-based days count it (59 is Feb 29 in 2028)
			['AAA0BBB,J60/0,J61/0', at(2028, 3, 1, 12), H],
			['AAA0BBB,J60/0,J61/0', at(2027, 3, 1, 12), H],
			['AAA0BBB,59/0,60/0', at(2028, 2, 29, 12), H],
			['AAA0BBB,59/0,60/0', at(2028, 3, 1, 12), 0],
			['AAA0BBB,59/0,60/0', at(2027, 3, 1, 12), H],
			// changes pushed across the new year by their time: a start that falls in the previous
			// year (J1/-24 is Dec 31 00:00) and a southern interval that begins two years back
			// (2027's start J365/100 is Jan 4 2029 04:00, 2028's end J365/30 is Jan 1 2029 06:00 BBB)
			['AAA0BBB,J1/-24,J2/0', at(2027, 12, 31, 12), H],
			['AAA0BBB,J1/-24,J2/0', at(2028, 1, 1, 22, 59, 59), H],
			['AAA0BBB,J1/-24,J2/0', at(2028, 1, 1, 23), 0],
			['AAA0BBB,J365/100,J365/30', at(2029, 1, 1, 4, 59, 59), H],
			['AAA0BBB,J365/100,J365/30', at(2029, 1, 1, 5), 0],
			['AAA0BBB,J365/100,J365/30', at(2029, 1, 4, 3, 59, 59), 0],
			['AAA0BBB,J365/100,J365/30', at(2029, 1, 4, 4), H],
			['UTC0', at(2027, 7, 1), 0],
			['<+0330>-3:30', at(2027, 7, 1), 3.5 * H],
			['CST-8', at(2027, 7, 1), 8 * H],
		];
		for (const [text, utcMs, offset] of rows) assert.equal(offsetAt(rule(text), utcMs), offset, text + ' at ' + new Date(utcMs).toISOString());
	});

	it('refuses an instant that is not a finite number', () => {
		assert.throws(() => offsetAt(rule('UTC0'), NaN), /"utcMs" expected a finite number, got NaN/);
	});
});

describe('nextTransition', () => {
	it('finds the next change and the offset after it', () => {
		const ny = rule('EST5EDT,M3.2.0,M11.1.0');
		assert.deepEqual(nextTransition(ny, at(2027, 1, 1)), { utcMs: at(2027, 3, 14, 7), offset: -4 * H });
		assert.deepEqual(nextTransition(ny, at(2027, 3, 14, 7)), { utcMs: at(2027, 11, 7, 6), offset: -5 * H });
		assert.deepEqual(nextTransition(ny, at(2027, 12, 1)), { utcMs: at(2028, 3, 12, 7), offset: -4 * H });
		const syd = rule('AEST-10AEDT,M10.1.0,M4.1.0/3');
		assert.deepEqual(nextTransition(syd, at(2027, 10, 3)), { utcMs: at(2028, 4, 1, 16), offset: 10 * H });
	});

	it('has none without DST or with DST all year', () => {
		assert.equal(nextTransition(rule('UTC0'), at(2027, 1, 1)), undefined);
		assert.equal(nextTransition(rule('EST5EDT,0/0,J365/25'), at(2027, 6, 1)), undefined);
	});
});

describe('localToUtc', () => {
	it('maps wall-clock times: gap to the jump, overlap to the first occurrence', () => {
		type Row = [string, [number, number, number, number, number], number, LocalKind];
		const rows: Row[] = [
			['EST5EDT,M3.2.0,M11.1.0', [2027, 3, 14, 1, 59], at(2027, 3, 14, 6, 59), 'exact'],
			['EST5EDT,M3.2.0,M11.1.0', [2027, 3, 14, 2, 0], at(2027, 3, 14, 7), 'gap'],
			['EST5EDT,M3.2.0,M11.1.0', [2027, 3, 14, 2, 30], at(2027, 3, 14, 7), 'gap'],
			['EST5EDT,M3.2.0,M11.1.0', [2027, 3, 14, 2, 59], at(2027, 3, 14, 7), 'gap'],
			['EST5EDT,M3.2.0,M11.1.0', [2027, 3, 14, 3, 0], at(2027, 3, 14, 7), 'exact'],
			['EST5EDT,M3.2.0,M11.1.0', [2027, 11, 7, 0, 59], at(2027, 11, 7, 4, 59), 'exact'],
			['EST5EDT,M3.2.0,M11.1.0', [2027, 11, 7, 1, 0], at(2027, 11, 7, 5), 'overlap'],
			['EST5EDT,M3.2.0,M11.1.0', [2027, 11, 7, 1, 30], at(2027, 11, 7, 5, 30), 'overlap'],
			['EST5EDT,M3.2.0,M11.1.0', [2027, 11, 7, 2, 0], at(2027, 11, 7, 7), 'exact'],
			['CET-1CEST,M3.5.0,M10.5.0/3', [2027, 3, 28, 2, 30], at(2027, 3, 28, 1), 'gap'],
			['CET-1CEST,M3.5.0,M10.5.0/3', [2027, 10, 31, 2, 30], at(2027, 10, 31, 0, 30), 'overlap'],
			['CET-1CEST,M3.5.0,M10.5.0/3', [2027, 10, 31, 3, 0], at(2027, 10, 31, 2), 'exact'],
			['AEST-10AEDT,M10.1.0,M4.1.0/3', [2027, 10, 3, 2, 30], at(2027, 10, 2, 16), 'gap'],
			['AEST-10AEDT,M10.1.0,M4.1.0/3', [2027, 4, 4, 2, 30], at(2027, 4, 3, 15, 30), 'overlap'],
			['AEST-10AEDT,M10.1.0,M4.1.0/3', [2027, 4, 4, 3, 0], at(2027, 4, 3, 17), 'exact'],
			// Santiago: the gap is the first hour of Sunday, the overlap the last hour of Saturday
			['<-04>4<-03>,M9.1.6/24,M4.1.6/24', [2027, 9, 5, 0, 30], at(2027, 9, 5, 4), 'gap'],
			['<-04>4<-03>,M9.1.6/24,M4.1.6/24', [2027, 4, 3, 23, 30], at(2027, 4, 4, 2, 30), 'overlap'],
			// negative DST: the gap comes when "daylight" time ends
			['IST-1GMT0,M10.5.0,M3.5.0/1', [2027, 3, 28, 1, 30], at(2027, 3, 28, 1), 'gap'],
			['IST-1GMT0,M10.5.0,M3.5.0/1', [2027, 10, 31, 1, 30], at(2027, 10, 31, 0, 30), 'overlap'],
			['<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45', [2027, 9, 26, 3, 0], at(2027, 9, 25, 14), 'gap'],
			['IST-5:30', [2027, 3, 14, 2, 30], at(2027, 3, 13, 21), 'exact'],
			['EST5EDT,0/0,J365/25', [2028, 1, 1, 0, 30], at(2028, 1, 1, 4, 30), 'exact'],
		];
		for (const [text, [year, month, day, hour, minute], utcMs, kind] of rows) assert.deepEqual(localToUtc(rule(text), { year, month, day, hour, minute }), { utcMs, kind }, text + ' ' + [year, month, day, hour, minute].join(' '));
	});

	it('refuses a wall-clock time that is not a time', () => {
		const r = rule('UTC0');
		assert.throws(() => localToUtc(r, { year: 2027, month: 13, day: 1, hour: 0, minute: 0 }), /"local.month" expected an integer 1-12, got 13/);
		assert.throws(() => localToUtc(r, { year: 2027, month: 2, day: 29, hour: 0, minute: 0 }), /"local.day" expected an integer 1-28, got 29/);
		assert.throws(() => localToUtc(r, { year: 2027, month: 2, day: 1, hour: 24, minute: 0 }), /"local.hour"/);
		assert.throws(() => localToUtc(r, { year: 2027, month: 2, day: 1, hour: 1, minute: 0.5 }), /"local.minute"/);
	});
});
