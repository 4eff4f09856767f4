/*
 * The one runner of the core's state machines (style: a union of states, one pure step
 * returning effects, one runner). It runs each event to completion: the state is set, then
 * the step's effects run in order, then `settled` (listeners) is told; an event dispatched
 * meanwhile (an effect that reports at once, a listener that reacts) waits in a queue and
 * runs after. So no effect ever sees a state newer than the step that asked for it, and
 * listeners see each state in order, once.
 *
 * `admit` runs before a transition is taken and may refuse it with a reason (the state
 * stays, no effect runs): a value that must be saved before the machine may act on it.
 */

/** What a machine's step returns; undefined from `step` means the event does not apply. */
export interface Transition<S, F> {
	readonly state: S;
	readonly effects: readonly F[];
}

export interface Machine<S, E, F> {
	step(state: S, event: E): Transition<S, F> | undefined;
	/** Runs one effect; the state is already the step's. */
	perform(effect: F, event: E): void;
	/** A reason refuses the transition before it is taken. */
	admit?(next: Transition<S, F>, event: E, from: S): string | undefined;
	/** The state is set and no effect has run yet (a state-change log line precedes what the effects log). */
	entered?(state: S, from: S, event: E): void;
	/** After the effects of an event that applied: listeners, logs. */
	settled?(state: S, from: S, event: E, effects: readonly F[]): void;
	/** An event that did not apply in `state`. */
	ignored?(state: S, event: E): void;
}

export class Runner<S, E, F> {
	readonly #machine: Machine<S, E, F>;
	readonly #queue: E[] = [];
	#state: S;
	#running = false;

	constructor(initial: S, machine: Machine<S, E, F>) {
		this.#state = initial;
		this.#machine = machine;
	}

	get state(): S {
		return this.#state;
	}

	/** True while an event is being run (a dispatch now is queued). */
	get running(): boolean {
		return this.#running;
	}

	/**
	 * Runs `event` and whatever it causes to be dispatched, to completion. Returns the reason
	 * `admit` refused it, when it ran at once; a dispatch from inside a run is queued and
	 * returns undefined (its refusal, if any, is the machine's to log).
	 */
	dispatch(event: E): string | undefined {
		this.#queue.push(event);
		if (this.#running) return undefined;
		this.#running = true;
		try {
			let refused: string | undefined;
			let first = true;
			for (let e = this.#queue.shift(); e !== undefined; e = this.#queue.shift()) {
				const r = this.#run(e);
				if (first) refused = r;
				first = false;
			}
			return refused;
		} finally {
			this.#running = false;
			// an effect threw (a programmer's error): what it queued would run against a state it never saw
			this.#queue.length = 0;
		}
	}

	#run(e: E): string | undefined {
		const m = this.#machine;
		const from = this.#state;
		const next = m.step(from, e);
		if (!next) {
			m.ignored?.(from, e);
			return undefined;
		}
		const refused = m.admit?.(next, e, from);
		if (refused !== undefined) return refused;
		this.#state = next.state;
		m.entered?.(this.#state, from, e);
		for (const fx of next.effects) m.perform(fx, e);
		m.settled?.(this.#state, from, e, next.effects);
		return undefined;
	}
}
