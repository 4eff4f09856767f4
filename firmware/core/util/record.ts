/*
 * Two-phase records: a value under one key that a failed overwrite must not destroy.
 *
 * The storage port's `write` may fail (`full`, `failed`), and on ESP32 the SDK's
 * Preference.set erases the key before it writes, so overwriting a key in place can
 * lose the old value and the new one together. A record is therefore written to its
 * scratch key `<key>.new` first; only once that is on storage is the main key
 * overwritten, then the scratch key dropped. Whenever the scratch key exists it holds
 * the newest complete value, so a reader takes it first; a power loss or a failure at
 * any step leaves the old value or the new one, never neither.
 *
 * Costs: three storage operations per write, and room for a second copy while it
 * runs; a store too full for that copy refuses the write and keeps the old value.
 * Keys of records are at most 11 characters (15 with the suffix).
 */
import type { StoragePort, StorageWrite } from '../../ports';

const SCRATCH = '.new';

function scratchOf(key: string): string {
	if (key.length > 15 - SCRATCH.length) throw new RangeError('"key" expected at most ' + (15 - SCRATCH.length) + ' characters for a record, got ' + JSON.stringify(key));
	return key + SCRATCH;
}

/** True for the scratch key of some record: scans by prefix skip it. */
export function isScratchKey(key: string): boolean {
	return key.length > SCRATCH.length && key.slice(-SCRATCH.length) === SCRATCH;
}

/** The record's newest complete value. */
export function readRecord(storage: StoragePort, key: string): Uint8Array | undefined {
	return storage.read(scratchOf(key)) ?? storage.read(key);
}

/**
 * Writes `value` as the record's new value. Not ok: the write did not happen and the
 * record still reads as before (its old value, or nothing).
 */
export function writeRecord(storage: StoragePort, key: string, value: Uint8Array): StorageWrite {
	const scratch = scratchOf(key);
	// a scratch copy left by an earlier write is the record now: settle it into the main key
	// first, so the write below cannot erase the only copy
	const pending = storage.read(scratch);
	if (pending) {
		const settled = storage.write(key, pending);
		if (!settled.ok) return settled; // the record stays in scratch, intact
		storage.remove(scratch);
	}
	const staged = storage.write(scratch, value);
	if (!staged.ok) return staged; // the main key was not touched
	// from here on the new value is durable: a failed main write leaves it in scratch,
	// where readers find it and the next write settles it
	if (storage.write(key, value).ok) storage.remove(scratch);
	return { ok: true };
}

/** Drops the record. Main key first: a power loss in between leaves the newest value, not an older one. */
export function removeRecord(storage: StoragePort, key: string): void {
	storage.remove(key);
	storage.remove(scratchOf(key));
}

/** One log field for a write that did not happen: `full`, or `failed: <message>`. */
export function writeError(w: StorageWrite): string {
	return w.ok ? 'ok' : w.error === 'full' ? 'full' : 'failed: ' + w.message;
}
