/*
 * Storage port over a directory: one file per key, written to a temporary name,
 * fsynced and renamed, so a kill at any instant leaves the old value or the new
 * one, never a torn file (the outbox relies on it). A write the disk cannot take
 * (ENOSPC, EDQUOT) answers `full`, any other error `failed`; the old value stays.
 * `createMemoryStorage` is the same contract in memory, for tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { StoragePort } from '../../ports';

const KEY = /^[a-z0-9._-]{1,15}$/;

export function checkKey(key: string): string {
	if (typeof key !== 'string' || !KEY.test(key) || key.endsWith('.tmp')) throw new RangeError('"key" expected 1..15 of [a-z0-9._-], got ' + JSON.stringify(key));
	return key;
}

export function createFileStorage(dir: string): StoragePort {
	fs.mkdirSync(dir, { recursive: true });
	return {
		read(key) {
			try {
				return new Uint8Array(fs.readFileSync(path.join(dir, checkKey(key))));
			} catch (e) {
				if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
				throw e;
			}
		},
		write(key, value) {
			const file = path.join(dir, checkKey(key));
			const tmp = file + '.tmp';
			try {
				const fd = fs.openSync(tmp, 'w');
				try {
					fs.writeSync(fd, value);
					fs.fsyncSync(fd);
				} finally {
					fs.closeSync(fd);
				}
				fs.renameSync(tmp, file);
				return { ok: true };
			} catch (e) {
				// the rename never ran: the old value is intact; drop the partial temporary file
				fs.rmSync(tmp, { force: true });
				const code = (e as NodeJS.ErrnoException).code;
				const full = code === 'ENOSPC' || code === 'EDQUOT';
				return { ok: false, error: full ? 'full' : 'failed', message: (code ? code + ': ' : '') + (e instanceof Error ? e.message : String(e)) };
			}
		},
		remove(key) {
			fs.rmSync(path.join(dir, checkKey(key)), { force: true });
		},
		keys() {
			return fs.readdirSync(dir).filter((k) => KEY.test(k) && !k.endsWith('.tmp'));
		},
	};
}

export function createMemoryStorage(): StoragePort & { readonly map: Map<string, Uint8Array> } {
	const map = new Map<string, Uint8Array>();
	return {
		map,
		read: (key) => map.get(checkKey(key))?.slice(),
		write: (key, value) => (map.set(checkKey(key), value.slice()), { ok: true }),
		remove: (key) => void map.delete(checkKey(key)),
		keys: () => [...map.keys()],
	};
}
