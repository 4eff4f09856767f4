/*
 * Fake of the SDK's `preference` in its two implementations, chosen by the test:
 * - 'lin' (modules/files/preference/lin/preference.js): a JSON file rewritten on every set;
 *   never throws (write errors are swallowed), no size or name limits. An ArrayBuffer is
 *   stored as `{buffer: "1,2,3"}` and read back by splitting on ",", so an EMPTY ArrayBuffer
 *   reads back as ONE zero byte ("".split(",") is [""], and Number("") is 0).
 * - 'esp32' (modules/files/preference/esp32/modPreference.c over ESP-IDF NVS): domain and key
 *   at most 15 characters (NVS_KEY_NAME_MAX_SIZE 16 with the NUL): a longer domain throws
 *   "nvs_open fail"; `set` erases the old value FIRST and then writes the new one, so a key
 *   too long or a partition too full throws "nvs set fail" with the old value already gone;
 *   a non-integer number throws "float unsupported" (before the erase, the old value stays);
 *   another type "unsupported type". Space is counted in 32-byte NVS entries: a blob takes
 *   ceil(n/32) data entries plus its header and index entries, a string ceil((n+1)/32) + 1,
 *   a number or boolean 1 (nvs_page.cpp, nvs_types.hpp). `capacity` is the partition's free
 *   entries (the 24 KB partition: 6 pages of 126 entries, one page kept free: 630).
 * Both: `get` answers a fresh ArrayBuffer (or the primitive), undefined when absent; the
 * stored bytes are a copy. `failNextSet` injects one "nvs set fail" (esp32 behaviour: old
 * value erased) for fault tests.
 */
import { utf8Encode } from '../../../../core/util/utf8';

type Value = string | boolean | number | ArrayBuffer;
type Mode = 'lin' | 'esp32';

const NVS_NAME_MAX = 15;
const ENTRY = 32;

let mode: Mode = 'lin';
let capacity = 630;
let store = new Map<string, Map<string, Value>>();

function entries(v: Value): number {
	if (v instanceof ArrayBuffer) return 2 + Math.ceil(v.byteLength / ENTRY);
	if (typeof v === 'string') return 1 + Math.ceil((utf8Encode(v).length + 1) / ENTRY);
	return 1;
}

function used(): number {
	let n = 0;
	for (const d of store.values()) for (const v of d.values()) n += entries(v);
	return n;
}

export const preferenceFake = {
	failNextSet: false,
	/** 'lin' or 'esp32', with the esp32 partition's free 32-byte entries. */
	use(m: Mode, entriesFree = 630): void {
		mode = m;
		capacity = entriesFree;
	},
	get mode(): Mode {
		return mode;
	},
	/** Entries in use (esp32 accounting). */
	get used(): number {
		return used();
	},
	reset(): void {
		mode = 'lin';
		capacity = 630;
		store = new Map();
		this.failNextSet = false;
	},
};

function domainOf(domain: string, create: boolean): Map<string, Value> | undefined {
	if (mode === 'esp32' && String(domain).length > NVS_NAME_MAX) throw new Error('nvs_open fail');
	let d = store.get(domain);
	if (!d && create) store.set(domain, (d = new Map()));
	return d;
}

const Preference = {
	set(domain: string, key: string, value: Value): void {
		if (mode === 'lin') {
			let v: Value = value;
			if (value instanceof ArrayBuffer) {
				// {buffer: "1,2,3"} and back, as lin/preference.js does
				const text = new Uint8Array(value).toString();
				v = Uint8Array.from(text.split(','), Number).buffer;
			}
			domainOf(domain, true)!.set(key, v);
			return;
		}
		const d = domainOf(domain, true)!;
		if (typeof value === 'number' && value !== Math.trunc(value)) throw new Error('float unsupported');
		if (!(typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number' || value instanceof ArrayBuffer)) throw new Error('unsupported type');
		d.delete(key); // ERASE_KEY: the old value is gone before the new one is written
		if (preferenceFake.failNextSet) {
			preferenceFake.failNextSet = false;
			throw new Error('nvs set fail');
		}
		if (String(key).length > NVS_NAME_MAX) throw new Error('nvs set fail'); // ESP_ERR_NVS_KEY_TOO_LONG
		const copy = value instanceof ArrayBuffer ? value.slice(0) : value;
		if (used() + entries(copy) > capacity) throw new Error('nvs set fail'); // ESP_ERR_NVS_NOT_ENOUGH_SPACE
		d.set(key, copy);
	},
	get(domain: string, key: string): Value | undefined {
		if (mode === 'esp32' && String(domain).length > NVS_NAME_MAX) return undefined; // nvs_open fails: "most likely that domain doesn't exist yet"
		const v = store.get(domain)?.get(key);
		return v instanceof ArrayBuffer ? v.slice(0) : v;
	},
	delete(domain: string, key: string): void {
		// esp32: nvs_open failing returns quietly ("most likely that domain doesn't exist yet")
		store.get(domain)?.delete(key);
	},
	keys(domain: string): string[] {
		return [...(store.get(domain)?.keys() ?? [])];
	},
};
export default Preference;
