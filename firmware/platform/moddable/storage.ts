/*
 * Storage port over Moddable's Preference (ESP32: NVS, committed on every set; lin: a
 * JSON file modpreferences.json in config.file.root, rewritten on every set).
 * One Preference domain holds the port's keys; values are stored as ArrayBuffer.
 * NVS limits domain and key names to 15 characters, as the port's key rule does.
 *
 * Full and failed writes (StoragePort.write's result):
 * - ESP32's Preference.set erases the key, then writes, and throws "nvs set fail" for any
 *   error, a full partition included (modules/files/preference/esp32/modPreference.c): the
 *   old value is gone and the cause is not told. lin's set never fails (its #save swallows
 *   every error) and has no limit. So the adapter keeps its own account of the domain's
 *   bytes in NVS terms and answers `full` BEFORE calling set when a write would pass the
 *   budget: the old value stays and the caller knows why. The same budget on lin makes the
 *   simulator fill like the board (the device scenario storage-full).
 * - A set that throws anyway is `failed` with the SDK's message (the key may be erased).
 *
 * NVS cost of a blob of n bytes (ESP-IDF NVS format: 32-byte entries): one header entry
 * holding the key, ceil(n / 32) data entries, one blob index entry.
 */
import Preference from 'preference';
import type { StoragePort, StorageWrite } from '../../ports';

export interface PreferenceStorageOptions {
	/** Bytes (in NVS entries, nvsCost) the domain may take; absent: the medium decides. */
	readonly budget?: number;
}

/** Bytes a blob of `n` bytes takes in NVS. */
export function nvsCost(n: number): number {
	return 32 * (2 + Math.ceil(n / 32));
}

export function createPreferenceStorage(domain = 'robot', options: PreferenceStorageOptions = {}): StoragePort & { used(): number } {
	if (domain.length < 1 || domain.length > 15) throw new RangeError('"domain" expected 1..15 characters, got ' + JSON.stringify(domain));
	const budget = options.budget;
	if (budget !== undefined && !(Number.isSafeInteger(budget) && budget > 0)) throw new RangeError('"budget" expected a positive integer, got ' + budget);
	// what each key of the domain takes now, read once at start (a few dozen keys at most)
	const costs = new Map<string, number>();
	let used = 0;
	for (const key of Preference.keys(domain)) {
		const v = Preference.get(domain, key);
		const c = nvsCost(v instanceof ArrayBuffer ? v.byteLength : String(v).length);
		costs.set(key, c);
		used += c;
	}
	return {
		used: () => used,
		read(key) {
			const v = Preference.get(domain, key);
			if (v === '') return new Uint8Array(0); // an empty value (see write)
			// a value of another type is not ours: report it absent (bytes are all we store)
			return v instanceof ArrayBuffer ? new Uint8Array(v) : undefined;
		},
		write(key, value): StorageWrite {
			const old = costs.get(key) ?? 0;
			const cost = nvsCost(value.length);
			if (budget !== undefined && used - old + cost > budget) return { ok: false, error: 'full', message: 'domain ' + domain + ': ' + used + ' of ' + budget + ' bytes used, ' + key + ' needs ' + cost };
			try {
				// lin's Preference reads an empty ArrayBuffer back as one zero byte ("".split(",") in
				// lin/preference.js; seen on 8.2.3, test/sdk-facts/facts.ts): an empty value is the empty string
				Preference.set(domain, key, value.length ? (value.slice().buffer as ArrayBuffer) : '');
			} catch (e) {
				// ESP32 erased the key before the set failed: account for what is there now
				if (Preference.get(domain, key) === undefined) {
					costs.delete(key);
					used -= old;
				}
				return { ok: false, error: 'failed', message: e instanceof Error ? e.message : String(e) };
			}
			costs.set(key, cost);
			used += cost - old;
			return { ok: true };
		},
		remove(key) {
			Preference.delete(domain, key);
			used -= costs.get(key) ?? 0;
			costs.delete(key);
		},
		keys() {
			return Preference.keys(domain);
		},
	};
}
