/*
 * Civil (proleptic Gregorian) dates as whole days since 1970-01-01, by Howard Hinnant's
 * days_from_civil / civil_from_days (http://howardhinnant.github.io/date_algorithms.html).
 * Integer arithmetic only, no Date: Node, bare XS and Moddable give the same answers, and
 * the result does not depend on a host time zone or a host Date implementation.
 */

export const SECONDS_PER_DAY = 86400;

export interface CivilDate {
	readonly year: number;
	/** 1-12 */
	readonly month: number;
	/** 1-31 */
	readonly day: number;
}

/** Floor division for integers: rounds toward minus infinity, as Hinnant's eras need. */
export function floorDiv(a: number, b: number): number {
	return Math.floor(a / b);
}

/** Days since 1970-01-01 of year-month-day (month 1-12; out-of-range days roll over). */
export function daysFromCivil(year: number, month: number, day: number): number {
	const y = month <= 2 ? year - 1 : year;
	const era = floorDiv(y, 400);
	const yoe = y - era * 400; // [0, 399]
	const doy = floorDiv(153 * (month + (month > 2 ? -3 : 9)) + 2, 5) + day - 1; // [0, 365]
	const doe = yoe * 365 + floorDiv(yoe, 4) - floorDiv(yoe, 100) + doy; // [0, 146096]
	return era * 146097 + doe - 719468;
}

/** The civil date of a day number (days since 1970-01-01). */
export function civilFromDays(days: number): CivilDate {
	const z = days + 719468;
	const era = floorDiv(z, 146097);
	const doe = z - era * 146097; // [0, 146096]
	const yoe = floorDiv(doe - floorDiv(doe, 1460) + floorDiv(doe, 36524) - floorDiv(doe, 146096), 365); // [0, 399]
	const doy = doe - (365 * yoe + floorDiv(yoe, 4) - floorDiv(yoe, 100)); // [0, 365]
	const mp = floorDiv(5 * doy + 2, 153); // [0, 11], March = 0
	const day = doy - floorDiv(153 * mp + 2, 5) + 1;
	const month = mp < 10 ? mp + 3 : mp - 9;
	return { year: era * 400 + yoe + (month <= 2 ? 1 : 0), month, day };
}

/** 0 = Sunday ... 6 = Saturday, as POSIX `Mm.w.d` counts; 1970-01-01 was a Thursday. */
export function weekdayOf(days: number): number {
	return ((days % 7) + 11) % 7;
}

export function isLeapYear(year: number): boolean {
	return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

const MONTH_DAYS = Object.freeze([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const);

export function daysInMonth(year: number, month: number): number {
	return month === 2 && isLeapYear(year) ? 29 : (MONTH_DAYS[month - 1] ?? 0);
}
