/*
 * When the next mission starts: each enabled entry's "HH:MM" on each of its days, read in the
 * schedule's POSIX rule by localToUtc, so the gap and overlap policies of ./tz.ts apply (a
 * start the clocks skip runs at the jump; a start that happens twice runs the first time).
 *
 * Work is bounded by days, not minutes: local dates from the day before `after` (a start
 * pushed forward across midnight by a gap) up to a week after it, stopping at the first day
 * that has a start after `after`. localToUtc never maps a later wall-clock time to an
 * earlier instant, so no later day can start sooner.
 */
import { civilFromDays, floorDiv, SECONDS_PER_DAY, weekdayOf } from './civil';
import { DAYS, type Day, type Schedule } from './model';
import { localToUtc, offsetAt, parseTz } from './tz';

export interface NextRun {
	readonly utcMs: number;
	readonly entryId: string;
}

/** Day names indexed by weekdayOf (0 = Sunday). */
const BY_WEEKDAY: readonly Day[] = Object.freeze(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']);

/**
 * The first mission start strictly after `afterUtcMs`, or undefined when no entry is enabled.
 * Entries that start at the same instant (two starts skipped into the same jump) run once:
 * the one listed first is named.
 */
export function nextRun(schedule: Schedule, afterUtcMs: number): NextRun | undefined {
	if (typeof afterUtcMs !== 'number' || !Number.isFinite(afterUtcMs)) throw new RangeError('"afterUtcMs" expected a finite number, got ' + String(afterUtcMs));
	const parsed = parseTz(schedule.tz);
	if (!parsed.ok) throw new TypeError('"schedule" expected a validated schedule: ' + parsed.error.message);
	const rule = parsed.value;
	const enabled = schedule.entries.filter((e) => e.enabled);
	if (enabled.length === 0) return undefined;

	const today = floorDiv(Math.floor(afterUtcMs / 1000) + offsetAt(rule, afterUtcMs), SECONDS_PER_DAY);
	for (let d = today - 1; d <= today + DAYS.length; d++) {
		const day = BY_WEEKDAY[weekdayOf(d)]!;
		const { year, month, day: date } = civilFromDays(d);
		let best: NextRun | undefined;
		for (const e of enabled) {
			if (!e.days.includes(day)) continue;
			const hour = Number(e.start.slice(0, 2));
			const minute = Number(e.start.slice(3, 5));
			const { utcMs } = localToUtc(rule, { year, month, day: date, hour, minute });
			if (utcMs > afterUtcMs && (best === undefined || utcMs < best.utcMs)) best = { utcMs, entryId: e.id };
		}
		if (best !== undefined) return best;
	}
	return undefined; // unreachable for a validated schedule: every entry has a day each week
}
