/*
 * Runs the reconciliation machine (reconcile.ts) over the link and a shadow
 * client: performs its effects and feeds their results back as events.
 *
 * The read starts when the link starts connecting, not when it is connected: the
 * GET then rides in the connection's first write with CONNECT and SUBSCRIBE, and
 * the document is in hand after three round trips (two TLS, one MQTT).
 */
import type { ClockPort, LogPort, StoragePort, StorageWrite, TimerPort, RandomPort } from '../../ports';
import { backoffDelay, type BackoffPolicy } from '../link/backoff';
import type { LinkListener } from '../link/link';
import { utf8Decode, utf8Encode } from '../util/utf8';
import type { ShadowClient } from './client';
import { initialSync, step, type Codec, type Owned, type SyncEffect, type SyncEvent, type SyncState } from './reconcile';
import { readRecord, writeError, writeRecord } from '../util/record';
import { Runner } from '../util/runner';
import { Timeout } from '../util/timers';

export interface SyncPorts {
	readonly timers: TimerPort;
	readonly clock: ClockPort;
	readonly random: RandomPort;
	readonly storage: StoragePort;
	readonly log: LogPort;
}

export interface SyncOptions<T> {
	readonly codec: Codec<T>;
	/** Storage key of the owned value (<= 15 characters). */
	readonly storageKey: string;
	/** What the robot runs before any edit reached it (factory default). */
	readonly initial: T;
	/** Called whenever the value the robot runs changes (boot included). */
	readonly onApply: (value: T, owned: Owned<T>) => void;
	readonly backoff?: BackoffPolicy;
}

const RETRY: BackoffPolicy = Object.freeze({ baseMs: 2000, capMs: 60_000 });

export class ShadowSync<T> {
	readonly #shadow: ShadowClient;
	readonly #ports: SyncPorts;
	readonly #opts: SyncOptions<T>;
	readonly #runner: Runner<SyncState<T>, SyncEvent<T>, SyncEffect<T>>;
	readonly #retry: Timeout;
	#listeners: ((s: SyncState<T>) => void)[] = [];

	constructor(link: { listen(l: LinkListener): () => void }, shadow: ShadowClient, ports: SyncPorts, options: SyncOptions<T>) {
		this.#shadow = shadow;
		this.#ports = ports;
		this.#retry = new Timeout(ports.timers);
		this.#opts = options;
		// run to completion: a reply or a refused save that dispatches waits for the step in progress
		this.#runner = new Runner<SyncState<T>, SyncEvent<T>, SyncEffect<T>>(initialSync(this.#load()), {
			step: (st, e) => step(this.#opts.codec, st, e),
			admit: (next, e) => this.#admit(next.effects, e),
			perform: (fx) => this.#perform(fx),
			settled: (st, from, e) => {
				if (from.value !== st.value) this.#ports.log.log('debug', 'sync.state', { key: this.#opts.codec.key, from: from.value, to: st.value, event: e.type });
				for (const l of this.#listeners) l(st);
			},
		});
		options.onApply(this.#runner.state.owned.value, this.#runner.state.owned);
		shadow.onDelta(() => this.#dispatch({ type: 'delta' }));
		link.listen({
			state: (s) => {
				if (s.value === 'connecting') this.#dispatch({ type: 'online' });
				// the shadow client abandons its own requests in flight (link/requests.ts)
				else if (s.value === 'waiting' || s.value === 'offline') this.#dispatch({ type: 'offline' });
			},
		});
	}

	get state(): SyncState<T> {
		return this.#runner.state;
	}

	get value(): T {
		return this.#runner.state.owned.value;
	}

	listen(l: (s: SyncState<T>) => void): void {
		this.#listeners.push(l);
	}

	/** An edit made on the robot itself (buttons); applied at once, reported when possible. */
	edit(value: T): { ok: true } | { ok: false; error: string } {
		const checked = this.#opts.codec.validate(value);
		if (!checked.ok) return checked;
		// from inside a step (a listener) the edit would be queued and its save's answer unknown here
		if (this.#runner.running) return { ok: false, error: 'busy: an edit cannot be made from inside a sync step' };
		const refused = this.#dispatch({ type: 'localEdit', value: checked.value, at: this.#ports.clock.now() });
		return refused ? { ok: false, error: 'storage: ' + refused } : { ok: true };
	}

	#load(): Owned<T> {
		const raw = readRecord(this.#ports.storage, this.#opts.storageKey);
		if (raw) {
			try {
				const o = JSON.parse(utf8Decode(raw) ?? '') as { v: unknown; e?: number; d?: boolean };
				const checked = this.#opts.codec.validate(o.v);
				if (checked.ok) return { value: checked.value, editedAt: typeof o.e === 'number' ? o.e : undefined, dirty: o.d === true };
				this.#ports.log.log('error', 'sync.stored_invalid', { key: this.#opts.storageKey, error: checked.error });
			} catch (e) {
				this.#ports.log.log('error', 'sync.stored_unreadable', { key: this.#opts.storageKey, error: String(e) });
			}
		}
		return { value: this.#opts.initial, editedAt: undefined, dirty: false };
	}

	/** Two-phase (core/util/record.ts): a refused write leaves the previous value on storage, intact. */
	#save(o: Owned<T>): StorageWrite {
		const body: Record<string, unknown> = { v: this.#opts.codec.toJson(o.value), d: o.dirty };
		if (o.editedAt !== undefined) body.e = o.editedAt;
		return writeRecord(this.#ports.storage, this.#opts.storageKey, utf8Encode(JSON.stringify(body)));
	}

	/**
	 * Runs one input. A value to apply is saved BEFORE the transition is taken: if the store
	 * refuses it, the input does not happen (the old value runs on, nothing is reported):
	 * a local edit is refused to its caller (the returned reason), an applied desired value
	 * stays in the shadow's desired and is read again after a backoff.
	 */
	#dispatch(e: SyncEvent<T>): string | undefined {
		return this.#runner.dispatch(e);
	}

	#admit(effects: readonly SyncEffect<T>[], e: SyncEvent<T>): string | undefined {
		for (const fx of effects) {
			if (fx.type !== 'apply') continue;
			const w = this.#save(fx.owned);
			if (w.ok) return undefined;
			this.#ports.log.log('error', 'sync.refused', { key: this.#opts.codec.key, input: e.type, result: writeError(w) });
			// queued: runs once this refusal is over
			if (e.type === 'read') this.#dispatch({ type: 'readFailed', error: { code: 'storage', result: writeError(w) } });
			return writeError(w);
		}
		return undefined;
	}

	#perform(fx: SyncEffect<T>): void {
		switch (fx.type) {
			case 'get':
				void this.#shadow.get().then((r) => {
					if (r.ok) this.#dispatch({ type: 'read', doc: r.value });
					else if (r.error.code === 'rejected' && r.error.status === 404) this.#dispatch({ type: 'read', doc: undefined });
					else this.#dispatch({ type: 'readFailed', error: r.error });
				});
				return;
			case 'update':
				void this.#shadow.update(fx.state, fx.version).then((r) => this.#dispatch(r.ok ? { type: 'written' } : { type: 'writeFailed', error: r.error }));
				return;
			case 'apply':
				// saved by #dispatch before the transition
				this.#opts.onApply(fx.owned.value, fx.owned);
				return;
			case 'persist': {
				// only the dirty flag changes: if refused, the stored copy still says dirty and a
				// reboot reports the same value once more
				const w = this.#save(fx.owned);
				if (!w.ok) this.#ports.log.log('warn', 'sync.persist_failed', { key: this.#opts.storageKey, result: writeError(w) });
				return;
			}
			case 'wait': {
				const ms = backoffDelay(this.#opts.backoff ?? RETRY, fx.attempt, this.#ports.random.random());
				return this.#retry.set(() => this.#dispatch({ type: 'retry' }), ms);
			}
			case 'log':
				this.#ports.log.log(fx.event === 'sync.desired_rejected' || fx.event === 'sync.retry' ? 'warn' : 'info', fx.event, { key: this.#opts.codec.key, detail: fx.detail });
				return;
		}
	}
}
