/*
 * Shadows by (thing, name), '' naming the classic shadow. Reads and writes are synchronous
 * in memory, so one request's read-modify-write never interleaves with another's; with a
 * data dir each change is also written, in order, to one JSON file per shadow:
 *   <dataDir>/<thing>/shadow.json             the classic shadow
 *   <dataDir>/<thing>/name/<name>.json        a named shadow
 * A deleted shadow keeps a file with its last version alone, because a new shadow of the same
 * name continues from it (AWS: "deleting a shadow does not reset its version number").
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isShadowName, type Shadow } from './document';
import { isThingName } from '../../../firmware/core/contracts/thing';

export interface ShadowEntry {
	/** The shadow, or undefined once deleted. */
	readonly shadow?: Shadow;
	/** Its version, or the deleted shadow's last version. */
	readonly version: number;
}

export interface ShadowStore {
	read(thing: string, name: string): ShadowEntry | undefined;
	/** Takes effect at once in memory; the file follows (see `flush`). */
	write(thing: string, name: string, entry: ShadowEntry): void;
	/** The thing's named shadows that exist (not deleted), sorted. */
	namedShadows(thing: string): string[];
	/** Resolves when every write so far is on disk; rejects with the first failed write. */
	flush(): Promise<void>;
}

export interface ShadowStoreOptions {
	/** Directory of the JSON files; undefined keeps shadows in memory only. */
	readonly dataDir?: string;
}

export function createShadowStore(options: ShadowStoreOptions = {}): ShadowStore {
	const entries = new Map<string, ShadowEntry>();
	const dir = options.dataDir;
	if (dir !== undefined) load(dir, entries);
	let pending: Promise<void> = Promise.resolve();
	let failure: unknown;
	return {
		read(thing, name) {
			return entries.get(key(thing, name));
		},
		write(thing, name, entry) {
			check(thing, name);
			if (!Number.isSafeInteger(entry.version) || entry.version < 0) throw new RangeError('"entry.version" expected an integer >= 0, got ' + entry.version);
			entries.set(key(thing, name), entry);
			if (dir === undefined) return;
			const file = fileOf(dir, thing, name);
			const text = JSON.stringify(entry);
			// one chain for all files keeps writes in order; a later write of the same file wins
			pending = pending.then(() => writeAtomically(file, text)).catch((e: unknown) => void (failure ??= e));
		},
		namedShadows(thing) {
			const prefix = thing + '\n';
			const names: string[] = [];
			for (const [k, e] of entries) if (k.startsWith(prefix) && k.length > prefix.length && e.shadow) names.push(k.slice(prefix.length));
			return names.sort();
		},
		async flush() {
			await pending;
			if (failure !== undefined) throw failure;
		},
	};
}

function key(thing: string, name: string): string {
	return thing + '\n' + name;
}

function check(thing: string, name: string): void {
	if (!isThingName(thing)) throw new RangeError('"thing" expected 1-128 of [A-Za-z0-9:_-], got ' + JSON.stringify(thing));
	if (!isShadowName(name)) throw new RangeError('"name" expected "" or 1-64 of [A-Za-z0-9:_-], got ' + JSON.stringify(name));
}

function fileOf(dir: string, thing: string, name: string): string {
	return name === '' ? path.join(dir, thing, 'shadow.json') : path.join(dir, thing, 'name', name + '.json');
}

async function writeAtomically(file: string, text: string): Promise<void> {
	await mkdir(path.dirname(file), { recursive: true });
	const tmp = file + '.tmp';
	await writeFile(tmp, text);
	await rename(tmp, file);
}

/** Reads every shadow file at start; a file that does not parse is an error, not an empty shadow. */
function load(dir: string, into: Map<string, ShadowEntry>): void {
	mkdirSync(dir, { recursive: true });
	for (const thing of readdirSync(dir)) {
		if (!isThingName(thing)) continue;
		const classic = path.join(dir, thing, 'shadow.json');
		const named = path.join(dir, thing, 'name');
		let files: string[] = [];
		try {
			files = readdirSync(named).filter((f) => f.endsWith('.json'));
		} catch {
			// no named shadows
		}
		try {
			into.set(key(thing, ''), parseEntry(classic, readFileSync(classic, 'utf8')));
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
		}
		for (const f of files) {
			const name = f.slice(0, -'.json'.length);
			if (!isShadowName(name) || name === '') continue;
			const file = path.join(named, f);
			into.set(key(thing, name), parseEntry(file, readFileSync(file, 'utf8')));
		}
	}
}

function parseEntry(file: string, text: string): ShadowEntry {
	const v = JSON.parse(text) as ShadowEntry;
	if (typeof v !== 'object' || v === null || !Number.isSafeInteger(v.version)) throw new Error('shadow file ' + file + ' is not a shadow entry');
	return v;
}
