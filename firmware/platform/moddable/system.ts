/* Clock, timers, randomness and the structured log on Moddable. */
import Time from 'time';
import Timer from 'timer';
import type { ClockPort, LogLevel, LogPort, RandomPort, TimerHandle, TimerPort } from '../../ports';

/** Before this the wall clock was never set (no RTC, no SNTP yet): Date.now() counts from boot at 1970. */
const CLOCK_SET_AFTER = Date.UTC(2024, 0, 1);

/**
 * Time.ticks is a millisecond counter that may be 32-bit and wrap (ESP32: ~49.7 days).
 * Accumulating deltas modulo 2^32 keeps `monotonic` going forward as long as it is
 * read at least once per wrap period (the link's keep-alive reads it every few seconds).
 * The first reading is taken on the first call, not when the module body runs: this
 * module is preloaded, so its body runs in mcconfig at build time, on the build host.
 */
function monotonicClock(): () => number {
	let last: number | undefined;
	let total = 0;
	return () => {
		const now = Time.ticks;
		if (last !== undefined) total += (now - last) >>> 0;
		last = now;
		return total;
	};
}

/**
 * What a Time.set did not take, added to every wall-clock reading: 0 where Time.set sets the
 * clock (ESP32); on lin Time.set does nothing (Date.now() stays the host's), so the difference
 * is kept here and the robot's clock reads what SNTP gave on every platform (the device
 * scenario sntp checks the robot's own reading after a reply far from the host's time).
 */
let unsetMs = 0;

/** Sets the wall clock to `seconds` since the epoch (SNTP): Time.set, corrected where it does not take. */
export function setWallClock(seconds: number): void {
	if (!Number.isFinite(seconds) || seconds <= 0) throw new RangeError('"seconds" expected a positive number, got ' + String(seconds));
	Time.set(seconds);
	const miss = seconds * 1000 - Date.now();
	// Time.set takes whole seconds: within a second it took
	unsetMs = Math.abs(miss) > 1000 ? miss : 0;
}

export const moddableClock: ClockPort = {
	now() {
		const t = Date.now() + unsetMs;
		return t >= CLOCK_SET_AFTER ? t : undefined;
	},
	monotonic: monotonicClock(),
};

export const moddableTimers: TimerPort = {
	set: (callback, ms) => Timer.set(() => callback(), ms) as unknown as TimerHandle,
	clear: (handle) => Timer.clear(handle as unknown as Timer),
};

export const moddableRandom: RandomPort = { random: () => Math.random() };

const ORDER: Readonly<Record<LogLevel, number>> = Object.freeze({ debug: 0, info: 1, warn: 2, error: 3 });

/** One JSON object per line through trace(): {"t":ms,"level":...,"event":...,...fields}. */
export function traceLog(min: LogLevel = 'info'): LogPort {
	return {
		log(level, event, fields) {
			if (ORDER[level] < ORDER[min]) return;
			trace(JSON.stringify({ t: Time.ticks, level, event, ...fields }) + '\n');
		},
	};
}
