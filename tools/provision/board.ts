// A robot's credentials as data for its Preference store: never resources in the image (issue #14).
//
// The firmware (firmware/platform/moddable/platform.ts, loadCredentials) reads
// Preference.get('cred', 'ca' | 'cert' | 'key') and needs an ArrayBuffer of DER for each.
// What that takes on each platform (Moddable SDK 8.2.3):
//
// - ESP32: modules/files/preference/esp32/modPreference.c stores an ArrayBuffer with
//   nvs_set_blob (no type prefix byte), in the NVS namespace named by the domain, and get()
//   tries u8, i32, string, then nvs_get_blob. So each credential is an NVS blob. ESP-IDF's
//   nvs_partition_gen.py writes a blob for a `data` row of encoding `hex2bin` (as
//   BLOB_DATA chunks + BLOB_IDX in its default multipage format 2, which nvs_get_blob reads).
//   NVS limits: namespace and key names at most 15 characters.
// - lin: modules/files/preference/lin/preference.js keeps one JSON file,
//   config.file.root + "modpreferences.json", { domain: { key: value } }, with an
//   ArrayBuffer as { "buffer": "<byte>,<byte>,..." } (Uint8Array.prototype.toString), read
//   once when the module loads.
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { nvsPartition } from '../check-esp32';
import { NET_DOMAIN, NET_KEYS, checkRegistrationUrl, checkWifi, parseEndpoint } from '../../firmware/core/robot/onboarding';

/** The Preference domain (NVS namespace) of the device's own credentials. */
export const CRED_DOMAIN = 'cred';

/**
 * The NVS partition of the robot's ESP32 partition table, firmware/board/esp32/partitions.csv
 * (manifest.json: platforms.esp32.build.PARTITIONS_FILE), where the credentials are written.
 */
export const NVS_PARTITION = Object.freeze(nvsPartition());

/** NVS_KEY_NAME_MAX_SIZE is 16 with the terminating NUL. */
const NVS_NAME_MAX = 15;

export interface DeviceCredentials {
	/** The broker's trust anchor, DER. */
	readonly ca: Uint8Array;
	/** The device certificate, DER. */
	readonly cert: Uint8Array;
	/** Unencrypted PKCS#8 RSA key, DER; absent when the robot made its own key (CSR). */
	readonly key?: Uint8Array;
}

export class BoardFormError extends Error {
	override readonly name = 'BoardFormError';
}

/** The credentials as one Preference domain's keys, each checked to be one whole DER element. */
export function credentialEntries(c: DeviceCredentials): Record<string, Uint8Array> {
	const entries: Record<string, Uint8Array> = { ca: c.ca, cert: c.cert };
	if (c.key !== undefined) entries['key'] = c.key;
	for (const [k, v] of Object.entries(entries)) checkDer(k, v);
	return entries;
}

function checkDer(name: string, v: unknown): void {
	if (!(v instanceof Uint8Array) || v.length === 0) throw new BoardFormError(`"${name}" expected DER bytes, got ${v instanceof Uint8Array ? 'none' : typeof v}`);
	// a PEM text or a truncated file must not reach a device that would only fail at its first TLS handshake
	if (v[0] !== 0x30) throw new BoardFormError(`"${name}" expected DER (a SEQUENCE, 0x30), got first byte 0x${v[0]!.toString(16)}${v[0] === 0x2d ? ' (PEM? give DER)' : ''}`);
	let len = v[1] ?? 0;
	let at = 2;
	if (len & 0x80) {
		const n = len & 0x7f;
		len = 0;
		for (let i = 0; i < n; i++) len = len * 256 + (v[at++] ?? 0);
	}
	if (at + len !== v.length) throw new BoardFormError(`"${name}" expected one DER element of ${v.length} bytes, its header says ${at + len}`);
}

function checkName(what: string, name: string): void {
	if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new BoardFormError(`${what} expected 1-${NVS_NAME_MAX} characters of [A-Za-z0-9_.-], got ${JSON.stringify(name)}`);
}

// ---- ESP32: the CSV of ESP-IDF's NVS partition generator ---------------------------------

/**
 * The NVS partition CSV for `nvs_partition_gen.py generate creds.csv creds.bin 0x14000`:
 * header, the namespace row, one `hex2bin` data row (an NVS blob) per credential.
 */
export function nvsCsv(c: DeviceCredentials, namespace = CRED_DOMAIN): string {
	checkName('namespace', namespace);
	const rows = ['key,type,encoding,value', `${namespace},namespace,,`];
	for (const [k, v] of Object.entries(credentialEntries(c))) rows.push(`${k},data,hex2bin,${Buffer.from(v).toString('hex')}`);
	return rows.join('\n') + '\n';
}

/**
 * Reads an NVS partition CSV back as the generator would: namespace -> key -> bytes. Only the
 * rows nvsCsv writes (namespace, data/hex2bin) are accepted; anything else is a clear error.
 */
export function parseNvsCsv(text: string): Map<string, Map<string, Uint8Array>> {
	const lines = text
		.split('\n')
		.map((l, i) => ({ l: l.replace(/\r$/, ''), n: i + 1 }))
		.filter((x) => x.l !== '');
	if (lines[0]?.l !== 'key,type,encoding,value') throw new BoardFormError('NVS CSV line 1 expected the header key,type,encoding,value, got ' + JSON.stringify(lines[0]?.l ?? ''));
	const out = new Map<string, Map<string, Uint8Array>>();
	let ns: Map<string, Uint8Array> | undefined;
	for (const { l, n } of lines.slice(1)) {
		const cells = l.split(',');
		if (cells.length !== 4) throw new BoardFormError(`NVS CSV line ${n} expected 4 cells, got ${cells.length}`);
		if (cells.some((c) => c !== c.trim())) throw new BoardFormError(`NVS CSV line ${n} has spaces around a cell (the generator refuses them)`);
		const [key, type, encoding, value] = cells as [string, string, string, string];
		checkName(`NVS CSV line ${n} key`, key);
		if (type === 'namespace') {
			if (out.has(key)) throw new BoardFormError(`NVS CSV line ${n}: namespace ${key} twice`);
			out.set(key, (ns = new Map()));
			continue;
		}
		if (!ns) throw new BoardFormError(`NVS CSV line ${n}: the first entry must be a namespace`);
		if (type !== 'data' || encoding !== 'hex2bin') throw new BoardFormError(`NVS CSV line ${n} expected data,hex2bin (an NVS blob), got ${type},${encoding}`);
		if (!/^(?:[0-9a-fA-F]{2})+$/.test(value)) throw new BoardFormError(`NVS CSV line ${n}: value is not an even number of hex digits`);
		if (ns.has(key)) throw new BoardFormError(`NVS CSV line ${n}: key ${key} twice in its namespace`);
		ns.set(key, new Uint8Array(Buffer.from(value, 'hex')));
	}
	return out;
}

// ---- lin: the Preference file ------------------------------------------------------------

export type LinPreferenceValue = boolean | number | string | { buffer: string };
export type LinPreferences = Record<string, Record<string, LinPreferenceValue>>;

/** The credentials as a modpreferences.json fragment: { cred: { ca: { buffer }, ... } }. */
export function linPreferences(c: DeviceCredentials, domain = CRED_DOMAIN): LinPreferences {
	checkName('domain', domain);
	const keys: Record<string, LinPreferenceValue> = {};
	for (const [k, v] of Object.entries(credentialEntries(c))) keys[k] = { buffer: Array.from(v).join(',') };
	return { [domain]: keys };
}

/** A Preference value as the lin module's get() returns it (an ArrayBuffer as bytes). */
export function linValue(v: LinPreferenceValue): Uint8Array | string | number | boolean {
	if (typeof v !== 'object') return v;
	if (typeof v?.buffer !== 'string' || !/^(?:\d{1,3}(?:,\d{1,3})*)?$/.test(v.buffer)) throw new BoardFormError('lin Preference buffer expected "b,b,...", got ' + JSON.stringify(v));
	const bytes = v.buffer === '' ? [] : v.buffer.split(',').map(Number);
	if (bytes.some((b) => b > 255)) throw new BoardFormError('lin Preference buffer has a value over 255');
	return new Uint8Array(bytes);
}

/** Reads a modpreferences.json (absent: empty); a file that is not one is an error. */
export async function readLinPreferences(file: string): Promise<LinPreferences> {
	if (!existsSync(file)) return {};
	const text = await readFile(file, 'utf8');
	let parsed: unknown;
	try {
		parsed = JSON.parse(text);
	} catch (e) {
		throw new BoardFormError(`${file} is not JSON (${(e as Error).message}); not a lin Preference file, left as it is`);
	}
	if (!isRecord(parsed) || !Object.values(parsed).every(isRecord)) throw new BoardFormError(`${file} expected { domain: { key: value } }; not a lin Preference file, left as it is`);
	return parsed as LinPreferences;
}

/**
 * Writes each domain of `fragment` into the lin Preference file, replacing that domain whole
 * (a key from an earlier provisioning never lingers) and keeping every other domain (the
 * robot's storage). Atomic: the file is either the old one or the new one.
 */
export async function mergeLinPreferences(file: string, fragment: LinPreferences): Promise<void> {
	for (const [domain, keys] of Object.entries(fragment)) {
		checkName('domain', domain);
		for (const [k, v] of Object.entries(keys)) {
			checkName(`domain ${domain} key`, k);
			linValue(v);
		}
	}
	const merged = { ...(await readLinPreferences(file)), ...fragment };
	const tmp = file + '.tmp';
	await writeFile(tmp, JSON.stringify(merged), { mode: 0o600 });
	await rename(tmp, file);
}

function isRecord(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---- the network records: endpoint, Wi-Fi, registration (firmware/core/robot/onboarding.ts) --

export interface NetworkRecords {
	/** "host" or "host:port" of the AWS IoT data endpoint. */
	readonly endpoint?: string;
	/** TLS server name when it is not the host. */
	readonly server?: string;
	readonly ssid?: string;
	readonly psk?: string;
	/** The registration API (https://.../register). */
	readonly register?: string;
}

/** The records checked as the firmware checks them, as UTF-8 entries of Preference domain "net". */
export function networkEntries(n: NetworkRecords): Record<string, Uint8Array> {
	const out: Record<string, Uint8Array> = {};
	if (n.endpoint !== undefined) {
		const e = parseEndpoint(n.endpoint, n.server);
		if (!e.ok) throw new BoardFormError(e.error);
		out[NET_KEYS.endpoint] = utf8(n.endpoint);
		if (n.server !== undefined) out[NET_KEYS.server] = utf8(n.server);
	} else if (n.server !== undefined) throw new BoardFormError('server without an endpoint');
	if (n.ssid !== undefined) {
		const w = checkWifi(n.ssid, n.psk);
		if (!w.ok) throw new BoardFormError(w.error);
		out[NET_KEYS.ssid] = utf8(n.ssid);
		if (w.value.password !== undefined) out[NET_KEYS.psk] = utf8(w.value.password);
	} else if (n.psk !== undefined) throw new BoardFormError('psk without an ssid');
	if (n.register !== undefined) {
		const u = checkRegistrationUrl(n.register);
		if (!u.ok) throw new BoardFormError(u.error);
		out[NET_KEYS.register] = utf8(n.register);
	}
	return out;
}

/** The network records as a modpreferences.json fragment (strings, as the lin Preference keeps them). */
export function networkPreferences(n: NetworkRecords): LinPreferences {
	const keys: Record<string, LinPreferenceValue> = {};
	for (const [k, v] of Object.entries(networkEntries(n))) keys[k] = Buffer.from(v).toString('utf8');
	return { [NET_DOMAIN]: keys };
}

/**
 * The network records as rows of the NVS partition CSV, namespace "net": each an NVS blob
 * (data,hex2bin) of its UTF-8 bytes, as the credentials are (the firmware reads a blob or a
 * string alike), so one CSV and one generated partition hold both.
 */
export function nvsNetworkRows(n: NetworkRecords): string[] {
	const rows = [`${NET_DOMAIN},namespace,,`];
	for (const [k, v] of Object.entries(networkEntries(n))) rows.push(`${k},data,hex2bin,${Buffer.from(v).toString('hex')}`);
	return rows;
}

function utf8(s: string): Uint8Array {
	return new Uint8Array(Buffer.from(s, 'utf8'));
}
