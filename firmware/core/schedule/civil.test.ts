/*
 * Day arithmetic against Date.UTC, which both Node and XS implement from ECMA-262's own
 * day formulas (no host time zone involved): the reference here, never used by the code.
 */
import * as assert from '../testing/assert';
import { civilFromDays, daysFromCivil, daysInMonth, isLeapYear, weekdayOf } from './civil';

const DAY_MS = 86400000;

describe('civil dates', () => {
	it('round-trips every day from 1899 to 2101 and agrees with Date.UTC', () => {
		const from = daysFromCivil(1899, 1, 1);
		const to = daysFromCivil(2101, 12, 31);
		assert.equal(from * DAY_MS, Date.UTC(1899, 0, 1));
		for (let d = from; d <= to; d++) {
			const c = civilFromDays(d);
			if (daysFromCivil(c.year, c.month, c.day) !== d) assert.ok(false, 'round trip of ' + d);
			const date = new Date(d * DAY_MS);
			if (date.getUTCFullYear() !== c.year || date.getUTCMonth() + 1 !== c.month || date.getUTCDate() !== c.day || date.getUTCDay() !== weekdayOf(d))
				assert.ok(false, 'day ' + d + ' is ' + JSON.stringify(c) + ' weekday ' + weekdayOf(d) + ', Date.UTC says ' + date.toISOString() + ' weekday ' + date.getUTCDay());
		}
	});

	it('knows fixed points', () => {
		const rows: [number, number, number, number, number][] = [
			// year, month, day -> days since epoch, weekday (0 = Sunday)
			[1970, 1, 1, 0, 4],
			[1969, 12, 31, -1, 3],
			[2000, 2, 29, 11016, 2],
			[2027, 3, 14, 20891, 0],
			[2028, 12, 31, 21549, 0],
		];
		for (const [y, m, d, days, wd] of rows) {
			assert.equal(daysFromCivil(y, m, d), days, y + '-' + m + '-' + d);
			assert.deepEqual(civilFromDays(days), { year: y, month: m, day: d });
			assert.equal(weekdayOf(days), wd, 'weekday of ' + y + '-' + m + '-' + d);
		}
	});

	it('leap years and month lengths', () => {
		assert.deepEqual([1900, 2000, 2024, 2027, 2028, 2100].map(isLeapYear), [false, true, true, false, true, false]);
		assert.deepEqual(
			[1, 2, 4, 12].map((m) => daysInMonth(2027, m)),
			[31, 28, 30, 31],
		);
		assert.equal(daysInMonth(2028, 2), 29);
	});
});
