/*
 * MapIngestFunction: S3 ObjectCreated on the `maps` bucket (on AWS filtered to prefix
 * `maps/`, suffix `.esdk`; any other key is ignored here too, so the decoded maps this
 * function writes into the same bucket never trigger it again).
 *
 * For `maps/<thing>/<missionId>.esdk` it decrypts the robot's AWS Encryption SDK message
 * with the stock SDK (`@aws-crypto/client-node`, REQUIRE_ENCRYPT_REQUIRE_DECRYPT, unsigned
 * suites only, one encrypted data key at most, frames no larger than FRAME_LENGTH) and a
 * KMS keyring that knows only the map key, streaming: S3 body -> decrypt -> a temporary
 * file, so memory stays constant whatever the map's size. The Encryption SDK releases a
 * frame only after its GCM tag checked, and the decrypted map is stored (S3
 * `decoded/<thing>/<missionId>.map`) only after the whole message, final frame included,
 * authenticated: a flipped or missing byte stores nothing.
 *
 * Replay defense: the encryption context must equal `{ thing, mission, purpose: 'map' }`
 * of the object key, exactly. It is checked on the header's context before KMS is asked
 * for the data key (a materials manager in front of the keyring's), and KMS itself opens
 * the data key only under the context it was generated with. So robot-2's slot cannot
 * deliver a map into robot-1's key, and a slot issued for mission A cannot deliver one for
 * mission B, even through B's valid URL.
 *
 * Then the missions item gets `mapReady: true` and the map's fields through UpdateItem,
 * which creates the item if the report has not arrived yet (a robot may upload before its
 * queued report lands); the report handler then completes that item instead of counting
 * the report a duplicate (cloud/functions/mission-report). UpdateItem touches only the
 * map's attributes, so the report's are never clobbered. A later upload of the same
 * mission replaces the map (a robot retrying a PUT whose answer it lost), ordered by the S3
 * event sequencer so that an older event processed late never overwrites a newer record.
 *
 * Refusals (the robot's fault: too large, undecryptable, another context) are logged as
 * `map_ingest.refused` with a reason and change nothing; the invocation succeeds, since a
 * retry cannot fix them. Cloud faults (S3, DynamoDB, KMS unavailable) throw, so Lambda
 * retries the event.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isDeepStrictEqual } from 'node:util';
import { buildClient, CommitmentPolicy, KMS, KmsKeyringNode, NodeDefaultCryptographicMaterialsManager, type MessageHeader, type NodeMaterialsManager } from '@aws-crypto/client-node';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { clientConfig, createDocumentClient } from '../../lib/aws';
import { errorFields, invocationLogger, type InvocationContext, type Logger } from '../../lib/logger';
import { functionLogger, lambdaEntry, requireEnv, tableFromEnv, type Env } from '../../lib/lambda-env';
import { countMetric } from '../../lib/metrics';
import { TABLES } from '../../tables';
import { decodedKey, FRAME_LENGTH, MAPS_BUCKET, MAX_MAP_BYTES, mapEncryptionContext, parseUploadKey, type MapEncryptionContext } from '../upload-slot/contract';

export const FUNCTION_NAME = 'MapIngestFunction';

/** The parts of an S3 event notification (version 2.x) this function reads. */
export interface S3ObjectCreatedEvent {
	readonly Records: readonly {
		readonly eventName?: string;
		readonly eventTime?: string;
		readonly s3: {
			readonly bucket: { readonly name: string };
			/** key URL-encoded as S3 sends it; eTag without quotes; sequencer hex. */
			readonly object: { readonly key: string; readonly size?: number; readonly eTag?: string; readonly sequencer?: string };
		};
	}[];
}

export type RefusedReason = 'too_large' | 'context_mismatch' | 'undecryptable';

export type MapIngestOutcome =
	| { readonly status: 'stored'; readonly key: string; readonly bytes: number }
	| { readonly status: 'refused'; readonly key: string; readonly reason: RefusedReason; readonly error: string }
	/** A newer upload of the same mission was there first (object replaced, or a later event recorded). */
	| { readonly status: 'superseded'; readonly key: string }
	| { readonly status: 'ignored'; readonly key: string };

export type MapIngestHandler = (event: unknown, context: InvocationContext) => Promise<MapIngestOutcome[]>;

/** The aggregated KMS client (`new KMS(...)`), whose methods the Encryption SDK's keyring calls. */
export type KmsClientProvider = (region: string) => KMS;

export interface MapIngestDeps {
	readonly s3: S3Client;
	readonly ddb: DynamoDBDocumentClient;
	/** The missions table's physical name. */
	readonly table: string;
	/** The map KMS key ARN: the only key whose encrypted data keys are opened. */
	readonly keyArn: string;
	readonly kms: KmsClientProvider;
	readonly logger: Logger;
	readonly bucket?: string;
	/** Where the plaintext waits until the whole message authenticated; os.tmpdir() by default (/tmp on Lambda). */
	readonly tmpDir?: string;
	readonly maxObjectBytes?: number;
}

/** The message's fault: refused, not retried. */
class Refusal extends Error {
	constructor(
		readonly reason: RefusedReason,
		message: string,
	) {
		super(message);
	}
}

/** KMS errors that are the message's fault (a wrong blob, context or key), not the cloud's. */
const KMS_MESSAGE_FAULTS = new Set(['InvalidCiphertextException', 'IncorrectKeyException', 'NotFoundException', 'AccessDeniedException', 'InvalidKeyUsageException', 'DisabledException', 'KMSInvalidStateException']);

/**
 * The object this event names, as a stream; 'superseded' when it has been replaced or removed
 * since (that upload's own event follows), or why it is too large.
 */
async function readObject(s3: MapIngestDeps['s3'], bucket: string, key: string, etag: string | undefined, maxObjectBytes: number, log: Logger): Promise<Readable | string> {
	try {
		const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(etag ? { IfMatch: '"' + etag + '"' } : {}) }));
		if ((got.ContentLength ?? 0) > maxObjectBytes) {
			(got.Body as Readable | undefined)?.destroy?.();
			return got.ContentLength + ' bytes, limit ' + maxObjectBytes;
		}
		return toReadable(got.Body);
	} catch (e) {
		const name = (e as Error)?.name;
		const status = (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
		if (name === 'PreconditionFailed' || status === 412 || name === 'NoSuchKey') {
			log.info('map_ingest.superseded', { why: name === 'NoSuchKey' ? 'the object is gone' : 'the object was replaced' });
			return 'superseded';
		}
		log.error('map_ingest.read_failed', errorFields(e));
		throw e;
	}
}

/** Writes the decrypted map (in `file`) to `target`, naming the upload it came from. */
async function storeDecoded(s3: MapIngestDeps['s3'], o: { bucket: string; target: string; file: string; bytes: number; key: string; etag: string | undefined }, log: Logger): Promise<void> {
	try {
		await s3.send(
			new PutObjectCommand({
				Bucket: o.bucket,
				Key: o.target,
				Body: createReadStream(o.file),
				ContentLength: o.bytes,
				ContentType: 'application/octet-stream',
				Metadata: { 'source-key': o.key, ...(o.etag ? { 'source-etag': o.etag } : {}) },
			}),
		);
	} catch (e) {
		log.error('map_ingest.store_failed', errorFields(e));
		throw e;
	}
}

/**
 * Marks the mission's map ready, unless a later upload (by S3's sequencer) is recorded
 * already: false then.
 */
async function recordMap(ddb: MapIngestDeps['ddb'], table: string, m: { thing: string; missionId: string; target: string; key: string; bytes: number }, record: S3ObjectCreatedEvent['Records'][number], log: Logger): Promise<boolean> {
	const sequencer = (record.s3.object.sequencer ?? '').padStart(32, '0');
	const uploadedAt = record.eventTime ? Date.parse(record.eventTime) : NaN;
	try {
		await ddb.send(
			new UpdateCommand({
				TableName: table,
				Key: { [TABLES.missions.partitionKey.name]: m.thing, [TABLES.missions.sortKey.name]: m.missionId },
				UpdateExpression: 'SET mapReady = :ready, mapBytes = :bytes, mapKey = :mapKey, mapSource = :source, mapSequencer = :seq, mapUploadedAt = :at',
				ConditionExpression: 'attribute_not_exists(mapSequencer) OR mapSequencer < :seq',
				ExpressionAttributeValues: {
					':ready': true,
					':bytes': m.bytes,
					':mapKey': m.target,
					':source': m.key,
					':seq': sequencer,
					':at': Number.isFinite(uploadedAt) ? uploadedAt : null,
				},
			}),
		);
		return true;
	} catch (e) {
		if (e instanceof ConditionalCheckFailedException || (e as Error)?.name === 'ConditionalCheckFailedException') {
			log.warn('map_ingest.superseded', { why: 'a later upload is recorded', sequencer });
			return false;
		}
		log.error('map_ingest.record_failed', errorFields(e));
		throw e;
	}
}

export function createMapIngestHandler(deps: MapIngestDeps): MapIngestHandler {
	const { s3, ddb, table, keyArn, logger } = deps;
	const bucket = deps.bucket ?? MAPS_BUCKET;
	const maxObjectBytes = deps.maxObjectBytes ?? MAX_MAP_BYTES;
	if (typeof s3?.send !== 'function') throw new TypeError('"s3" expected an S3Client');
	if (typeof ddb?.send !== 'function') throw new TypeError('"ddb" expected a DynamoDBDocumentClient');
	if (typeof table !== 'string' || table.length < 3) throw new TypeError('"table" expected a table name, got ' + JSON.stringify(table));
	if (typeof keyArn !== 'string' || !/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/.+$/.test(keyArn)) throw new TypeError('"keyArn" expected a KMS key ARN, got ' + JSON.stringify(keyArn));
	if (typeof deps.kms !== 'function') throw new TypeError('"kms" expected a function from region to KMS client');
	if (typeof logger?.child !== 'function') throw new TypeError('"logger" expected a Logger');
	const kmsClients = new Map<string, KMS>();
	const kmsFor = (region: string) => {
		let k = kmsClients.get(region);
		if (!k) kmsClients.set(region, (k = deps.kms(region)));
		return k;
	};
	const { decryptUnsignedMessageStream } = buildClient({ commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT, maxEncryptedDataKeys: 1 });

	return async (event, context) => {
		const records = recordsOf(event);
		const log = invocationLogger(logger, context);
		const out: MapIngestOutcome[] = [];
		// one at a time: each holds a temporary file and a KMS call
		for (const r of records) out.push(await ingest(r, log));
		return out;
	};

	async function ingest(record: S3ObjectCreatedEvent['Records'][number], parent: Logger): Promise<MapIngestOutcome> {
		const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
		const named = record.s3.bucket.name === bucket ? parseUploadKey(key) : undefined;
		if (!named) {
			parent.debug('map_ingest.ignored', { bucket: record.s3.bucket.name, key });
			return { status: 'ignored', key };
		}
		const { thing, missionId } = named;
		const etag = record.s3.object.eTag;
		const log = parent.child({ thing, missionId, key, etag });
		const refuse = (reason: RefusedReason, error: string): MapIngestOutcome => {
			log.warn('map_ingest.refused', { reason, error });
			countMetric(log, 'map-ingest', 'MapsRefused');
			return { status: 'refused', key, reason, error };
		};
		const size = record.s3.object.size;
		if (size !== undefined && size > maxObjectBytes) return refuse('too_large', size + ' bytes, limit ' + maxObjectBytes);

		const read = await readObject(s3, bucket, key, etag, maxObjectBytes, log);
		if (read === 'superseded') return { status: 'superseded', key };
		if (typeof read === 'string') return refuse('too_large', read);
		const body = read;

		const expected = mapEncryptionContext(thing, missionId);
		const file = path.join(deps.tmpDir ?? tmpdir(), 'map-' + randomUUID());
		try {
			const { bytes, header } = await decrypt(body, expected, file, log);
			log.debug('map_ingest.decrypted', { bytes, suiteId: header.suiteId, frameLength: header.frameLength });
			const target = decodedKey(thing, missionId);
			await storeDecoded(s3, { bucket, target, file, bytes, key, etag }, log);
			if (!(await recordMap(ddb, table, { thing, missionId, target, key, bytes }, record, log))) return { status: 'superseded', key };
			log.info('map_ingest.stored', { bytes, mapKey: target });
			countMetric(log, 'map-ingest', 'MapsIngested');
			return { status: 'stored', key, bytes };
		} catch (e) {
			if (e instanceof Refusal) return refuse(e.reason, e.message);
			throw e;
		} finally {
			body.destroy();
			await rm(file, { force: true });
		}
	}

	/**
	 * Streams `body` through the Encryption SDK into `file`. Throws a Refusal when the
	 * message is at fault, anything else when the cloud is.
	 */
	async function decrypt(body: Readable, expected: MapEncryptionContext, file: string, log: Logger): Promise<{ bytes: number; header: MessageHeader }> {
		const kmsErrors: unknown[] = [];
		let sourceError: unknown;
		body.once('error', (e) => (sourceError ??= e));
		// the keyring's client, recording what KMS answered so faults can be told from refusals
		const clientProvider = (region: string) => {
			const k = kmsFor(region);
			const watch = <T>(p: Promise<T>) => p.catch((e: unknown) => (kmsErrors.push(e), Promise.reject(e)));
			return {
				decrypt: (a: Parameters<KMS['decrypt']>[0]) => watch(k.decrypt(a)),
				encrypt: (a: Parameters<KMS['encrypt']>[0]) => watch(k.encrypt(a)),
				generateDataKey: (a: Parameters<KMS['generateDataKey']>[0]) => watch(k.generateDataKey(a)),
			};
		};
		const keyring = new KmsKeyringNode({ keyIds: [keyArn], clientProvider });
		const inner = new NodeDefaultCryptographicMaterialsManager(keyring);
		let contextError: Refusal | undefined;
		// checks the header's context before KMS is asked to open the data key
		const cmm: NodeMaterialsManager = {
			getEncryptionMaterials: () => Promise.reject(new Error('map-ingest only decrypts')),
			decryptMaterials: (request) => {
				if (!isDeepStrictEqual({ ...request.encryptionContext }, { ...expected })) {
					contextError = new Refusal('context_mismatch', 'encryption context ' + JSON.stringify(request.encryptionContext) + ', the object key names ' + JSON.stringify(expected));
					return Promise.reject(contextError);
				}
				const ours = request.encryptedDataKeys.filter((k) => k.providerId === 'aws-kms' && k.providerInfo === keyArn);
				if (ours.length === 0) {
					const named = request.encryptedDataKeys.map((k) => k.providerId + ' ' + k.providerInfo).join(', ');
					return Promise.reject(new Refusal('undecryptable', 'no encrypted data key under the map key (the message names ' + (named || 'none') + ')'));
				}
				return inner.decryptMaterials(request);
			},
		};
		const stream = decryptUnsignedMessageStream(cmm, { maxBodySize: FRAME_LENGTH });
		let header: MessageHeader | undefined;
		stream.once('MessageHeader', (h: MessageHeader) => (header = h));
		let bytes = 0;
		const meter = new Transform({
			transform(chunk: Buffer, _enc, done) {
				bytes += chunk.length;
				if (bytes > maxObjectBytes) return done(new Refusal('too_large', 'the plaintext passed ' + maxObjectBytes + ' bytes'));
				done(null, chunk);
			},
		});
		try {
			await pipeline(body, stream, meter, createWriteStream(file, { mode: 0o600 }));
		} catch (e) {
			if (sourceError !== undefined) {
				log.error('map_ingest.read_failed', errorFields(sourceError));
				throw sourceError;
			}
			if (contextError) throw contextError;
			if (e instanceof Refusal) throw e;
			const kmsFault = kmsErrors.find((k) => !KMS_MESSAGE_FAULTS.has((k as Error)?.name));
			if (kmsFault !== undefined) {
				log.error('map_ingest.kms_failed', errorFields(kmsFault));
				throw kmsFault;
			}
			if ((e as NodeJS.ErrnoException)?.syscall !== undefined) throw e; // the temporary file: the cloud's fault
			const kmsNames = kmsErrors.map((k) => (k as Error)?.name);
			throw new Refusal('undecryptable', firstLine(e) + (kmsNames.length ? ' (KMS: ' + kmsNames.join(', ') + ')' : ''));
		}
		if (!header) throw new Refusal('undecryptable', 'no message header');
		// the header authenticated and named this context; checked again on what was parsed
		if (!isDeepStrictEqual({ ...header.encryptionContext }, { ...expected })) throw new Refusal('context_mismatch', 'encryption context ' + JSON.stringify(header.encryptionContext));
		return { bytes, header };
	}
}

function firstLine(e: unknown): string {
	return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
}

function toReadable(body: unknown): Readable {
	if (body instanceof Readable) return body;
	if (body instanceof Uint8Array) return Readable.from([body]);
	const b = body as { transformToWebStream?: () => ReadableStream<Uint8Array> } | undefined;
	if (typeof b?.transformToWebStream === 'function') return Readable.fromWeb(b.transformToWebStream() as import('node:stream/web').ReadableStream<Uint8Array>);
	throw new TypeError('GetObject answered without a body stream');
}

function recordsOf(event: unknown): S3ObjectCreatedEvent['Records'] {
	const records = (event as S3ObjectCreatedEvent | undefined)?.Records;
	if (!Array.isArray(records) || records.some((r) => typeof r?.s3?.bucket?.name !== 'string' || typeof r?.s3?.object?.key !== 'string')) {
		throw new TypeError('event: expected an S3 event notification with Records[].s3.bucket.name and .object.key');
	}
	return records;
}

/** The Lambda entry's wiring: MISSIONS_TABLE, MAP_KEY_ARN, MAPS_BUCKET (default `maps`). */
export function fromEnv(env: Env): MapIngestHandler {
	const table = tableFromEnv(env, 'missions');
	const keyArn = requireEnv(env, 'MAP_KEY_ARN', 'the map KMS key ARN');
	const logger = functionLogger(env, 'map-ingest');
	return createMapIngestHandler({
		s3: new S3Client(clientConfig({})),
		ddb: createDocumentClient(),
		table,
		keyArn,
		kms: (region) => new KMS(clientConfig({ region })),
		logger,
		...(env.MAPS_BUCKET ? { bucket: env.MAPS_BUCKET } : {}),
	});
}

/** The Lambda entry (SAM `Handler: handler.handler`). */
export const handler: MapIngestHandler = lambdaEntry(fromEnv);
