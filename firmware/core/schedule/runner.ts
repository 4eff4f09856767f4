/*
 * Fires scheduled missions on time from the device clock, with or without a
 * network: the schedule lives on the robot.
 *
 * Timers are set for at most `maxSleepMs` ahead and the wall clock is read again
 * when one fires, so a clock set or corrected meanwhile (SNTP after boot, a jump)
 * is taken into account within that hop.
 *
 * Clock unknown (power loss on a board without a battery-backed RTC, before SNTP):
 * the robot cannot tell the day or the hour, so it starts nothing on schedule (a
 * button or the app still can) and checks again every hop. Once the clock is
 * known, a mission whose start passed less than `graceMs` ago runs late, once;
 * older ones are skipped and logged. The same rule covers a robot that was busy or
 * switched off at the start time. The last start is persisted so that a reboot
 * in the same minute does not run a mission twice.
 */
import type { ClockPort, LogPort, StoragePort, TimerHandle, TimerPort } from '../../ports';
import { utf8Decode, utf8Encode } from '../util/utf8';
import type { Schedule } from './model';
import { nextRun } from './next';
import { readRecord, writeError, writeRecord } from '../util/record';

export interface RunnerOptions {
	readonly maxSleepMs?: number;
	readonly graceMs?: number;
	/** Storage key of the last start. */
	readonly storageKey?: string;
}

export interface Due {
	readonly entryId: string;
	/** When it was due (epoch ms). */
	readonly at: number;
	/** ms after `at` that it actually starts. */
	readonly lateMs: number;
	readonly mode?: string;
	readonly rooms?: readonly string[];
}

export class ScheduleRunner {
	readonly #ports: { clock: ClockPort; timers: TimerPort; storage: StoragePort; log: LogPort };
	readonly #onDue: (d: Due) => void;
	readonly #maxSleepMs: number;
	readonly #graceMs: number;
	readonly #key: string;
	#schedule: Schedule | undefined;
	#timer: TimerHandle | undefined;
	/** Epoch ms of the last start we fired; starts at or before it are done. */
	#last: number | undefined;
	/** undefined until the first check, so the first unknown clock is logged once. */
	#clockKnown: boolean | undefined;

	constructor(ports: { clock: ClockPort; timers: TimerPort; storage: StoragePort; log: LogPort }, onDue: (d: Due) => void, options: RunnerOptions = {}) {
		this.#ports = ports;
		this.#onDue = onDue;
		this.#maxSleepMs = options.maxSleepMs ?? 60_000;
		this.#graceMs = options.graceMs ?? 15 * 60_000;
		this.#key = options.storageKey ?? 'sched.last';
		if (!(this.#maxSleepMs >= 1000) || !(this.#graceMs >= 0)) throw new RangeError('"maxSleepMs" expected >= 1000 and "graceMs" >= 0');
		const raw = readRecord(ports.storage, this.#key);
		const n = raw ? Number(utf8Decode(raw)) : NaN;
		this.#last = Number.isFinite(n) ? n : undefined;
	}

	/** Runs `schedule` from now on (replacing the previous one). */
	set(schedule: Schedule): void {
		this.#schedule = schedule;
		this.#check();
	}

	stop(): void {
		if (this.#timer !== undefined) this.#ports.timers.clear(this.#timer);
		this.#timer = undefined;
		this.#schedule = undefined;
	}

	#check(): void {
		if (this.#timer !== undefined) this.#ports.timers.clear(this.#timer);
		this.#timer = undefined;
		const schedule = this.#schedule;
		if (!schedule) return;
		const now = this.#ports.clock.now();
		if (now === undefined) {
			if (this.#clockKnown !== false) this.#ports.log.log('warn', 'schedule.clock_unknown', { retryMs: this.#maxSleepMs });
			this.#clockKnown = false;
			return this.#sleep(this.#maxSleepMs);
		}
		this.#clockKnown = true;
		// the last start that was due and not yet run, looked for within the grace window
		const from = Math.max(now - this.#graceMs, this.#last ?? -Infinity);
		let due = nextRun(schedule, from);
		while (due && due.utcMs <= now) {
			const later = nextRun(schedule, due.utcMs);
			if (later && later.utcMs <= now) {
				// an older start the robot missed entirely: say so, run only the newest
				this.#ports.log.log('warn', 'schedule.missed', { entry: due.entryId, at: due.utcMs });
				due = later;
				continue;
			}
			this.#fire(schedule, due.entryId, due.utcMs, now);
			due = later;
		}
		this.#sleep(due ? Math.min(this.#maxSleepMs, due.utcMs - now) : this.#maxSleepMs);
	}

	#fire(schedule: Schedule, entryId: string, at: number, now: number): void {
		this.#last = at;
		const w = writeRecord(this.#ports.storage, this.#key, utf8Encode(String(at)));
		// the start runs anyway (cleaning matters more); a reboot within the grace window may run it again
		if (!w.ok) this.#ports.log.log('warn', 'schedule.last_unsaved', { entry: entryId, at, result: writeError(w) });
		const entry = schedule.entries.find((e) => e.id === entryId);
		this.#ports.log.log('info', 'schedule.due', { entry: entryId, at, lateMs: now - at });
		this.#onDue({ entryId, at, lateMs: now - at, ...(entry?.mode ? { mode: entry.mode } : {}), ...(entry?.rooms ? { rooms: entry.rooms } : {}) });
	}

	#sleep(ms: number): void {
		this.#timer = this.#ports.timers.set(
			() => {
				this.#timer = undefined;
				this.#check();
			},
			Math.max(0, ms),
		);
	}
}
