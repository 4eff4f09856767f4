/*
 * Storage port over Moddable's Preference (ESP32: NVS, committed on every set; lin: a
 * JSON file modpreferences.json in config.file.root, rewritten on every set).
 * One Preference domain holds the port's keys; values are stored as ArrayBuffer.
 * NVS limits domain and key names to 15 characters, as the port's key rule does.
 */
import Preference from 'preference';
import type { StoragePort } from '../../ports';

export function createPreferenceStorage(domain = 'robot'): StoragePort {
	if (domain.length < 1 || domain.length > 15) throw new RangeError('"domain" expected 1..15 characters, got ' + JSON.stringify(domain));
	return {
		read(key) {
			const v = Preference.get(domain, key);
			// a value of another type is not ours: report it absent (bytes are all we store)
			return v instanceof ArrayBuffer ? new Uint8Array(v) : undefined;
		},
		write(key, value) {
			Preference.set(domain, key, value.slice().buffer as ArrayBuffer);
		},
		remove(key) {
			Preference.delete(domain, key);
		},
		keys() {
			return Preference.keys(domain);
		},
	};
}
