/*
 * Fake of the SDK's `timer` (modules/base/timer/timer.js over modTimer.c), on the shared
 * virtual loop (loop.ts). What it keeps from the SDK:
 * - Timer.set(callback, delay = 0, repeat = 0) returns a host object; the callback gets the
 *   timer and runs from the loop, never inside Timer.set. A delay is truncated to an integer
 *   (xsmcToInteger).
 * - Timer.clear(t) on a timer that already fired, was cleared, or on undefined does nothing
 *   (xs_timer_clear returns when the host data is gone).
 */
import { loop } from './loop';

export default class Timer {
	#id: number | undefined;
	private constructor(id: number) {
		this.#id = id;
	}
	static set(callback: (t: Timer) => void, delay = 0, repeat = 0): Timer {
		if (typeof callback !== 'function') throw new TypeError('Timer.set: callback is not a function');
		const t: Timer = new Timer(0);
		const ms = Math.trunc(Number(delay)) || 0;
		const every = Math.trunc(Number(repeat)) || 0;
		t.#id = loop.add(
			() => {
				if (every <= 0) t.#id = undefined;
				callback(t);
			},
			Math.max(0, ms),
			Math.max(0, every),
		);
		return t;
	}
	static repeat(callback: (t: Timer) => void, interval: number): Timer {
		return Timer.set(callback, interval, interval);
	}
	static clear(t: Timer | undefined): void {
		if (!(t instanceof Timer) || t.#id === undefined) return;
		loop.remove(t.#id);
		t.#id = undefined;
	}
}
