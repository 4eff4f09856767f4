/*
 * The local IoT registry on disk (<dataDir>/iot/registry.json): CA certificates, device
 * certificates with their status history, things with their principals. Without it a
 * restarted local cloud knew only the dev PKI's robots, and refused at CONNECT every robot
 * registered through the registration API or renewed since, and forgot revocations.
 *
 * Written synchronously at each change, before the operation answers (a registration the
 * worker reported done is on disk), as a new file then a rename, so a crash leaves the old
 * file or the new one, never half of one. Read once at start: a file that does not parse or
 * does not have the shape below is an error naming the file and what is wrong, and nothing is
 * written over it (the operator decides what to do with it).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface StoredStatusChange {
	readonly status: string;
	/** Epoch ms. */
	readonly at: number;
}

export interface StoredCertificate {
	readonly id: string;
	readonly arn: string;
	readonly status: string;
	readonly pem: string;
	readonly policies: readonly string[];
	readonly createdAt: number;
	readonly modifiedAt: number;
	/** Every status the certificate had, oldest first; the last is `status`. */
	readonly history: readonly StoredStatusChange[];
}

export interface StoredThing {
	readonly name: string;
	readonly arn: string;
	readonly id: string;
	readonly principals: readonly string[];
	readonly attributes: Readonly<Record<string, string>>;
	readonly version: number;
}

export interface StoredCa {
	readonly id: string;
	readonly pem: string;
	readonly status: string;
}

export interface RegistrySnapshot {
	readonly version: 1;
	readonly cas: readonly StoredCa[];
	readonly certificates: readonly StoredCertificate[];
	readonly things: readonly StoredThing[];
}

export const REGISTRY_FILE = 'registry.json';

/** The snapshot in `file`, or undefined when there is none yet; throws on a bad file. */
export function readRegistrySnapshot(file: string): RegistrySnapshot | undefined {
	let text: string;
	try {
		text = fs.readFileSync(file, 'utf8');
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
		throw e;
	}
	const bad = (what: string) => new Error('local IoT registry ' + file + ': ' + what + '; the file is left as it is (move it away to start with an empty registry)');
	let raw: unknown;
	try {
		raw = JSON.parse(text);
	} catch (e) {
		throw bad('not JSON (' + (e as Error).message + ')');
	}
	const problem = checkSnapshot(raw);
	if (problem) throw bad(problem);
	return raw as RegistrySnapshot;
}

/** Writes `snapshot` to `file` crash-safely: a new file, flushed, then renamed over the old. */
export function writeRegistrySnapshot(file: string, snapshot: RegistrySnapshot): void {
	fs.mkdirSync(path.dirname(file), { recursive: true });
	const tmp = file + '.tmp';
	const fd = fs.openSync(tmp, 'w');
	try {
		fs.writeFileSync(fd, JSON.stringify(snapshot));
		fs.fsyncSync(fd);
	} finally {
		fs.closeSync(fd);
	}
	fs.renameSync(tmp, file);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

/** What is wrong with `raw` as a snapshot, or undefined. */
function checkSnapshot(raw: unknown): string | undefined {
	if (!isObject(raw)) return 'expected an object';
	if (raw.version !== 1) return 'expected version 1, got ' + JSON.stringify(raw.version);
	for (const key of ['cas', 'certificates', 'things'] as const) if (!Array.isArray(raw[key])) return '"' + key + '" expected an array';
	for (const [i, c] of (raw.cas as unknown[]).entries()) {
		if (!isObject(c) || !isString(c.id) || !isString(c.pem) || !isString(c.status)) return 'cas[' + i + '] expected { id, pem, status }';
	}
	for (const [i, c] of (raw.certificates as unknown[]).entries()) {
		const where = 'certificates[' + i + ']';
		if (!isObject(c) || !isString(c.id) || !isString(c.arn) || !isString(c.status) || !isString(c.pem) || !isStrings(c.policies) || !isTime(c.createdAt) || !isTime(c.modifiedAt))
			return where + ' expected { id, arn, status, pem, policies, createdAt, modifiedAt, history }';
		if (!Array.isArray(c.history) || c.history.length === 0 || !c.history.every((h) => isObject(h) && isString(h.status) && isTime(h.at))) return where + '.history expected a non-empty array of { status, at }';
		if ((c.history[c.history.length - 1] as StoredStatusChange).status !== c.status) return where + '.history does not end in its status ' + c.status;
	}
	const names = new Set<string>();
	for (const [i, t] of (raw.things as unknown[]).entries()) {
		if (!isObject(t) || !isString(t.name) || !isString(t.arn) || !isString(t.id) || !isStrings(t.principals) || !isObject(t.attributes) || !Object.values(t.attributes).every((v) => typeof v === 'string') || !isTime(t.version))
			return 'things[' + i + '] expected { name, arn, id, principals, attributes, version }';
		if (names.has(t.name)) return 'things[' + i + '] repeats thing ' + t.name;
		names.add(t.name);
	}
	return undefined;
}
