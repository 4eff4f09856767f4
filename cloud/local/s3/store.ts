/*
 * Where the local S3 keeps buckets and objects: in memory, or under a data
 * directory (one file per object body, named by the SHA-256 of its key, with a
 * JSON sidecar for its metadata). Bodies are written to a temporary file or
 * buffer first and become visible only on `commit`, so a failed upload leaves
 * the previous object in place.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';

export interface ObjectInfo {
	readonly key: string;
	readonly size: number;
	/** MD5 hex of the body, in double quotes, as S3 reports it for single-part uploads. */
	readonly etag: string;
	readonly lastModified: Date;
	readonly contentType: string;
	/** x-amz-meta-* headers, names lower-cased without the prefix. */
	readonly metadata: Readonly<Record<string, string>>;
}

export interface BucketInfo {
	readonly name: string;
	readonly created: Date;
}

/** A body being written: a Writable to pipe into, then commit or abort. */
export interface PendingBody {
	readonly sink: Writable;
	commit(bucket: string, info: ObjectInfo): Promise<void>;
	abort(): Promise<void>;
}

export interface ObjectStore {
	hasBucket(name: string): boolean;
	/** false when it already exists. */
	createBucket(name: string): Promise<boolean>;
	deleteBucket(name: string): Promise<void>;
	listBuckets(): BucketInfo[];
	head(bucket: string, key: string): ObjectInfo | undefined;
	/** Objects of a bucket sorted by key (UTF-8 byte order, as S3 lists). */
	list(bucket: string): ObjectInfo[];
	beginPut(): PendingBody;
	/** Bytes start..end inclusive of an object `head` just returned. */
	read(bucket: string, key: string, start: number, end: number): Readable;
	delete(bucket: string, key: string): Promise<void>;
}

interface Bucket<B> {
	readonly info: BucketInfo;
	readonly objects: Map<string, { info: ObjectInfo; body: B }>;
}

function byKey(a: ObjectInfo, b: ObjectInfo): number {
	return Buffer.compare(Buffer.from(a.key), Buffer.from(b.key));
}

export function memoryStore(): ObjectStore {
	const buckets = new Map<string, Bucket<Buffer>>();
	return {
		hasBucket: (name) => buckets.has(name),
		async createBucket(name) {
			if (buckets.has(name)) return false;
			buckets.set(name, { info: { name, created: new Date() }, objects: new Map() });
			return true;
		},
		async deleteBucket(name) {
			buckets.delete(name);
		},
		listBuckets: () => [...buckets.values()].map((b) => b.info),
		head: (bucket, key) => buckets.get(bucket)?.objects.get(key)?.info,
		list: (bucket) => [...(buckets.get(bucket)?.objects.values() ?? [])].map((o) => o.info).sort(byKey),
		beginPut() {
			const chunks: Buffer[] = [];
			const sink = new Writable({
				write(chunk: Buffer, _enc, done) {
					chunks.push(chunk);
					done();
				},
			});
			return {
				sink,
				async commit(bucket, info) {
					const b = buckets.get(bucket);
					if (!b) throw new Error('no bucket ' + bucket);
					b.objects.set(info.key, { info, body: Buffer.concat(chunks) });
				},
				async abort() {
					chunks.length = 0;
				},
			};
		},
		read(bucket, key, start, end) {
			const body = buckets.get(bucket)?.objects.get(key)?.body ?? Buffer.alloc(0);
			return Readable.from([body.subarray(start, end + 1)]);
		},
		async delete(bucket, key) {
			buckets.get(bucket)?.objects.delete(key);
		},
	};
}

const fileName = (key: string) => createHash('sha256').update(key).digest('hex');

interface Sidecar {
	key: string;
	size: number;
	etag: string;
	lastModified: string;
	contentType: string;
	metadata: Record<string, string>;
}

/** Objects under `dir/<bucket>/`, indexed in memory from the sidecars at start. */
export async function diskStore(dir: string): Promise<ObjectStore> {
	await fs.mkdir(path.join(dir, '.tmp'), { recursive: true });
	const buckets = new Map<string, Bucket<string>>();
	for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
		if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
		const bucketDir = path.join(dir, entry.name);
		const created = (await fs.stat(bucketDir)).birthtime;
		const bucket: Bucket<string> = { info: { name: entry.name, created }, objects: new Map() };
		for (const file of await fs.readdir(bucketDir)) {
			if (!file.endsWith('.json')) continue;
			const s = JSON.parse(await fs.readFile(path.join(bucketDir, file), 'utf8')) as Sidecar;
			const info = { ...s, lastModified: new Date(s.lastModified) };
			bucket.objects.set(s.key, { info, body: path.join(bucketDir, file.slice(0, -'.json'.length)) });
		}
		buckets.set(entry.name, bucket);
	}
	return {
		hasBucket: (name) => buckets.has(name),
		async createBucket(name) {
			if (buckets.has(name)) return false;
			await fs.mkdir(path.join(dir, name), { recursive: true });
			buckets.set(name, { info: { name, created: new Date() }, objects: new Map() });
			return true;
		},
		async deleteBucket(name) {
			buckets.delete(name);
			await fs.rm(path.join(dir, name), { recursive: true, force: true });
		},
		listBuckets: () => [...buckets.values()].map((b) => b.info),
		head: (bucket, key) => buckets.get(bucket)?.objects.get(key)?.info,
		list: (bucket) => [...(buckets.get(bucket)?.objects.values() ?? [])].map((o) => o.info).sort(byKey),
		beginPut() {
			const tmp = path.join(dir, '.tmp', randomUUID());
			const sink = createWriteStream(tmp);
			return {
				sink,
				async commit(bucket, info) {
					const b = buckets.get(bucket);
					if (!b) throw new Error('no bucket ' + bucket);
					const body = path.join(dir, bucket, fileName(info.key));
					// body first, then the sidecar that makes it visible after a restart
					await fs.rename(tmp, body);
					const sidecar: Sidecar = { ...info, lastModified: info.lastModified.toISOString() };
					await fs.writeFile(body + '.json.tmp', JSON.stringify(sidecar));
					await fs.rename(body + '.json.tmp', body + '.json');
					b.objects.set(info.key, { info, body });
				},
				async abort() {
					sink.destroy();
					await fs.rm(tmp, { force: true });
				},
			};
		},
		read(bucket, key, start, end) {
			const file = buckets.get(bucket)?.objects.get(key)?.body;
			if (file === undefined) return Readable.from([]);
			return createReadStream(file, { start, end });
		},
		async delete(bucket, key) {
			const o = buckets.get(bucket)?.objects.get(key);
			if (!o) return;
			buckets.get(bucket)!.objects.delete(key);
			await fs.rm(o.body + '.json', { force: true });
			await fs.rm(o.body, { force: true });
		},
	};
}
