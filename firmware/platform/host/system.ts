/* Clock, timers, randomness and the structured log on Node. */
import type { ClockPort, LogPort, LogLevel, RandomPort, TimerHandle, TimerPort } from '../../ports';

export const hostClock: ClockPort = {
	now: () => Date.now(),
	monotonic: () => performance.now(),
};

export const hostTimers: TimerPort = {
	set: (callback, ms) => setTimeout(callback, ms) as unknown as TimerHandle,
	clear: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
};

export const hostRandom: RandomPort = { random: () => Math.random() };

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** One JSON object per line: {"t":...,"level":...,"event":...,...fields}, at `min` level and above. */
export function jsonLog(write: (line: string) => void, min: LogLevel = 'info', base: Record<string, string> = {}): LogPort {
	return {
		log(level, event, fields) {
			if (ORDER[level] < ORDER[min]) return;
			write(JSON.stringify({ t: new Date().toISOString(), level, event, ...base, ...fields }));
		},
	};
}

/** A log that keeps lines in memory, for tests that assert what was logged. */
export function memoryLog(): LogPort & { readonly lines: { level: LogLevel; event: string; fields: Record<string, unknown> }[] } {
	const lines: { level: LogLevel; event: string; fields: Record<string, unknown> }[] = [];
	return { lines, log: (level, event, fields) => void lines.push({ level, event, fields: { ...fields } }) };
}
