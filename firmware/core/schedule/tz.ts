/*
 * POSIX TZ rules: the TZ environment variable format of POSIX.1-2017 XBD 8.3, with the
 * extensions glibc `tzset` and RFC 8536 §3.3.1 accept (quoted names `<+0530>`, transition
 * times from -167 to 167 hours):
 *
 *   std offset [dst [offset] [,start[/time],end[/time]]]
 *
 * Offsets are written west-positive (`EST5EDT` is UTC-5); this module turns them around and
 * answers in SECONDS EAST of UTC, the sign everybody else uses. Day arithmetic is integer
 * only (./civil.ts), no Date, so Node and XS agree to the second.
 *
 * Policies for wall-clock times that do not map to exactly one instant (localToUtc):
 * - gap (spring forward, 02:30 on a day the clocks jump from 02:00 to 03:00): the instant the
 *   clocks jump, the first valid instant after the missing time, as Vixie cron and systemd
 *   timers run jobs of a skipped hour: a 02:30 mission starts at 03:00 new time.
 * - overlap (fall back, 01:30 happens twice): the first occurrence, so a mission runs once.
 */
import { civilFromDays, daysFromCivil, daysInMonth, floorDiv, isLeapYear, SECONDS_PER_DAY, weekdayOf } from './civil';
import { err, ok, type Result } from '../util/result';

/** Longest rule accepted; tzdata's longest current rule is 44 characters (Pacific/Chatham). */
export const MAX_TZ_LENGTH = 64;

/** The day a transition happens on, in local time. */
export type TzDate =
	/** `Mm.w.d`: weekday d (0 = Sunday) of week w (1-4, 5 = last) of month m */
	| { readonly kind: 'weekday'; readonly month: number; readonly week: number; readonly weekday: number }
	/** `Jn`: day 1-365, February 29 never counted (J60 is always March 1) */
	| { readonly kind: 'julian'; readonly day: number }
	/** `n`: zero-based day 0-365, February 29 counted */
	| { readonly kind: 'yearday'; readonly day: number };

export interface TzChange {
	readonly date: TzDate;
	/** Seconds after local midnight of `date`, in the time in force before the change; may be negative or past 24 h. */
	readonly time: number;
}

export interface TzRule {
	/** Standard time: abbreviation (without `<>`) and offset in seconds east of UTC. */
	readonly std: { readonly name: string; readonly offset: number };
	/** Daylight saving time, absent for rules like `UTC0` or `<+03>-3`. */
	readonly dst?: { readonly name: string; readonly offset: number; readonly start: TzChange; readonly end: TzChange };
}

/** What was wrong (the message quotes the rule and the position) and where (0-based index). */
export interface TzError {
	readonly message: string;
	readonly at: number;
}

export interface LocalTime {
	readonly year: number;
	/** 1-12 */
	readonly month: number;
	/** 1-31 */
	readonly day: number;
	/** 0-23 */
	readonly hour: number;
	/** 0-59 */
	readonly minute: number;
}

export type LocalKind = 'exact' | 'gap' | 'overlap';

// ---------------------------------------------------------------------------------------
// Parsing

interface Cursor {
	readonly s: string;
	i: number;
	error?: TzError;
}

function fail(p: Cursor, at: number, what: string): undefined {
	p.error ??= { message: 'TZ "' + p.s + '" at ' + at + ': ' + what, at };
	return undefined;
}

function shown(p: Cursor): string {
	return p.i < p.s.length ? '"' + p.s[p.i] + '"' : 'end of rule';
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined): boolean => c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));

/** Up to `max` digits; undefined (and an error naming `what`) when there is none. */
function digits(p: Cursor, what: string, max: number): number | undefined {
	const from = p.i;
	while (p.i < p.s.length && p.i - from < max && isDigit(p.s[p.i])) p.i++;
	if (p.i === from) return fail(p, from, what + ': expected a digit, got ' + shown(p));
	return Number(p.s.slice(from, p.i));
}

/** A zone abbreviation: 3+ letters, or `<...>` holding 3+ letters, digits, `+` or `-` (POSIX XBD 8.3). */
function name(p: Cursor, what: string): string | undefined {
	const from = p.i;
	if (p.s[p.i] === '<') {
		const close = p.s.indexOf('>', from);
		if (close < 0) return fail(p, from, what + ': "<" without a closing ">"');
		const inner = p.s.slice(from + 1, close);
		for (let k = 0; k < inner.length; k++) {
			const c = inner[k];
			if (!isAlpha(c) && !isDigit(c) && c !== '+' && c !== '-') return fail(p, from + 1 + k, what + ': "' + c + '" not allowed in a quoted name');
		}
		if (inner.length < 3) return fail(p, from, what + ': expected 3 or more characters inside <>, got "' + inner + '"');
		p.i = close + 1;
		return inner;
	}
	while (isAlpha(p.s[p.i])) p.i++;
	if (p.i - from < 3) return fail(p, from, what + ': expected 3 or more letters or a <quoted> name, got "' + p.s.slice(from, p.i + 1) + '"');
	return p.s.slice(from, p.i);
}

/** `[+-]hh[:mm[:ss]]` as signed seconds, hours at most `maxHours`. */
function hms(p: Cursor, what: string, maxHours: number): number | undefined {
	const from = p.i;
	let sign = 1;
	if (p.s[p.i] === '+' || p.s[p.i] === '-') sign = p.s[p.i++] === '-' ? -1 : 1;
	const h = digits(p, what + ' hours', 3);
	if (h === undefined) return undefined;
	if (h > maxHours) return fail(p, from, what + ': expected hours 0-' + maxHours + ', got ' + h);
	let seconds = h * 3600;
	for (const [unit, scale] of [
		['minutes', 60],
		['seconds', 1],
	] as const) {
		if (p.s[p.i] !== ':') break;
		p.i++;
		const at = p.i;
		const n = digits(p, what + ' ' + unit, 2);
		if (n === undefined) return undefined;
		if (p.i - at !== 2 || n > 59) return fail(p, at, what + ': expected ' + unit + ' 00-59, got "' + p.s.slice(at, p.i) + '"');
		seconds += n * scale;
	}
	return sign * seconds;
}

function range(p: Cursor, at: number, what: string, n: number | undefined, lo: number, hi: number): number | undefined {
	if (n === undefined) return undefined;
	if (n < lo || n > hi) return fail(p, at, what + ': expected ' + lo + '-' + hi + ', got ' + n);
	return n;
}

/** `Mm.w.d`, `Jn` or `n`, then an optional `/time` (default 02:00:00). */
function change(p: Cursor, what: string): TzChange | undefined {
	let date: TzDate | undefined;
	const c = p.s[p.i];
	if (c === 'M') {
		p.i++;
		const month = range(p, p.i, what + ' month', digits(p, what + ' month', 2), 1, 12);
		if (month === undefined) return undefined;
		if (p.s[p.i] !== '.') return fail(p, p.i, what + ': expected "." after the month, got ' + shown(p));
		p.i++;
		const week = range(p, p.i, what + ' week', digits(p, what + ' week', 1), 1, 5);
		if (week === undefined) return undefined;
		if (p.s[p.i] !== '.') return fail(p, p.i, what + ': expected "." after the week, got ' + shown(p));
		p.i++;
		const weekday = range(p, p.i, what + ' weekday (0 = Sunday)', digits(p, what + ' weekday', 1), 0, 6);
		if (weekday === undefined) return undefined;
		date = { kind: 'weekday', month, week, weekday };
	} else if (c === 'J') {
		p.i++;
		const day = range(p, p.i, what + ' Julian day', digits(p, what + ' Julian day', 3), 1, 365);
		if (day === undefined) return undefined;
		date = { kind: 'julian', day };
	} else if (isDigit(c)) {
		const day = range(p, p.i, what + ' day of year', digits(p, what + ' day of year', 3), 0, 365);
		if (day === undefined) return undefined;
		date = { kind: 'yearday', day };
	} else {
		return fail(p, p.i, what + ': expected "Mm.w.d", "Jn" or "n", got ' + shown(p));
	}
	let time = 7200;
	if (p.s[p.i] === '/') {
		p.i++;
		const t = hms(p, what + ' time', 167);
		if (t === undefined) return undefined;
		time = t;
	}
	return { date, time };
}

function parse(p: Cursor): TzRule | undefined {
	const stdName = name(p, 'standard time name');
	if (stdName === undefined) return undefined;
	const stdWest = hms(p, 'standard time offset', 24);
	if (stdWest === undefined) return undefined;
	const std = { name: stdName, offset: 0 - stdWest }; // 0 - x, not -x: UTC0 is +0, not -0
	if (p.i === p.s.length) return { std };

	const dstName = name(p, 'daylight time name');
	if (dstName === undefined) return undefined;
	let offset = std.offset + 3600; // POSIX: one hour ahead of standard time by default
	const c = p.s[p.i];
	if (c === '+' || c === '-' || isDigit(c)) {
		const dstWest = hms(p, 'daylight time offset', 24);
		if (dstWest === undefined) return undefined;
		offset = 0 - dstWest;
	}
	// POSIX leaves the dates implementation-defined when the rule is missing (glibc assumes
	// US rules): a device must not guess, so a DST name needs its rule.
	if (p.s[p.i] !== ',') return fail(p, p.i, 'expected ",start[/time],end[/time]" after the daylight time, got ' + shown(p));
	p.i++;
	const start = change(p, 'start');
	if (start === undefined) return undefined;
	if (p.s[p.i] !== ',') return fail(p, p.i, 'expected "," before the end of daylight time, got ' + shown(p));
	p.i++;
	const end = change(p, 'end');
	if (end === undefined) return undefined;
	if (p.i !== p.s.length) return fail(p, p.i, 'unexpected ' + shown(p) + ' after the end rule');
	return { std, dst: { name: dstName, offset, start, end } };
}

/** Parses a POSIX TZ rule; the error names what was expected, what was found and where. */
export function parseTz(rule: string): Result<TzRule, TzError> {
	if (typeof rule !== 'string') throw new TypeError('"rule" expected a string, got ' + typeof rule);
	if (rule.length === 0) return err({ message: 'TZ "": empty rule, expected e.g. "UTC0" or "CET-1CEST,M3.5.0,M10.5.0/3"', at: 0 });
	if (rule.length > MAX_TZ_LENGTH) return err({ message: 'TZ rule: expected at most ' + MAX_TZ_LENGTH + ' characters, got ' + rule.length, at: MAX_TZ_LENGTH });
	const p: Cursor = { s: rule, i: 0 };
	const value = parse(p);
	return value === undefined ? err(p.error ?? { message: 'TZ "' + rule + '": invalid', at: p.i }) : ok(value);
}

// ---------------------------------------------------------------------------------------
// Evaluation (all instants in whole seconds since the epoch, UTC)

/** Day number (days since 1970-01-01) of a transition date in `year`. */
function dayOf(date: TzDate, year: number): number {
	const jan1 = daysFromCivil(year, 1, 1);
	switch (date.kind) {
		case 'julian':
			return jan1 + date.day - 1 + (date.day >= 60 && isLeapYear(year) ? 1 : 0);
		case 'yearday':
			return jan1 + date.day;
		case 'weekday': {
			const first = daysFromCivil(year, date.month, 1);
			let day = 1 + ((date.weekday - weekdayOf(first) + 7) % 7) + (date.week - 1) * 7;
			while (day > daysInMonth(year, date.month)) day -= 7; // week 5 means the last one
			return first + day - 1;
		}
	}
}

type Dst = NonNullable<TzRule['dst']>;

/** DST start and end of `year` as UTC seconds; each time is read in the offset in force before it. */
function changesIn(dst: Dst, stdOffset: number, year: number): { start: number; end: number } {
	return {
		start: dayOf(dst.start.date, year) * SECONDS_PER_DAY + dst.start.time - stdOffset,
		end: dayOf(dst.end.date, year) * SECONDS_PER_DAY + dst.end.time - dst.offset,
	};
}

/**
 * DST is in force on the union of one interval per year: [start, end) of that year (empty
 * when they coincide, as glibc has it), or, when the end comes first in the year (southern
 * hemisphere), [start, end of the next year). Adjacent intervals join, so `0/0,J365/25` is
 * DST all year long.
 */
function inDst(rule: TzRule, t: number): boolean {
	const dst = rule.dst;
	if (dst === undefined) return false;
	const year = civilFromDays(floorDiv(t + rule.std.offset, SECONDS_PER_DAY)).year;
	// transition times reach +-167 h, so a year's interval can start in the previous year and
	// a southern one ends in the following: four years cover every interval that may hold t
	for (let y = year - 2; y <= year + 1; y++) {
		const c = changesIn(dst, rule.std.offset, y);
		const end = c.start <= c.end ? c.end : changesIn(dst, rule.std.offset, y + 1).end;
		if (c.start <= t && t < end) return true;
	}
	return false;
}

function offsetAtSeconds(rule: TzRule, t: number): number {
	return rule.dst !== undefined && inDst(rule, t) ? rule.dst.offset : rule.std.offset;
}

function checkInstant(utcMs: number): void {
	if (typeof utcMs !== 'number' || !Number.isFinite(utcMs)) throw new RangeError('"utcMs" expected a finite number, got ' + String(utcMs));
}

/** The UTC offset in force at `utcMs`, in seconds east of UTC (Berlin in summer: 7200). */
export function offsetAt(rule: TzRule, utcMs: number): number {
	checkInstant(utcMs);
	return offsetAtSeconds(rule, Math.floor(utcMs / 1000));
}

/** The first instant strictly after `t` (seconds) where the offset changes, if any within two years. */
function nextChangeSeconds(rule: TzRule, t: number): number | undefined {
	const dst = rule.dst;
	if (dst === undefined) return undefined;
	const year = civilFromDays(floorDiv(t + rule.std.offset, SECONDS_PER_DAY)).year;
	let best: number | undefined;
	for (let y = year - 1; y <= year + 2; y++) {
		const c = changesIn(dst, rule.std.offset, y);
		for (const at of [c.start, c.end]) {
			// a scheduled change that changes nothing (DST all year) is not a transition
			if (at > t && (best === undefined || at < best) && inDst(rule, at) !== inDst(rule, at - 1)) best = at;
		}
	}
	return best;
}

/** The next instant strictly after `utcMs` at which the offset changes, with the new offset (seconds east). */
export function nextTransition(rule: TzRule, utcMs: number): { utcMs: number; offset: number } | undefined {
	checkInstant(utcMs);
	const at = nextChangeSeconds(rule, Math.floor(utcMs / 1000));
	return at === undefined ? undefined : { utcMs: at * 1000, offset: offsetAtSeconds(rule, at) };
}

function checkLocal(local: LocalTime): void {
	const { year, month, day, hour, minute } = local;
	if (!Number.isInteger(year) || year < 1 || year > 9999) throw new RangeError('"local.year" expected an integer 1-9999, got ' + String(year));
	if (!Number.isInteger(month) || month < 1 || month > 12) throw new RangeError('"local.month" expected an integer 1-12, got ' + String(month));
	const last = daysInMonth(year, month);
	if (!Number.isInteger(day) || day < 1 || day > last) throw new RangeError('"local.day" expected an integer 1-' + last + ', got ' + String(day));
	if (!Number.isInteger(hour) || hour < 0 || hour > 23) throw new RangeError('"local.hour" expected an integer 0-23, got ' + String(hour));
	if (!Number.isInteger(minute) || minute < 0 || minute > 59) throw new RangeError('"local.minute" expected an integer 0-59, got ' + String(minute));
}

/**
 * The instant a wall-clock time happens. `exact`: it happens once. `overlap`: it happens
 * twice (clocks fell back) and this is the first time. `gap`: it never happens (clocks
 * jumped over it) and this is the instant of the jump, the first valid instant after it.
 */
export function localToUtc(rule: TzRule, local: LocalTime): { utcMs: number; kind: LocalKind } {
	checkLocal(local);
	const wall = daysFromCivil(local.year, local.month, local.day) * SECONDS_PER_DAY + local.hour * 3600 + local.minute * 60;
	const offsets = rule.dst === undefined || rule.dst.offset === rule.std.offset ? [rule.std.offset] : [rule.std.offset, rule.dst.offset];
	const valid: number[] = [];
	for (const offset of offsets) {
		const t = wall - offset;
		if (offsetAtSeconds(rule, t) === offset) valid.push(t);
	}
	if (valid.length === 1) return { utcMs: valid[0]! * 1000, kind: 'exact' };
	if (valid.length === 2) return { utcMs: Math.min(valid[0]!, valid[1]!) * 1000, kind: 'overlap' };
	// Neither reading holds: wall - larger offset is before a change to the larger offset and
	// wall - smaller offset is at or after it; that change is the instant of the jump.
	const lo = wall - Math.max(rule.std.offset, rule.dst!.offset);
	const hi = wall - Math.min(rule.std.offset, rule.dst!.offset);
	const jump = nextChangeSeconds(rule, lo);
	return { utcMs: (jump !== undefined && jump <= hi ? jump : hi) * 1000, kind: 'gap' };
}
