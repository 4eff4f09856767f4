/*
 * A small S3-compatible server, path-style (`http://host:port/bucket/key`), for
 * `@aws-sdk/client-s3` with forcePathStyle and for presigned URLs from
 * `@aws-sdk/s3-request-presigner`. Every request's SigV4 signature is recomputed
 * (header or query string); errors are S3's XML errors.
 * Operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, PutObject,
 * GetObject (one Range), HeadObject, DeleteObject, ListObjectsV2.
 */
import { createHash, randomUUID } from 'node:crypto';
import type http from 'node:http';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { HttpError, listen } from '../http';
import { silentLog, type LogFn } from '../log';
import { UNSIGNED_PAYLOAD, verifySigV4 } from '../sigv4';
import { AwsChunkedDecoder } from './chunked';
import { objectCreatedEvent, type ObjectCreatedHandler } from './events';
import { parseRange } from './range';
import { diskStore, memoryStore, type ObjectInfo, type ObjectStore } from './store';

/** Objects larger than this are refused with EntityTooLarge (a map is a few MB). */
export const DEFAULT_MAX_OBJECT_BYTES = 64 * 1024 * 1024;
/** S3's limit on key length, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
const MAX_LIST_KEYS = 1000;
const STREAMING_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export interface S3Options {
	readonly log?: LogFn;
	/** 0 or absent: any free port. */
	readonly port?: number;
	readonly host?: string;
	/** Objects are kept under this directory; undefined keeps them in memory. */
	readonly dataDir?: string;
	readonly maxObjectBytes?: number;
	/** Buckets to create at start. */
	readonly buckets?: readonly string[];
	/** Milliseconds since the epoch, for signature expiry; Date.now by default. */
	readonly now?: () => number;
	/**
	 * Origins a GET may be read from by a page (a bucket CORS rule allowing GET for the owner's
	 * app: it fetches its maps through presigned URLs). None by default.
	 */
	readonly corsGetOrigins?: () => readonly string[];
}

export interface S3Service {
	/** `http://host:port`: give it to S3Client with forcePathStyle: true. */
	readonly endpoint: string;
	readonly port: number;
	createBucket(name: string): Promise<void>;
	/** Calls `handler` after every successful PutObject; returns the unsubscribe function. */
	onObjectCreated(handler: ObjectCreatedHandler): () => void;
	close(): Promise<void>;
}

const xmlEscape = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

function sendXml(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
	const text = '<?xml version="1.0" encoding="UTF-8"?>\n' + body;
	res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text), ...headers });
	res.end(res.req.method === 'HEAD' ? undefined : text);
}

const notFound = (bucket: string) => new HttpError(404, 'NoSuchBucket', 'The specified bucket does not exist: ' + bucket);

/** A header's single value, or undefined. */
function header(req: http.IncomingMessage, name: string): string | undefined {
	const v = req.headers[name];
	return Array.isArray(v) ? v[0] : v;
}

function decodeSegment(text: string): string {
	try {
		return decodeURIComponent(text);
	} catch {
		throw new HttpError(400, 'InvalidURI', "Couldn't parse the specified URI.");
	}
}

/** GetObject and HeadObject: conditions, ranges, response-* overrides. */
async function getObject(store: ObjectStore, req: http.IncomingMessage, res: http.ServerResponse, bucket: string, key: string, query: URLSearchParams) {
	if (!store.hasBucket(bucket)) throw notFound(bucket);
	const o = store.head(bucket, key);
	if (!o) throw new HttpError(404, 'NoSuchKey', 'The specified key does not exist.');
	const ifMatch = header(req, 'if-match');
	if (
		ifMatch !== undefined &&
		ifMatch !== '*' &&
		!ifMatch
			.split(',')
			.map((s) => s.trim())
			.includes(o.etag)
	) {
		throw new HttpError(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
	}
	const headers: Record<string, string | number> = {
		'content-type': query.get('response-content-type') ?? o.contentType,
		etag: o.etag,
		'last-modified': o.lastModified.toUTCString(),
		'accept-ranges': 'bytes',
	};
	for (const name of ['content-disposition', 'cache-control', 'content-language', 'expires', 'content-encoding']) {
		const v = query.get('response-' + name);
		if (v !== null) headers[name] = v;
	}
	for (const [name, value] of Object.entries(o.metadata)) headers['x-amz-meta-' + name] = value;
	const ifNoneMatch = header(req, 'if-none-match');
	if (
		ifNoneMatch !== undefined &&
		(ifNoneMatch === '*' ||
			ifNoneMatch
				.split(',')
				.map((s) => s.trim())
				.includes(o.etag))
	) {
		res.writeHead(304, { etag: o.etag, 'last-modified': o.lastModified.toUTCString() });
		res.end();
		return;
	}
	const range = parseRange(header(req, 'range'), o.size);
	if (range.kind === 'unsatisfiable') {
		throw Object.assign(new HttpError(416, 'InvalidRange', 'The requested range is not satisfiable'), { contentRange: 'bytes */' + o.size });
	}
	const [status, start, end] = range.kind === 'range' ? [206, range.start, range.end] : [200, 0, o.size - 1];
	headers['content-length'] = end - start + 1;
	if (range.kind === 'range') headers['content-range'] = 'bytes ' + start + '-' + end + '/' + o.size;
	res.writeHead(status, headers);
	if (req.method === 'HEAD' || end < start) {
		res.end();
		return;
	}
	await pipeline(store.read(bucket, key, start, end), res);
}

/** ListObjectsV2: prefix, delimiter, continuation and start-after, url encoding. */
function listObjectsV2(store: ObjectStore, res: http.ServerResponse, bucket: string, query: URLSearchParams) {
	if (!store.hasBucket(bucket)) throw notFound(bucket);
	if (query.get('list-type') !== '2') throw new HttpError(501, 'NotImplemented', 'only ListObjectsV2 (list-type=2) is implemented locally');
	const prefix = query.get('prefix') ?? '';
	const delimiter = query.get('delimiter') ?? '';
	const maxKeys = Math.min(MAX_LIST_KEYS, Number(query.get('max-keys') ?? MAX_LIST_KEYS));
	if (!Number.isInteger(maxKeys) || maxKeys < 0) throw new HttpError(400, 'InvalidArgument', 'max-keys must be a non-negative integer');
	const token = query.get('continuation-token');
	const after = token !== null ? Buffer.from(token, 'base64url').toString('utf8') : (query.get('start-after') ?? '');
	const urlEncode = query.get('encoding-type') === 'url';
	const enc = (s: string) => xmlEscape(urlEncode ? encodeURIComponent(s).replace(/%2F/g, '/') : s);
	const contents: ObjectInfo[] = [];
	const prefixes: string[] = [];
	let last: string | undefined;
	let truncated = false;
	for (const o of store.list(bucket)) {
		if (!o.key.startsWith(prefix) || (after !== '' && (o.key <= after || (after.endsWith(delimiter) && delimiter !== '' && o.key.startsWith(after))))) continue;
		const cut = delimiter === '' ? -1 : o.key.indexOf(delimiter, prefix.length);
		const rolled = cut < 0 ? undefined : o.key.slice(0, cut + delimiter.length);
		if (rolled !== undefined && prefixes[prefixes.length - 1] === rolled) continue;
		if (contents.length + prefixes.length >= maxKeys) {
			truncated = true;
			break;
		}
		if (rolled !== undefined) prefixes.push(rolled);
		else contents.push(o);
		last = rolled ?? o.key;
	}
	const body =
		`<ListBucketResult xmlns="${XMLNS}"><Name>${xmlEscape(bucket)}</Name><Prefix>${enc(prefix)}</Prefix>` +
		(delimiter ? `<Delimiter>${enc(delimiter)}</Delimiter>` : '') +
		`<KeyCount>${contents.length + prefixes.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>` +
		(urlEncode ? '<EncodingType>url</EncodingType>' : '') +
		(token !== null ? `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>` : '') +
		(truncated && last !== undefined ? `<NextContinuationToken>${Buffer.from(last).toString('base64url')}</NextContinuationToken>` : '') +
		contents.map((o) => `<Contents><Key>${enc(o.key)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified>` + `<ETag>${xmlEscape(o.etag)}</ETag><Size>${o.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`).join('') +
		prefixes.map((p) => `<CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`).join('') +
		'</ListBucketResult>';
	sendXml(res, 200, body);
}

/**
 * Checks the request's SigV4 signature (header or presigned); returns the payload hash it
 * signed, or undefined for an unsigned request the checker let through.
 */
function authorize(req: http.IncomingMessage, url: string, rawPath: string, query: URLSearchParams, now: number, log: LogFn): string | undefined {
	const presigned = query.has('X-Amz-Signature') || query.has('X-Amz-Algorithm');
	// a presigned URL signs UNSIGNED-PAYLOAD unless it carries its own hash (the SDK hoists the header)
	const payloadHash = presigned ? (query.get('X-Amz-Content-Sha256') ?? UNSIGNED_PAYLOAD) : header(req, 'x-amz-content-sha256');
	if (payloadHash === undefined && req.headers.authorization !== undefined) {
		throw new HttpError(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
	}
	const auth = verifySigV4({ method: req.method ?? 'GET', url, headers: req.headers, rawHeaders: req.rawHeaders }, { service: 's3', payloadHash: payloadHash ?? UNSIGNED_PAYLOAD, now });
	if (!auth.ok) {
		log({ level: 'warn', event: 's3.auth.refused', method: req.method, path: rawPath, code: auth.error.code, reason: auth.error.message });
		const code = auth.error.code === 'MissingAuthenticationToken' ? 'AccessDenied' : auth.error.code;
		throw new HttpError(auth.error.status, code, auth.error.message);
	}
	// a presigned URL grants exactly what was signed: metadata or a content type the signer did
	// not sign would be the holder's choice (S3: AccessDenied, "headers ... which were not signed")
	if (presigned) {
		const unsigned = Object.keys(req.headers).filter((h) => (h.startsWith('x-amz-meta-') || h === 'content-type') && !auth.value.signedHeaders.includes(h));
		if (unsigned.length > 0) {
			log({ level: 'warn', event: 's3.auth.refused', method: req.method, path: rawPath, code: 'AccessDenied', reason: 'unsigned headers ' + unsigned.join(', ') });
			throw new HttpError(403, 'AccessDenied', 'There were headers present in the request which were not signed: ' + unsigned.sort().join(', '));
		}
	}
	return payloadHash;
}

/** The error reply S3 sends: an XML document with the code, message, resource and request id. */
function errorReply(log: LogFn): (res: http.ServerResponse, e: unknown) => void {
	return (res, e) => {
		const err = e instanceof HttpError ? e : new HttpError(500, 'InternalError', String(e));
		if (!(e instanceof HttpError)) log({ level: 'error', event: 's3.error', error: String(e) });
		const extra: Record<string, string> = {};
		const contentRange = (e as { contentRange?: string }).contentRange;
		if (contentRange) extra['content-range'] = contentRange;
		const resource = (res.req.url ?? '/').split('?')[0]!;
		sendXml(
			res,
			err.status,
			`<Error><Code>${xmlEscape(err.code)}</Code><Message>${xmlEscape(err.message)}</Message>` + `<Resource>${xmlEscape(resource)}</Resource><RequestId>${res.getHeader('x-amz-request-id') ?? ''}</RequestId></Error>`,
			extra,
		);
		// the client may still be sending a body we will not read
		if (!res.req.complete) res.req.resume();
	};
}

/** What S3 computes over an upload as it streams through `meter`: size, MD5 (the ETag), SHA-256, SHA-1, CRC32. */
class UploadDigests {
	readonly #md5 = createHash('md5');
	readonly #sha256 = createHash('sha256');
	readonly #sha1 = createHash('sha1');
	#crc = 0;
	#size = 0;
	readonly #expected: number;
	/** Passes the body through, failing it past `expected` bytes. */
	readonly meter: Transform;

	constructor(expected: number) {
		this.#expected = expected;
		this.meter = new Transform({
			transform: (chunk: Buffer, _enc, done) => {
				this.#size += chunk.length;
				if (this.#size > expected) return done(new HttpError(400, 'IncompleteBody', 'The body is longer than the declared length'));
				this.#md5.update(chunk);
				this.#sha256.update(chunk);
				this.#sha1.update(chunk);
				this.#crc = crc32(chunk, this.#crc);
				done(null, chunk);
			},
		});
	}

	get size(): number {
		return this.#size;
	}

	/**
	 * Once the body is through: the length, the signed payload hash (`payloadHash`, unless
	 * aws-chunked), Content-MD5 and the flexible checksums (a header or an aws-chunked trailer)
	 * must match what was computed. Returns the MD5.
	 */
	verify(req: http.IncomingMessage, payloadHash: string | undefined, trailers: ReadonlyMap<string, string> | undefined): Buffer {
		if (this.#size !== this.#expected) throw new HttpError(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header');
		const sha256Hex = this.#sha256.digest('hex');
		if (payloadHash !== undefined && payloadHash !== UNSIGNED_PAYLOAD && payloadHash !== sha256Hex) {
			throw new HttpError(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
		}
		const md5Bytes = this.#md5.digest();
		const contentMd5 = header(req, 'content-md5');
		if (contentMd5 !== undefined && contentMd5 !== md5Bytes.toString('base64')) {
			throw new HttpError(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
		}
		const crcBytes = Buffer.alloc(4);
		crcBytes.writeUInt32BE(this.#crc >>> 0);
		const computed: Record<string, string> = {
			'x-amz-checksum-crc32': crcBytes.toString('base64'),
			'x-amz-checksum-sha256': Buffer.from(sha256Hex, 'hex').toString('base64'),
			'x-amz-checksum-sha1': this.#sha1.digest('base64'),
		};
		for (const [name, value] of Object.entries(computed)) {
			const given = header(req, name) ?? trailers?.get(name);
			if (given !== undefined && given !== value) throw new HttpError(400, 'BadDigest', 'The ' + name + ' you specified did not match the calculated checksum.');
		}
		return md5Bytes;
	}
}

/** ListBuckets. */
function listBuckets(store: ObjectStore, res: http.ServerResponse): void {
	const buckets = store
		.listBuckets()
		.map((b) => `<Bucket><Name>${xmlEscape(b.name)}</Name><CreationDate>${b.created.toISOString()}</CreationDate></Bucket>`)
		.join('');
	sendXml(res, 200, `<ListAllMyBucketsResult xmlns="${XMLNS}"><Buckets>${buckets}</Buckets></ListAllMyBucketsResult>`);
}

/** CreateBucket, HeadBucket, DeleteBucket, ListObjectsV2; false for another method. */
async function bucketRequest(store: ObjectStore, createBucket: (name: string) => Promise<boolean>, req: http.IncomingMessage, res: http.ServerResponse, bucket: string, query: URLSearchParams): Promise<boolean> {
	const method = req.method;
	if (method === 'PUT') {
		for await (const _ of req); // a CreateBucketConfiguration, if any, says nothing we need
		if (!(await createBucket(bucket))) throw new HttpError(409, 'BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.');
		res.writeHead(200, { location: '/' + bucket, 'content-length': 0 });
	} else if (method === 'HEAD') {
		if (!store.hasBucket(bucket)) throw notFound(bucket);
		res.writeHead(200, { 'x-amz-bucket-region': 'us-east-1' });
	} else if (method === 'DELETE') {
		if (!store.hasBucket(bucket)) throw notFound(bucket);
		if (store.list(bucket).length > 0) throw new HttpError(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty');
		await store.deleteBucket(bucket);
		res.writeHead(204);
	} else if (method === 'GET') {
		listObjectsV2(store, res, bucket, query);
		return true;
	} else return false;
	res.end();
	return true;
}

export async function startS3(options: S3Options): Promise<S3Service> {
	const log = options.log ?? silentLog;
	const now = options.now ?? Date.now;
	const maxObjectBytes = options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
	const store: ObjectStore = options.dataDir ? await diskStore(path.join(options.dataDir)) : memoryStore();
	const handlers = new Set<ObjectCreatedHandler>();
	let sequencer = 0;

	async function createBucket(name: string): Promise<boolean> {
		if (!BUCKET_NAME.test(name)) throw new HttpError(400, 'InvalidBucketName', 'The specified bucket is not valid: ' + name);
		return store.createBucket(name);
	}
	for (const b of options.buckets ?? []) await createBucket(b);

	function notify(o: ObjectInfo, bucket: string, req: http.IncomingMessage, requestId: string): void {
		const event = objectCreatedEvent({
			bucket,
			key: o.key,
			size: o.size,
			etag: o.etag,
			time: o.lastModified,
			sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
			requestId,
			sequencer: ++sequencer,
		});
		for (const h of handlers) {
			// asynchronous as in AWS: a failing handler never fails the upload
			setImmediate(() => {
				Promise.resolve()
					.then(() => h(event))
					.catch((e: unknown) => log({ level: 'error', event: 's3.notify.failed', bucket, key: o.key, error: String(e) }));
			});
		}
	}

	async function putObject(req: http.IncomingMessage, res: http.ServerResponse, bucket: string, key: string, payloadHash: string, requestId: string) {
		if (!store.hasBucket(bucket)) throw notFound(bucket);
		if (req.headers['x-amz-copy-source']) throw new HttpError(501, 'NotImplemented', 'CopyObject is not implemented locally');
		const chunked = payloadHash.startsWith('STREAMING-');
		if (chunked && payloadHash !== STREAMING_TRAILER) {
			throw new HttpError(501, 'NotImplemented', payloadHash + ' is not implemented locally; use ' + STREAMING_TRAILER + ' or a signed payload');
		}
		const declared = header(req, chunked ? 'x-amz-decoded-content-length' : 'content-length');
		if (declared === undefined || !/^\d+$/.test(declared)) throw new HttpError(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
		const expected = Number(declared);
		if (expected > maxObjectBytes) throw new HttpError(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size: ' + maxObjectBytes);

		const digests = new UploadDigests(expected);
		const meter = digests.meter;
		const decoder = chunked ? new AwsChunkedDecoder() : undefined;
		const pending = store.beginPut();
		try {
			// req is piped, not in the pipeline: a refused body must leave the socket usable for the error reply
			const first = decoder ?? meter;
			const done = decoder ? pipeline(decoder, meter, pending.sink) : pipeline(meter, pending.sink);
			req.on('error', (e) => first.destroy(e));
			req.on('aborted', () => first.destroy(new Error('the client went away')));
			req.pipe(first);
			await done;
			const md5Bytes = digests.verify(req, chunked ? undefined : payloadHash, decoder?.trailers);
			const size = digests.size;
			const metadata: Record<string, string> = {};
			for (const [name, value] of Object.entries(req.headers)) {
				if (name.startsWith('x-amz-meta-') && typeof value === 'string') metadata[name.slice('x-amz-meta-'.length)] = value;
			}
			const info: ObjectInfo = {
				key,
				size,
				etag: '"' + md5Bytes.toString('hex') + '"',
				lastModified: new Date(Math.floor(now() / 1000) * 1000),
				contentType: header(req, 'content-type') ?? 'binary/octet-stream',
				metadata,
			};
			await pending.commit(bucket, info);
			res.writeHead(200, { etag: info.etag, 'content-length': 0 });
			res.end();
			log({ level: 'info', event: 's3.put', bucket, key, size, payload: chunked ? 'aws-chunked' : payloadHash === UNSIGNED_PAYLOAD ? 'unsigned' : 'signed' });
			notify(info, bucket, req, requestId);
		} catch (e) {
			await pending.abort();
			if (e instanceof HttpError) throw e;
			throw new HttpError(400, 'IncompleteBody', 'the upload did not complete: ' + String(e));
		}
	}

	async function handle(req: http.IncomingMessage, res: http.ServerResponse, requestId: string): Promise<void> {
		const url = req.url ?? '/';
		const q = url.indexOf('?');
		const rawPath = q < 0 ? url : url.slice(0, q);
		const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
		const payloadHash = authorize(req, url, rawPath, query, now(), log);

		const rest = rawPath.slice(1);
		const slash = rest.indexOf('/');
		const bucket = decodeSegment(slash < 0 ? rest : rest.slice(0, slash));
		const key = slash < 0 ? '' : decodeSegment(rest.slice(slash + 1));
		if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new HttpError(400, 'KeyTooLongError', 'Your key is too long');
		const method = req.method;
		if (bucket === '') {
			if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
			return listBuckets(store, res);
		}
		if (key === '') {
			if (await bucketRequest(store, createBucket, req, res, bucket, query)) return;
		} else {
			if (query.has('uploads') || query.has('uploadId')) throw new HttpError(501, 'NotImplemented', 'multipart upload is not implemented locally');
			if (method === 'PUT') return putObject(req, res, bucket, key, payloadHash ?? UNSIGNED_PAYLOAD, requestId);
			if (method === 'GET' || method === 'HEAD') return getObject(store, req, res, bucket, key, query);
			if (method === 'DELETE') {
				if (!store.hasBucket(bucket)) throw notFound(bucket);
				await store.delete(bucket, key);
				res.writeHead(204);
				return void res.end();
			}
		}
		throw new HttpError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
	}

	const listening = await listen(
		async (req, res) => {
			const requestId = randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();
			res.setHeader('x-amz-request-id', requestId);
			res.setHeader('x-amz-id-2', requestId);
			const origin = req.headers.origin;
			if (origin && req.method === 'GET' && options.corsGetOrigins?.().includes(origin)) res.setHeader('access-control-allow-origin', origin);
			await handle(req, res, requestId);
			log({ level: 'debug', event: 's3.request', method: req.method, url: req.url?.split('?')[0], status: res.statusCode });
		},
		{
			port: options.port,
			host: options.host,
			onError: errorReply(log),
		},
	);
	log({ level: 'info', event: 's3.started', endpoint: listening.url, dataDir: options.dataDir ?? null });

	return {
		endpoint: listening.url,
		port: listening.port,
		async createBucket(name) {
			await createBucket(name);
		},
		onObjectCreated(handler) {
			handlers.add(handler);
			return () => handlers.delete(handler);
		},
		close: () => listening.close(),
	};
}
