/*
 * IANA zone -> POSIX TZ rule (the form firmware/core/schedule/tz.ts evaluates), derived from
 * the host's Intl (ICU's copy of tzdata) by probing, for the app-side helper of issue #4.
 * Node only.
 *
 *   npx tsx tools/tz/iana-to-posix.ts Europe/Berlin [year]   -> CET-1CEST,M3.5.0,M10.5.0/3
 *
 * How: find the year's offset changes (daily samples, then bisection to the second). None:
 * a fixed rule. Two: the larger offset is daylight time (a negative-DST zone such as
 * Europe/Dublin comes out as the equivalent positive form). Each change is written as
 * `Mm.w.d/time` so that it fits the changes of the following PROBE_YEARS years too, which
 * tells "last Sunday" from "fourth Sunday" and "Sunday on or after the 2nd" (`M9.1.6/24`,
 * Saturday + 24 h) from "first Sunday". Names are ICU's English short names when they are
 * letters (EST, CEST), else the numeric `<+0530>` form tzdata uses.
 */

import { pathToFileURL } from 'node:url';

/** Years checked after `year`: enough for every weekday to start each month. */
const PROBE_YEARS = 12;
/** Locales asked for abbreviations, in order (en-NZ is left out: its CHAST is not tzdata's). */
const NAME_LOCALES = Object.freeze(['en-US', 'en-GB', 'en-AU', 'en-IN', 'en-CA']);
const DAY = 86400;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
	let f = formatters.get(zone);
	if (f === undefined) {
		f = new Intl.DateTimeFormat('en-US', {
			timeZone: zone,
			hourCycle: 'h23',
			year: 'numeric',
			month: 'numeric',
			day: 'numeric',
			hour: 'numeric',
			minute: 'numeric',
			second: 'numeric',
		});
		formatters.set(zone, f);
	}
	return f;
}

/** Offset of `zone` at `utcSeconds`, in seconds east of UTC, as Intl sees it. */
export function intlOffset(zone: string, utcSeconds: number): number {
	const parts: Record<string, number> = {};
	for (const p of formatter(zone).formatToParts(utcSeconds * 1000)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
	const local = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!) / 1000;
	return local - utcSeconds;
}

/** Offset changes of `zone` in [from, to), found by daily samples and bisection to the second. */
export function intlTransitions(zone: string, from: number, to: number): { at: number; before: number; after: number }[] {
	const out: { at: number; before: number; after: number }[] = [];
	let t = from;
	let off = intlOffset(zone, t);
	while (t < to) {
		const next = Math.min(t + DAY, to);
		const o = intlOffset(zone, next);
		if (o !== off) {
			let lo = t; // offset off at lo, o at hi: the change is in (lo, hi]
			let hi = next;
			while (hi - lo > 1) {
				const mid = Math.floor((lo + hi) / 2);
				if (intlOffset(zone, mid) === off) lo = mid;
				else hi = mid;
			}
			out.push({ at: hi, before: off, after: intlOffset(zone, hi) });
		}
		t = next;
		off = o;
	}
	return out;
}

function utcDay(seconds: number): { year: number; month: number; day: number; weekday: number } {
	const d = new Date(Math.floor(seconds / DAY) * DAY * 1000);
	return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: d.getUTCDay() };
}

const daysIn = (year: number, month: number): number => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** `[+-]h[:mm[:ss]]` of signed seconds. */
function hms(seconds: number): string {
	const a = Math.abs(seconds);
	const h = Math.floor(a / 3600);
	const m = Math.floor((a % 3600) / 60);
	const s = a % 60;
	return (seconds < 0 ? '-' : '') + h + (m || s ? ':' + String(m).padStart(2, '0') : '') + (s ? ':' + String(s).padStart(2, '0') : '');
}

function numericName(east: number): string {
	const a = Math.abs(east);
	const h = String(Math.floor(a / 3600)).padStart(2, '0');
	const m = Math.floor((a % 3600) / 60);
	return '<' + (east < 0 ? '-' : '+') + h + (m ? String(m).padStart(2, '0') : '') + '>';
}

function name(zone: string, at: number, east: number): string {
	for (const locale of NAME_LOCALES) {
		const part = new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: 'short' }).formatToParts(at * 1000).find((p) => p.type === 'timeZoneName');
		if (part && /^[A-Za-z]{3,}$/.test(part.value)) return part.value; // "GMT+1" and "GMT+5:30" are not names
	}
	return numericName(east);
}

/**
 * The `Mm.w.d[/time]` that gives each local wall-clock change time in `locals` (one per
 * year, seconds on the local timeline, read in the offset before the change).
 */
function changeRule(locals: number[]): string | undefined {
	const first = locals[0]!;
	for (const shift of [0, 1, -1]) {
		const day = Math.floor(first / DAY) - shift;
		const time = first - day * DAY;
		const d = utcDay(day * DAY);
		const weeks = [Math.ceil(d.day / 7)];
		if (d.day + 7 > daysIn(d.year, d.month)) weeks.unshift(5); // "last" fits as well: prefer it
		for (const week of weeks) {
			const fits = locals.every((local) => {
				const year = utcDay(local - time).year;
				const firstOfMonth = Date.UTC(year, d.month - 1, 1) / 1000;
				let dom = 1 + ((d.weekday - utcDay(firstOfMonth).weekday + 7) % 7) + (week - 1) * 7;
				while (dom > daysIn(year, d.month)) dom -= 7;
				return firstOfMonth + (dom - 1) * DAY + time === local;
			});
			if (fits) return 'M' + d.month + '.' + week + '.' + d.weekday + (time === 7200 ? '' : '/' + hms(time));
		}
	}
	return undefined;
}

/** The POSIX TZ rule of `zone` as in force in `year` (default: this year) and the years after. */
export function ianaToPosix(zone: string, year = new Date().getUTCFullYear()): string {
	const from = Date.UTC(year, 0, 1) / 1000 - DAY;
	const changes = intlTransitions(zone, from, from + 367 * DAY).filter((c) => utcDay(c.at + c.before).year === year);
	if (changes.length === 0) {
		const east = intlOffset(zone, Date.UTC(year, 6, 1) / 1000);
		return name(zone, Date.UTC(year, 6, 1) / 1000, east) + hms(-east);
	}
	if (changes.length !== 2) throw new Error(zone + ': ' + changes.length + ' offset changes in ' + year + ', a POSIX rule has 2');
	const std = Math.min(changes[0]!.before, changes[0]!.after);
	const dst = Math.max(changes[0]!.before, changes[0]!.after);
	// the same change in the years after, as local wall-clock times read before the change
	const locals = { start: [] as number[], end: [] as number[] };
	for (let y = year; y < year + PROBE_YEARS; y++) {
		const ys = Date.UTC(y, 0, 1) / 1000 - DAY;
		for (const c of intlTransitions(zone, ys, ys + 367 * DAY)) {
			if (utcDay(c.at + c.before).year !== y) continue;
			if (c.after === dst && c.before === std) locals.start.push(c.at + std);
			else if (c.after === std && c.before === dst) locals.end.push(c.at + dst);
		}
	}
	const start = changeRule(locals.start);
	const end = changeRule(locals.end);
	if (start === undefined || end === undefined) throw new Error(zone + ': no Mm.w.d rule fits its changes in ' + year + '-' + (year + PROBE_YEARS - 1));
	const atStd = changes.find((c) => c.after === std)!.at;
	const atDst = changes.find((c) => c.after === dst)!.at;
	return name(zone, atStd, std) + hms(-std) + name(zone, atDst, dst) + (dst - std === 3600 ? '' : hms(-dst)) + ',' + start + ',' + end;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
	const [zone, year] = process.argv.slice(2);
	if (!zone) {
		process.stderr.write('usage: npx tsx tools/tz/iana-to-posix.ts <IANA zone> [year]\n');
		process.exit(2);
	}
	process.stdout.write(ianaToPosix(zone, year === undefined ? undefined : Number(year)) + '\n');
}
