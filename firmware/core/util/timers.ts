/*
 * Timers over the TimerPort, which has one-shot timers only, with the handle bookkeeping
 * written once:
 * - `Timeout`: one pending call at most; `set` replaces the pending one, and `pending` is
 *   false again once it has fired or was cleared (a retry after a backoff, a deadline, a
 *   flush a little later).
 * - `Periodic`: `start(fn, ms)` calls `fn` every `ms` until `stop`. The next timer is set
 *   before `fn` runs, so a `fn` that throws or starts work that never settles does not end
 *   the beat, and a `stop` (or `start`) from inside `fn` replaces that timer (the health
 *   reporter's and the certificate renewer's checks, the link's keep-alive tick).
 */
import type { TimerHandle, TimerPort } from '../../ports';

export class Timeout {
	readonly #timers: TimerPort;
	#handle: TimerHandle | undefined;

	constructor(timers: TimerPort) {
		this.#timers = timers;
	}

	/** True from `set` until the call is made or cleared. */
	get pending(): boolean {
		return this.#handle !== undefined;
	}

	/** Calls `fn` once, `ms` from now (0: after the current turn), in place of a call pending. */
	set(fn: () => void, ms: number): void {
		if (typeof fn !== 'function') throw new TypeError('"fn" expected a function');
		if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError('"ms" expected a finite number >= 0, got ' + String(ms));
		this.clear();
		this.#handle = this.#timers.set(() => {
			this.#handle = undefined;
			fn();
		}, ms);
	}

	clear(): void {
		if (this.#handle !== undefined) this.#timers.clear(this.#handle);
		this.#handle = undefined;
	}
}

/** A Timeout that sets itself again before each call. */
export class Periodic {
	readonly #next: Timeout;

	constructor(timers: TimerPort) {
		this.#next = new Timeout(timers);
	}

	/** True between `start` and `stop` (inside `fn` too: the next call is set before it runs). */
	get running(): boolean {
		return this.#next.pending;
	}

	/** Calls `fn` every `ms` from now (the first call `ms` from now); a running beat is replaced. */
	start(fn: () => void, ms: number): void {
		if (typeof fn !== 'function') throw new TypeError('"fn" expected a function');
		// 0 would call fn again and again within one advance of the clock
		if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError('"ms" expected a finite number > 0, got ' + String(ms));
		const tick = () => {
			this.#next.set(tick, ms);
			fn();
		};
		this.#next.set(tick, ms);
	}

	stop(): void {
		this.#next.clear();
	}
}
