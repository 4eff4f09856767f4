/*
 * A repeating timer over the TimerPort, which has one-shot timers only: `start(fn, ms)` calls
 * `fn` every `ms` until `stop`. The next timer is set before `fn` runs, so a `fn` that throws
 * or starts work that never settles does not end the beat, and a `stop` (or `start`) from
 * inside `fn` replaces that timer. One of these serves each periodic job of the core: the
 * health reporter's and the certificate renewer's checks, the link's keep-alive tick.
 */
import type { TimerHandle, TimerPort } from '../../ports';

export class Periodic {
	readonly #timers: TimerPort;
	#handle: TimerHandle | undefined;

	constructor(timers: TimerPort) {
		this.#timers = timers;
	}

	/** True between `start` and `stop`. */
	get running(): boolean {
		return this.#handle !== undefined;
	}

	/** Calls `fn` every `ms` from now (the first call `ms` from now); a running beat is replaced. */
	start(fn: () => void, ms: number): void {
		if (typeof fn !== 'function') throw new TypeError('"fn" expected a function');
		if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError('"ms" expected a finite number > 0, got ' + String(ms));
		this.stop();
		const tick = () => {
			this.#handle = this.#timers.set(tick, ms);
			fn();
		};
		this.#handle = this.#timers.set(tick, ms);
	}

	stop(): void {
		if (this.#handle !== undefined) this.#timers.clear(this.#handle);
		this.#handle = undefined;
	}
}
