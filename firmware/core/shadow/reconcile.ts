/*
 * Offline-first reconciliation of one value the robot owns (the schedule) with
 * its shadow: `reported.<key>` says what the robot runs, `desired.<key>` is an
 * edit made elsewhere (the app) that waits, possibly for days, until the robot
 * is back. A pure machine: `step` returns the next state and the effects.
 *
 * Rules:
 * - On connect (and on every delta) the robot reads the whole shadow: a delta of
 *   a nested value carries only the leaves that differ, and a decision needs the
 *   whole desired value and its metadata timestamps.
 * - A valid desired value is applied, reported, and cleared from desired in ONE
 *   update made conditional on the version read: if anybody wrote in between, the
 *   update is refused with 409 and the robot reads again, so no edit is lost.
 * - An invalid desired value is cleared too, with the error in
 *   `reported.<key>Error`; the robot keeps running what it had.
 * - A local edit (buttons, possibly offline) and a desired value compete by edit
 *   time: the robot's clock at the edit versus the newest metadata timestamp under
 *   `desired.<key>` (AWS gives seconds). The newer wins; a tie within the same second
 *   goes to the app. An edit
 *   made while the robot's clock was unknown has no time and loses to any app edit.
 * - Until the shadow shows what the robot runs, the robot keeps reporting it.
 */
import { assertNever } from '../util/result';
import type { Json, JsonObject, ShadowDocument, ShadowError } from './client';

/** What the robot runs and where it came from; persisted through reboots. */
export interface Owned<T> {
	readonly value: T;
	/** Epoch ms of the edit, or undefined when the clock was unknown then. */
	readonly editedAt: number | undefined;
	/** A local edit not yet seen in `reported`. */
	readonly dirty: boolean;
}

export interface Codec<T> {
	/** The shadow key, e.g. "schedule". */
	readonly key: string;
	/** Checks an untrusted value; a string says why it is refused. */
	validate(x: unknown): { ok: true; value: T } | { ok: false; error: string };
	equal(a: T, b: T): boolean;
	toJson(v: T): Json;
}

/** The robot's store refused to persist a value: nothing was applied (core/util/record.ts). */
export type StoreRefusal = { readonly code: 'storage'; readonly result: string };

export type SyncState<T> =
	| { readonly value: 'offline'; readonly owned: Owned<T> }
	| { readonly value: 'reading'; readonly owned: Owned<T>; readonly attempt: number }
	/** `base` is what the decision was made from; a local edit during the write replaces `owned`. */
	| { readonly value: 'writing'; readonly owned: Owned<T>; readonly base: Owned<T>; readonly after: Owned<T>; readonly attempt: number }
	| { readonly value: 'synced'; readonly owned: Owned<T> }
	/** A read or write failed (timeout, 5xx): wait, then read again. */
	| { readonly value: 'backoff'; readonly owned: Owned<T>; readonly attempt: number };

export type SyncEvent<T> =
	| { readonly type: 'online' }
	| { readonly type: 'offline' }
	| { readonly type: 'read'; readonly doc: ShadowDocument | undefined }
	/** The read failed, or (`storage`) the store refused the value it would apply: read again later. */
	| { readonly type: 'readFailed'; readonly error: ShadowError | StoreRefusal }
	| { readonly type: 'written' }
	| { readonly type: 'writeFailed'; readonly error: ShadowError }
	| { readonly type: 'delta' }
	| { readonly type: 'retry' }
	| { readonly type: 'localEdit'; readonly value: T; readonly at: number | undefined };

export type SyncEffect<T> =
	| { readonly type: 'get' }
	| { readonly type: 'update'; readonly state: { desired?: JsonObject; reported: JsonObject }; readonly version: number | undefined }
	/** Start running this value and persist it (with its edit time and dirty flag). */
	| { readonly type: 'apply'; readonly owned: Owned<T> }
	| { readonly type: 'persist'; readonly owned: Owned<T> }
	| { readonly type: 'wait'; readonly attempt: number }
	| { readonly type: 'log'; readonly event: string; readonly detail: string };

export type SyncStep<T> = { readonly state: SyncState<T>; readonly effects: readonly SyncEffect<T>[] } | undefined;

/** Newest metadata timestamp (seconds) anywhere under a metadata subtree; 0 when none. */
export function newestTimestamp(meta: Json | undefined): number {
	if (meta === null || typeof meta !== 'object') return 0;
	if (Array.isArray(meta)) return meta.reduce<number>((m, x) => Math.max(m, newestTimestamp(x)), 0);
	let best = typeof meta.timestamp === 'number' ? meta.timestamp : 0;
	for (const k in meta) if (k !== 'timestamp') best = Math.max(best, newestTimestamp(meta[k]));
	return best;
}

function field(o: JsonObject | null | undefined, key: string): Json | undefined {
	return o && Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined;
}

/**
 * The decision after a read: what to run, and the one update that makes the shadow
 * say so. Exported for tests; `step` is the only caller.
 */
export function decide<T>(codec: Codec<T>, owned: Owned<T>, doc: ShadowDocument | undefined): { after: Owned<T>; update?: { desired?: JsonObject; reported: JsonObject }; log?: [string, string] } {
	const key = codec.key;
	const desired = field(doc?.state.desired, key);
	const reportedRaw = field(doc?.state.reported, key);
	const errorKey = key + 'Error';
	if (desired !== undefined && desired !== null) {
		const checked = codec.validate(desired);
		const clear: JsonObject = { [key]: null };
		if (!checked.ok) {
			const report: JsonObject = { [errorKey]: { message: checked.error, version: doc!.version } };
			if (owned.dirty || !sameReported(codec, owned.value, reportedRaw)) report[key] = codec.toJson(owned.value);
			return { after: { ...owned, dirty: false }, update: { desired: clear, reported: report }, log: ['sync.desired_rejected', checked.error] };
		}
		const desiredAt = newestTimestamp(field(doc!.metadata && (doc!.metadata.desired as JsonObject), key)) * 1000;
		// AWS metadata timestamps are whole seconds: a robot edit wins only from the next second on,
		// so an undecidable same-second race goes to the app
		const localWins = owned.dirty && owned.editedAt !== undefined && owned.editedAt >= desiredAt + 1000;
		const after: Owned<T> = localWins ? { ...owned, dirty: false } : { value: checked.value, editedAt: desiredAt || undefined, dirty: false };
		return {
			after,
			update: { desired: clear, reported: { [key]: codec.toJson(after.value), [errorKey]: null } },
			log: localWins ? ['sync.local_wins', 'robot edit newer than desired'] : ['sync.desired_applied', ''],
		};
	}
	if (owned.dirty || !sameReported(codec, owned.value, reportedRaw)) return { after: { ...owned, dirty: false }, update: { reported: { [key]: codec.toJson(owned.value) } } };
	return { after: owned };
}

function sameReported<T>(codec: Codec<T>, value: T, reported: Json | undefined): boolean {
	if (reported === undefined || reported === null) return false;
	const r = codec.validate(reported);
	return r.ok && codec.equal(r.value, value);
}

export function initialSync<T>(owned: Owned<T>): SyncState<T> {
	return { value: 'offline', owned };
}

export function step<T>(codec: Codec<T>, s: SyncState<T>, e: SyncEvent<T>): SyncStep<T> {
	if (e.type === 'offline') return s.value === 'offline' ? undefined : { state: { value: 'offline', owned: s.owned }, effects: [] };
	if (e.type === 'localEdit') {
		const owned: Owned<T> = { value: e.value, editedAt: e.at, dirty: true };
		const effects: SyncEffect<T>[] = [{ type: 'apply', owned }];
		// online and idle: report now through the normal read-decide-write path
		if (s.value === 'synced') return { state: { value: 'reading', owned, attempt: 1 }, effects: [...effects, { type: 'get' }] };
		// otherwise the edit joins whatever happens next (reading/writing restart on their reply)
		return { state: { ...s, owned } as SyncState<T>, effects };
	}
	switch (s.value) {
		case 'offline':
			return e.type === 'online' ? { state: { value: 'reading', owned: s.owned, attempt: 1 }, effects: [{ type: 'get' }] } : undefined;
		case 'reading':
			if (e.type === 'read') {
				const d = decide(codec, s.owned, e.doc);
				const effects: SyncEffect<T>[] = [];
				if (d.log) effects.push({ type: 'log', event: d.log[0], detail: d.log[1] });
				if (!d.update) return { state: { value: 'synced', owned: s.owned }, effects };
				// run (and persist) an applied desired value before telling the cloud, as the outbox
				// does with reports: if the write is lost the next read finds desired again
				if (!codec.equal(d.after.value, s.owned.value)) effects.push({ type: 'apply', owned: d.after });
				effects.push({ type: 'update', state: d.update, version: e.doc?.version });
				const owned = codec.equal(d.after.value, s.owned.value) ? s.owned : d.after;
				return { state: { value: 'writing', owned, base: owned, after: d.after, attempt: s.attempt }, effects };
			}
			if (e.type === 'readFailed') return fail(s.owned, s.attempt, e.error);
			return undefined; // a delta while reading: the read in flight already sees it
		case 'writing':
			if (e.type === 'written') {
				// a local edit raced this write: read and decide again
				if (s.owned !== s.base) return { state: { value: 'reading', owned: s.owned, attempt: 1 }, effects: [{ type: 'get' }] };
				// the shadow now shows what the robot runs: the local edit is no longer pending
				return { state: { value: 'synced', owned: s.after }, effects: s.owned.dirty ? [{ type: 'persist', owned: s.after }] : [] };
			}
			if (e.type === 'writeFailed') {
				// 409: somebody wrote since our read; read again at once, it is not a failure
				if (e.error.code === 'rejected' && e.error.status === 409) return { state: { value: 'reading', owned: s.owned, attempt: s.attempt }, effects: [{ type: 'get' }] };
				return fail(s.owned, s.attempt, e.error);
			}
			return undefined;
		case 'synced':
			return e.type === 'delta' ? { state: { value: 'reading', owned: s.owned, attempt: 1 }, effects: [{ type: 'get' }] } : undefined;
		case 'backoff':
			return e.type === 'retry' ? { state: { value: 'reading', owned: s.owned, attempt: s.attempt + 1 }, effects: [{ type: 'get' }] } : undefined;
		default:
			return assertNever(s);
	}
}

function fail<T>(owned: Owned<T>, attempt: number, error: ShadowError | StoreRefusal): SyncStep<T> {
	// offline: the link's own state change brings us back; anything else waits and reads again
	if (error.code === 'offline') return { state: { value: 'offline', owned }, effects: [] };
	return {
		state: { value: 'backoff', owned, attempt },
		effects: [
			{ type: 'wait', attempt },
			{ type: 'log', event: 'sync.retry', detail: JSON.stringify(error) },
		],
	};
}
