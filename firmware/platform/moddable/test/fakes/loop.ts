/*
 * The main loop the fakes share: a virtual millisecond clock and the timers due on it.
 * On the device the SDK's timers run from the main loop, never inside the call that set
 * them (modules/base/timer/modTimer.c, modTimerAdd); here they run only when a test calls
 * `advance` (or `turn` for what is due now), in due order, then by creation order.
 */
interface Entry {
	readonly id: number;
	due: number;
	readonly repeat: number;
	readonly run: () => void;
}

let now = 0;
let nextId = 1;
let pending: Entry[] = [];

export const loop = {
	/** Virtual ms since the fakes were reset (Time.ticks reads it). */
	get now(): number {
		return now;
	},
	/** For the timer fake: schedule `run` after `delay` ms (every `repeat` ms after, if > 0). */
	add(run: () => void, delay: number, repeat: number): number {
		const e: Entry = { id: nextId++, due: now + delay, repeat, run };
		pending.push(e);
		return e.id;
	},
	remove(id: number): void {
		pending = pending.filter((e) => e.id !== id);
	},
	/** How many timers are waiting. */
	get timers(): number {
		return pending.length;
	},
	/** Runs every timer due by now + ms, moving the clock to each one's time; then the clock is now + ms. */
	advance(ms: number): void {
		const end = now + ms;
		for (;;) {
			let next: Entry | undefined;
			for (const e of pending) if (e.due <= end && (!next || e.due < next.due || (e.due === next.due && e.id < next.id))) next = e;
			if (!next) break;
			now = Math.max(now, next.due);
			if (next.repeat > 0) next.due = now + next.repeat;
			else pending = pending.filter((e) => e !== next);
			next.run();
		}
		now = end;
	},
	/** What is due now (a 0 ms timer: "the next turn"). */
	turn(): void {
		this.advance(0);
	},
	reset(): void {
		now = 0;
		pending = [];
	},
};
