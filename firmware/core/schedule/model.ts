/*
 * The weekly cleaning schedule, as it travels in the `schedule` shadow:
 *
 *   { "tz": "CET-1CEST,M3.5.0,M10.5.0/3",
 *     "entries": [ { "id": "weekday-morning", "days": ["mon","tue","wed","thu","fri"],
 *                    "start": "09:30", "enabled": true, "mode": "vacuum", "rooms": ["kitchen"] } ] }
 *
 * Days are names, not a bitmask: a person reading the shadow in the console or a log sees
 * the days, and 16 entries of all seven days cost under 800 bytes of the 8 KB shadow state.
 * Days must be listed in week order (mon..sun) without repeats, so every schedule has one
 * spelling: the shadow compares documents as written, and a reordered copy reported back
 * would leave a delta that never clears.
 *
 * validateSchedule accepts exactly this shape (unknown fields are errors, every error names
 * its path) and returns a frozen copy; canonicalJson and sameSchedule serve reconciliation.
 */
import { parseTz } from './tz';
import { err, ok, type Result } from '../util/result';
import { pattern } from '../util/pattern';

export const MAX_ENTRIES = 16;
export const MAX_ID_LENGTH = 32;
export const MAX_ROOMS = 16;
export const MAX_ROOM_LENGTH = 32;

/** Week order, Monday first (ISO 8601); a schedule lists its days in this order. */
export const DAYS = Object.freeze(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const);
export type Day = (typeof DAYS)[number];

export const MODES = Object.freeze(['vacuum', 'mop', 'both'] as const);
export type Mode = (typeof MODES)[number];

export interface Entry {
	/** 1-32 characters of [a-z0-9-], unique in the schedule */
	readonly id: string;
	/** at least one day, in week order, no repeats */
	readonly days: readonly Day[];
	/** local wall-clock time "HH:MM", 00:00-23:59 */
	readonly start: string;
	readonly enabled: boolean;
	readonly mode?: Mode;
	/** cleaning order; absent means everywhere; 1-16 distinct names of 1-32 characters */
	readonly rooms?: readonly string[];
}

export interface Schedule {
	/** POSIX TZ rule the start times are read in (./tz.ts) */
	readonly tz: string;
	readonly entries: readonly Entry[];
}

export interface ScheduleError {
	/** where, as in `entries[2].start` */
	readonly path: string;
	/** what was expected and what was found */
	readonly message: string;
}

const ENTRY_KEYS = Object.freeze(['id', 'days', 'start', 'enabled', 'mode', 'rooms']);
const SCHEDULE_KEYS = Object.freeze(['tz', 'entries']);
const ID = pattern(() => /^[a-z0-9-]{1,32}$/);
const HHMM = pattern(() => /^([01][0-9]|2[0-3]):[0-5][0-9]$/);

/** A found value for an error message, cut short so errors stay small. */
function got(x: unknown): string {
	if (x === undefined) return 'nothing';
	if (Array.isArray(x) && x.length > 8) return 'an array of ' + x.length;
	let text: string;
	try {
		text = JSON.stringify(x) ?? typeof x;
	} catch {
		text = typeof x;
	}
	return text.length > 40 ? text.slice(0, 37) + '...' : text;
}

function isRecord(x: unknown): x is Record<string, unknown> {
	return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Characters (code points), not UTF-16 units, so a room named in any script counts fairly. */
function codePoints(s: string): number {
	let n = 0;
	for (const _ of s) n++;
	return n;
}

function unknownKeys(x: Record<string, unknown>, known: readonly string[], path: string, errors: ScheduleError[]): void {
	for (const k of Object.keys(x)) if (!known.includes(k)) errors.push({ path: path + k, message: 'unknown field, expected one of ' + known.join(', ') });
}

function days(x: unknown, path: string, errors: ScheduleError[]): readonly Day[] | undefined {
	if (!Array.isArray(x) || x.length === 0) {
		errors.push({ path, message: 'expected a non-empty array of "mon".."sun", got ' + got(x) });
		return undefined;
	}
	let last = -1;
	for (let i = 0; i < x.length; i++) {
		const at = DAYS.indexOf(x[i] as Day);
		if (at < 0) {
			errors.push({ path: path + '[' + i + ']', message: 'expected one of ' + DAYS.join(', ') + ', got ' + got(x[i]) });
			return undefined;
		}
		if (at <= last) {
			errors.push({ path, message: 'expected days in week order mon..sun without repeats, got ' + got(x) });
			return undefined;
		}
		last = at;
	}
	return Object.freeze(x.slice() as Day[]);
}

function rooms(x: unknown, path: string, errors: ScheduleError[]): readonly string[] | undefined {
	if (!Array.isArray(x) || x.length === 0 || x.length > MAX_ROOMS) {
		errors.push({ path, message: 'expected an array of 1-' + MAX_ROOMS + ' room names (omit it to clean everywhere), got ' + got(x) });
		return undefined;
	}
	const before = errors.length;
	x.forEach((room: unknown, i) => {
		const where = path + '[' + i + ']';
		if (typeof room !== 'string' || room.length === 0 || codePoints(room) > MAX_ROOM_LENGTH || /[\u0000-\u001f\u007f]/.test(room))
			errors.push({ path: where, message: 'expected a name of 1-' + MAX_ROOM_LENGTH + ' characters without control characters, got ' + got(room) });
		else if (x.indexOf(room) !== i) errors.push({ path: where, message: 'duplicate room ' + got(room) + ' (also [' + x.indexOf(room) + '])' });
	});
	return errors.length === before ? Object.freeze(x.slice() as string[]) : undefined;
}

function entry(x: unknown, path: string, errors: ScheduleError[]): Entry | undefined {
	if (!isRecord(x)) {
		errors.push({ path, message: 'expected an object, got ' + got(x) });
		return undefined;
	}
	const before = errors.length;
	unknownKeys(x, ENTRY_KEYS, path + '.', errors);
	if (typeof x.id !== 'string' || !ID.test(x.id)) errors.push({ path: path + '.id', message: 'expected 1-' + MAX_ID_LENGTH + ' characters of a-z, 0-9 and "-", got ' + got(x.id) });
	const d = days(x.days, path + '.days', errors);
	if (typeof x.start !== 'string' || !HHMM.test(x.start)) errors.push({ path: path + '.start', message: 'expected "HH:MM" 00:00-23:59, got ' + got(x.start) });
	if (typeof x.enabled !== 'boolean') errors.push({ path: path + '.enabled', message: 'expected true or false, got ' + got(x.enabled) });
	if (x.mode !== undefined && !MODES.includes(x.mode as Mode)) errors.push({ path: path + '.mode', message: 'expected one of ' + MODES.join(', ') + ', got ' + got(x.mode) });
	const r = x.rooms === undefined ? undefined : rooms(x.rooms, path + '.rooms', errors);
	if (errors.length !== before || d === undefined) return undefined;
	const e: { -readonly [K in keyof Entry]: Entry[K] } = { id: x.id as string, days: d, start: x.start as string, enabled: x.enabled as boolean };
	if (x.mode !== undefined) e.mode = x.mode as Mode;
	if (r !== undefined) e.rooms = r;
	return Object.freeze(e);
}

/** Checks a parsed JSON value against the schedule shape; every error carries its path. */
export function validateSchedule(x: unknown): Result<Schedule, ScheduleError[]> {
	const errors: ScheduleError[] = [];
	if (!isRecord(x)) return err([{ path: '', message: 'expected a schedule object {tz, entries}, got ' + got(x) }]);
	unknownKeys(x, SCHEDULE_KEYS, '', errors);
	if (typeof x.tz !== 'string') errors.push({ path: 'tz', message: 'expected a POSIX TZ rule string, got ' + got(x.tz) });
	else {
		const rule = parseTz(x.tz);
		if (!rule.ok) errors.push({ path: 'tz', message: rule.error.message });
	}
	const entries: Entry[] = [];
	if (!Array.isArray(x.entries) || x.entries.length > MAX_ENTRIES) {
		errors.push({ path: 'entries', message: 'expected an array of at most ' + MAX_ENTRIES + ' entries, got ' + got(x.entries) });
	} else {
		const seen = new Map<string, number>();
		x.entries.forEach((item: unknown, i) => {
			const path = 'entries[' + i + ']';
			const e = entry(item, path, errors);
			if (e === undefined) return;
			const first = seen.get(e.id);
			if (first !== undefined) errors.push({ path: path + '.id', message: 'duplicate id "' + e.id + '" (also entries[' + first + '])' });
			else seen.set(e.id, i);
			entries.push(e);
		});
	}
	if (errors.length > 0) return err(errors);
	return ok(Object.freeze({ tz: x.tz as string, entries: Object.freeze(entries) }));
}

/**
 * One spelling per schedule: keys sorted (the RFC 8785 JSON Canonicalization Scheme order;
 * for the strings, integers and booleans a schedule holds, JSON.stringify then yields JCS
 * exactly), absent optional fields left out, arrays in their own order.
 */
export function canonicalJson(s: Schedule): string {
	return JSON.stringify(sortKeys(s));
}

function sortKeys(x: unknown): unknown {
	if (Array.isArray(x)) return x.map(sortKeys);
	if (!isRecord(x)) return x;
	const out: Record<string, unknown> = {};
	for (const k of Object.keys(x).sort()) if (x[k] !== undefined) out[k] = sortKeys(x[k]);
	return out;
}

/** Same schedule as the shadow sees it: same canonical JSON (the tz rule compares as text). */
export function sameSchedule(a: Schedule, b: Schedule): boolean {
	return canonicalJson(a) === canonicalJson(b);
}
