/*
 * The local KMS keys: 256-bit symmetric key material per key, with aliases,
 * kept in memory and, when a data directory is given, in one JSON file there
 * (written whole to a temporary name and renamed, so a crash leaves the old one).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../credentials';

export interface LocalKey {
	readonly id: string;
	readonly arn: string;
	readonly material: Buffer;
	readonly description: string;
	/** Seconds since the epoch. */
	readonly created: number;
}

interface Saved {
	keys: { id: string; material: string; description: string; created: number }[];
	aliases: Record<string, string>;
}

const FILE = 'kms-keys.json';
export const keyArn = (id: string) => 'arn:aws:kms:' + LOCAL_REGION + ':' + LOCAL_ACCOUNT + ':key/' + id;
export const aliasArn = (name: string) => 'arn:aws:kms:' + LOCAL_REGION + ':' + LOCAL_ACCOUNT + ':' + name;

export interface KeyStore {
	create(description: string): Promise<LocalKey>;
	/** By key id, key ARN, `alias/<name>` or alias ARN. */
	find(keyId: string): LocalKey | undefined;
	all(): LocalKey[];
	/** false when the alias exists already. */
	addAlias(name: string, keyId: string): Promise<boolean>;
	aliases(): { name: string; keyId: string }[];
}

export async function openKeyStore(dataDir: string | undefined): Promise<KeyStore> {
	const keys = new Map<string, LocalKey>();
	const aliases = new Map<string, string>();
	const file = dataDir === undefined ? undefined : path.join(dataDir, FILE);
	if (file !== undefined) {
		await fs.mkdir(dataDir!, { recursive: true });
		const text = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
		if (text !== undefined) {
			const saved = JSON.parse(text) as Saved;
			for (const k of saved.keys) keys.set(k.id, { ...k, arn: keyArn(k.id), material: Buffer.from(k.material, 'base64') });
			for (const [name, id] of Object.entries(saved.aliases)) aliases.set(name, id);
		}
	}
	async function save(): Promise<void> {
		if (file === undefined) return;
		const saved: Saved = {
			keys: [...keys.values()].map((k) => ({ id: k.id, material: k.material.toString('base64'), description: k.description, created: k.created })),
			aliases: Object.fromEntries(aliases),
		};
		await fs.writeFile(file + '.tmp', JSON.stringify(saved), { mode: 0o600 });
		await fs.rename(file + '.tmp', file);
	}
	return {
		async create(description) {
			const id = randomUUID();
			const key: LocalKey = { id, arn: keyArn(id), material: randomBytes(32), description, created: Math.floor(Date.now() / 1000) };
			keys.set(id, key);
			await save();
			return key;
		},
		find(keyId) {
			// a bare id, `alias/<name>`, or either as an ARN of this region and account
			const arnPrefix = aliasArn('');
			const name = keyId.startsWith(arnPrefix) ? keyId.slice(arnPrefix.length) : keyId;
			if (name.startsWith('alias/')) {
				const id = aliases.get(name);
				return id === undefined ? undefined : keys.get(id);
			}
			return keys.get(keyId.startsWith(arnPrefix) ? name.replace(/^key\//, '') : name);
		},
		all: () => [...keys.values()],
		async addAlias(name, keyId) {
			if (aliases.has(name)) return false;
			aliases.set(name, keyId);
			await save();
			return true;
		},
		aliases: () => [...aliases].map(([name, keyId]) => ({ name, keyId })),
	};
}
