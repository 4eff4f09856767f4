/*
 * The robot's promise to upload a map for every report that says `map: 'pending'`, kept
 * across reboots and network outages.
 *
 * Policy
 * - A map is owed from the moment its report exists: the mission runner calls `add`
 *   before it writes the report (Missions' `beforeReport` hook), so a power loss between
 *   the two leaves the map owed, never a report promising a map nobody will send. The
 *   list lives in storage under one small key (`maps.todo`: mission id, area, failures;
 *   about 40 bytes an entry), rewritten two-phase on every change. A store too full to
 *   owe a new map drops that map (`map.dropped`, reason `storage`) and keeps the others.
 * - Bounded: at most `maxPending` maps (default 8) are owed; a new one pushes out the
 *   oldest (logged `map.dropped`, reason `full`). The newest map is the one worth having;
 *   the cloud keeps `mapReady: false` for a dropped one.
 * - One upload at a time (one frame of memory), oldest first, only while the link is
 *   connected. It starts when a map is added, when the link connects, and after a retry
 *   delay.
 * - Offline is not a failure: the map waits for the next connection. A failure that says
 *   "later" (a slot request that timed out, the cloud's `unavailable`, the network, an
 *   HTTP status of the PUT) is tried again after a backoff delay (`retry`, default 1 min
 *   doubling to 1 h, jittered) or at the next connection, whichever comes first, for as
 *   long as it takes: losing a map to a passing outage is worse than keeping 8 owed. A
 *   failure that may be the robot's own (a slot it cannot parse, a key that did not
 *   unwrap) counts, and after `maxFailures` (default 5) the map is dropped. A final
 *   refusal by the cloud (`slot-refused`, not retryable: the cloud records it on the
 *   mission too) or a map that cannot be read (`source`, or `map()` answering undefined:
 *   the file is gone) drops it at once. Each try is itself up to `maxAttempts` slot
 *   requests and PUTs inside the uploader. Every drop is logged with its reason.
 */
import type { ClockPort, LogPort, RandomPort, StoragePort, TimerPort } from '../../ports';
import { backoffDelay, type BackoffPolicy } from '../link/backoff';
import type { LinkListener } from '../link/link';
import type { LinkState } from '../link/machine';
import type { Result } from '../util/result';
import { utf8Decode, utf8Encode } from '../util/utf8';
import type { MapSource, UploadError } from './uploader';
import { readRecord, removeRecord, writeError, writeRecord } from '../util/record';
import { Timeout } from '../util/timers';

/** A map owed to the cloud: enough to find (or, in the simulator, remake) it. */
export interface MapJob {
	readonly missionId: string;
	/** The report's cleaned area, m². */
	readonly areaM2: number;
}

export interface MapQueuePorts {
	readonly storage: StoragePort;
	readonly clock: ClockPort;
	readonly timers: TimerPort;
	readonly random: RandomPort;
	readonly log: LogPort;
}

export interface MapQueueOptions {
	readonly maxPending?: number;
	readonly maxFailures?: number;
	readonly retry?: BackoffPolicy;
}

export interface MapQueueListener {
	started?(missionId: string, bytes: number): void;
	progress?(missionId: string, sent: number, total: number): void;
	uploaded?(missionId: string, bytes: number, ms: number): void;
	/** A failed try; `willRetry` false when the map was dropped for it. */
	failed?(missionId: string, error: UploadError, willRetry: boolean): void;
	dropped?(missionId: string, reason: DropReason): void;
}

/** What the queue needs of the uploader (MapUploader has it). */
export interface Uploads {
	upload(missionId: string, map: MapSource, onProgress?: (sent: number, total: number) => void): Promise<Result<{ attempts: number; bytes: number }, UploadError>>;
}

/** What it needs of the link. */
export interface UploadLink {
	readonly state: LinkState;
	listen(l: LinkListener): () => void;
}

export const MAPS_KEY = 'maps.todo';

/** Why a map is no longer owed: pushed out by a newer one, refused by the cloud, unreadable, too many failures, or no room on storage to owe it. */
export type DropReason = 'full' | 'refused' | 'unreadable' | 'failures' | 'storage';

export const DEFAULT_MAP_QUEUE: Required<MapQueueOptions> = Object.freeze({
	maxPending: 8,
	maxFailures: 5,
	retry: Object.freeze({ baseMs: 60_000, capMs: 3_600_000 }),
});

interface Entry extends MapJob {
	failures: number;
}

export class MapQueue {
	readonly #uploads: Uploads;
	readonly #link: UploadLink;
	readonly #ports: MapQueuePorts;
	readonly #map: (job: MapJob) => MapSource | undefined;
	readonly #opts: Required<MapQueueOptions>;
	readonly #listeners: MapQueueListener[] = [];
	#entries: Entry[];
	#busy: string | undefined;
	/** The backoff after a failed upload; a new connection cuts it short. */
	readonly #retry: Timeout;
	/** The try a `kick` asked for, after the current turn. */
	readonly #soon: Timeout;
	#stopped = false;
	#unlisten: () => void;

	constructor(uploads: Uploads, link: UploadLink, ports: MapQueuePorts, map: (job: MapJob) => MapSource | undefined, options: MapQueueOptions = {}) {
		this.#uploads = uploads;
		this.#link = link;
		this.#ports = ports;
		this.#retry = new Timeout(ports.timers);
		this.#soon = new Timeout(ports.timers);
		this.#map = map;
		this.#opts = { ...DEFAULT_MAP_QUEUE, ...options };
		if (!(this.#opts.maxPending >= 1) || !(this.#opts.maxFailures >= 1)) throw new RangeError('"maxPending" and "maxFailures" expected >= 1');
		this.#entries = this.#load();
		this.#unlisten = link.listen({
			state: (s) => {
				if (s.value !== 'connected') return;
				// a new connection is the best moment to try again
				this.#retry.clear();
				this.kick();
			},
		});
	}

	/** Maps owed, oldest first. */
	pending(): readonly MapJob[] {
		return this.#entries.map((e) => ({ missionId: e.missionId, areaM2: e.areaM2 }));
	}

	/** The mission whose map is being uploaded now. */
	get uploading(): string | undefined {
		return this.#busy;
	}

	listen(l: MapQueueListener): () => void {
		this.#listeners.push(l);
		return () => {
			const i = this.#listeners.indexOf(l);
			if (i >= 0) this.#listeners.splice(i, 1);
		};
	}

	/**
	 * Owes the map of `job` (persisted before this returns); a mission already owed is kept
	 * as is. False when the store refused the list: the new map is dropped (`storage`) and
	 * the maps owed before stay owed, on storage and here.
	 */
	add(job: MapJob): boolean {
		if (this.#entries.some((e) => e.missionId === job.missionId)) return true;
		const before = this.#entries.slice();
		this.#entries.push({ missionId: job.missionId, areaM2: job.areaM2, failures: 0 });
		const pushedOut: string[] = [];
		while (this.#entries.length > this.#opts.maxPending) {
			// never the one on its way: it is the oldest only if the list was full of newer ones
			const i = this.#entries.findIndex((e) => e.missionId !== this.#busy);
			const [gone] = this.#entries.splice(i, 1);
			pushedOut.push(gone!.missionId);
		}
		if (!this.#save()) {
			this.#entries = before;
			this.#drop(job.missionId, 'storage');
			return false;
		}
		for (const id of pushedOut) this.#drop(id, 'full');
		return true;
	}

	/**
	 * Tries the oldest map soon (on a 0 ms timer: after whoever called has finished, e.g. the
	 * mission's own listeners) if the link is up and nothing is on its way.
	 */
	kick(): void {
		if (this.#stopped || this.#soon.pending) return;
		this.#soon.set(() => this.#next(), 0);
	}

	#next(): void {
		if (this.#stopped || this.#busy !== undefined || this.#retry.pending) return;
		if (this.#link.state.value !== 'connected') return;
		const next = this.#entries[0];
		if (next) void this.#run(next);
	}

	stop(): void {
		this.#stopped = true;
		this.#retry.clear();
		this.#soon.clear();
		this.#unlisten();
	}

	async #run(entry: Entry): Promise<void> {
		const id = entry.missionId;
		let source: MapSource | undefined;
		try {
			source = this.#map({ missionId: id, areaM2: entry.areaM2 });
		} catch (e) {
			this.#ports.log.log('error', 'map.source_failed', { mission: id, error: e instanceof Error ? e.message : String(e) });
		}
		if (!source) {
			this.#remove(id);
			this.#drop(id, 'unreadable');
			return this.#next();
		}
		this.#busy = id;
		for (const l of this.#listeners) l.started?.(id, source.length);
		let r: Awaited<ReturnType<Uploads['upload']>>;
		const t0 = this.#ports.clock.monotonic();
		try {
			r = await this.#uploads.upload(id, source, (sent, total) => {
				for (const l of this.#listeners) l.progress?.(id, sent, total);
			});
		} catch (e) {
			// the uploader reports failures as values; a throw is a bug, not the network
			r = { ok: false, error: { code: 'source', reason: e instanceof Error ? e.message : String(e) } };
		}
		this.#busy = undefined;
		if (this.#stopped) return;
		if (r.ok) {
			this.#remove(id);
			for (const l of this.#listeners) l.uploaded?.(id, r.value.bytes, this.#ports.clock.monotonic() - t0);
			return this.#next();
		}
		const error = r.error;
		const still = this.#entries.find((e) => e.missionId === id);
		if (!still) return this.#next(); // pushed out while it was on its way
		if (error.code === 'offline') {
			for (const l of this.#listeners) l.failed?.(id, error, true);
			return; // the next connection kicks
		}
		const permanent = (error.code === 'slot-refused' && !error.retryable) || error.code === 'source';
		// the cloud or the network saying "later" never uses up the map's chances
		const later = error.code === 'slot-timeout' || error.code === 'network' || error.code === 'http' || error.code === 'slot-refused';
		still.failures++;
		const willRetry = !permanent && (later || still.failures < this.#opts.maxFailures);
		for (const l of this.#listeners) l.failed?.(id, error, willRetry);
		if (!willRetry) {
			this.#remove(id);
			this.#drop(id, permanent ? (error.code === 'source' ? 'unreadable' : 'refused') : 'failures', error.code === 'slot-refused' || error.code === 'source' ? error.reason : error.code);
			return this.#next();
		}
		this.#save();
		const delay = Math.max(1000, backoffDelay(this.#opts.retry, still.failures, this.#ports.random.random()));
		this.#ports.log.log('info', 'map.retry_later', { mission: id, failures: still.failures, inMs: delay, code: error.code });
		this.#retry.set(() => this.#next(), delay);
	}

	#remove(id: string): void {
		this.#entries = this.#entries.filter((e) => e.missionId !== id);
		this.#save();
	}

	#drop(id: string, reason: DropReason, detail?: string): void {
		this.#ports.log.log(reason === 'full' ? 'warn' : 'error', 'map.dropped', { mission: id, reason, ...(detail !== undefined ? { detail } : {}) });
		for (const l of this.#listeners) l.dropped?.(id, reason);
	}

	/**
	 * Two-phase (core/util/record.ts): a refused write leaves the list before this change on
	 * storage. Only `add` grows the list; the other changes (a map done, a failure counted)
	 * are kept in memory when refused and saved with the next change that fits.
	 */
	#save(): boolean {
		if (this.#entries.length === 0) {
			removeRecord(this.#ports.storage, MAPS_KEY);
			return true;
		}
		const w = writeRecord(this.#ports.storage, MAPS_KEY, utf8Encode(JSON.stringify(this.#entries.map((e) => ({ m: e.missionId, a: e.areaM2, f: e.failures })))));
		if (!w.ok) this.#ports.log.log('error', 'map.list_unsaved', { owed: this.#entries.length, result: writeError(w) });
		return w.ok;
	}

	#load(): Entry[] {
		const raw = readRecord(this.#ports.storage, MAPS_KEY);
		if (!raw) return [];
		try {
			const list = JSON.parse(utf8Decode(raw) ?? '') as unknown;
			if (!Array.isArray(list)) throw new Error('not a list');
			const out: Entry[] = [];
			for (const x of list as { m?: unknown; a?: unknown; f?: unknown }[]) {
				if (typeof x?.m !== 'string' || typeof x.a !== 'number') continue;
				out.push({ missionId: x.m, areaM2: x.a, failures: typeof x.f === 'number' ? x.f : 0 });
			}
			return out.slice(-this.#opts.maxPending);
		} catch {
			this.#ports.log.log('error', 'map.list_unreadable', { bytes: raw.length });
			return [];
		}
	}
}
