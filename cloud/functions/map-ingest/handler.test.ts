/*
 * The map-ingest handler against mocked S3, KMS and DynamoDB (aws-sdk-client-mock). The
 * messages are real AWS Encryption SDK messages, made by the stock SDK with a KMS keyring
 * whose KMS is the mock below (a small fake that binds each data key to its context).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import { AlgorithmSuiteIdentifier, buildClient, CommitmentPolicy, KMS, KmsKeyringNode } from '@aws-crypto/client-node';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DecryptCommand, GenerateDataKeyCommand, InvalidCiphertextException, KMSClient, KMSInternalException } from '@aws-sdk/client-kms';
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createDocumentClient } from '../../lib/aws';
import { createLogger, type LogRecord } from '../../lib/logger';
import { createMapIngestHandler, fromEnv, type MapIngestHandler } from './handler';

const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const OTHER_KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/99999999-2222-3333-4444-555555555555';
const COMMIT_UNSIGNED = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;
const ctx = (thing: string, mission: string) => ({ thing, mission, purpose: 'map' });

let n = 0;
const context = () => ({ awsRequestId: 'req-' + ++n, functionName: 'MapIngestFunction' });

describe('map-ingest handler', function () {
	this.timeout(30_000);
	// installed in before(), not at load time: a stub replaces the client class's send for every
	// instance in the process, and other suites (the integration tests) need the real clients
	const installMocks = () => ({ kms: mockClient(KMSClient), s3: mockClient(S3Client), ddb: mockClient(DynamoDBDocumentClient) });
	let mocks: ReturnType<typeof installMocks>;
	/** The fake KMS: blob -> data key and the context it was made under. */
	const keys = new Map<string, { key: Buffer; context: Record<string, string>; keyArn: string }>();
	const objects = new Map<string, { body: Buffer; etag: string }>();
	let table: Map<string, Record<string, unknown>>;
	let logs: LogRecord[];
	let handle: MapIngestHandler;
	let tmp: string;
	let seq = 0;

	const encryptor = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
	const keyring = (arn = KEY_ARN) => new KmsKeyringNode({ generatorKeyId: arn, clientProvider: (region) => new KMS({ region, credentials }) });
	/** An Encryption SDK message as the robot must make it: committing unsigned suite, 4096-byte frames, the map context. */
	const seal = async (plain: Uint8Array, encryptionContext: Record<string, string>, o: { arn?: string; suiteId?: AlgorithmSuiteIdentifier } = {}) =>
		(await encryptor.encrypt(keyring(o.arn), plain, { encryptionContext, frameLength: 4096, suiteId: o.suiteId ?? COMMIT_UNSIGNED })).result;
	const upload = (key: string, body: Buffer) => {
		const etag = 'e' + ++seq;
		objects.set(key, { body, etag });
		return { Records: [record(key, body.length, etag)] };
	};
	const record = (key: string, size: number, etag: string, bucket = 'maps') => ({
		eventName: 'ObjectCreated:Put',
		eventTime: '2026-01-15T12:00:00.000Z',
		s3: { bucket: { name: bucket }, object: { key: key.replace(/ /g, '+'), size, eTag: etag, sequencer: seq.toString(16).toUpperCase().padStart(16, '0') } },
	});

	before(async () => {
		mocks = installMocks();
		tmp = await mkdtemp(path.join(tmpdir(), 'map-ingest-test-'));
	});
	after(async () => {
		mocks.kms.restore();
		mocks.s3.restore();
		mocks.ddb.restore();
		await rm(tmp, { recursive: true, force: true });
	});

	beforeEach(() => {
		mocks.kms.reset();
		mocks.s3.reset();
		mocks.ddb.reset();
		objects.clear();
		table = new Map();
		logs = [];
		mocks.kms.on(GenerateDataKeyCommand).callsFake((input: { KeyId: string; EncryptionContext?: Record<string, string> }) => {
			const key = randomBytes(32);
			const blob = randomBytes(24);
			keys.set(blob.toString('hex'), { key: Buffer.from(key), context: { ...input.EncryptionContext }, keyArn: input.KeyId });
			return { KeyId: input.KeyId, Plaintext: new Uint8Array(key), CiphertextBlob: new Uint8Array(blob) };
		});
		mocks.kms.on(DecryptCommand).callsFake((input: { CiphertextBlob: Uint8Array; EncryptionContext?: Record<string, string>; KeyId?: string }) => {
			const k = keys.get(Buffer.from(input.CiphertextBlob).toString('hex'));
			if (!k || k.keyArn !== input.KeyId || !isDeepStrictEqual(k.context, { ...input.EncryptionContext })) throw new InvalidCiphertextException({ message: 'invalid', $metadata: {} });
			return { KeyId: k.keyArn, Plaintext: new Uint8Array(k.key), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
		});
		mocks.s3.on(GetObjectCommand).callsFake((input: { Key: string; IfMatch?: string }) => {
			const o = objects.get(input.Key);
			if (!o) throw new S3ServiceException({ name: 'NoSuchKey', $fault: 'client', message: 'no such key', $metadata: { httpStatusCode: 404 } });
			if (input.IfMatch !== undefined && input.IfMatch !== '"' + o.etag + '"') throw new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', message: 'etag', $metadata: { httpStatusCode: 412 } });
			// small pieces, as a socket delivers them
			const pieces: Buffer[] = [];
			for (let i = 0; i < o.body.length; i += 1000) pieces.push(o.body.subarray(i, i + 1000));
			return { Body: Readable.from(pieces), ContentLength: o.body.length };
		});
		mocks.s3.on(PutObjectCommand).callsFake(async (input: { Key: string; Body: Readable; ContentLength: number }) => {
			const chunks: Buffer[] = [];
			for await (const c of input.Body) chunks.push(c as Buffer);
			const body = Buffer.concat(chunks);
			assert.equal(body.length, input.ContentLength);
			objects.set(input.Key, { body, etag: 'p' + ++seq });
			return { ETag: '"x"' };
		});
		mocks.ddb.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
			const k = input.Key!.thing + '/' + input.Key!.missionId;
			const item = table.get(k) ?? { ...input.Key };
			const v = input.ExpressionAttributeValues!;
			assert.equal(input.ConditionExpression, 'attribute_not_exists(mapSequencer) OR mapSequencer < :seq');
			if (item.mapSequencer !== undefined && !((item.mapSequencer as string) < (v[':seq'] as string))) throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
			table.set(k, { ...item, mapReady: v[':ready'], mapBytes: v[':bytes'], mapKey: v[':mapKey'], mapSource: v[':source'], mapSequencer: v[':seq'], mapUploadedAt: v[':at'] });
			return {};
		});
		handle = createMapIngestHandler({
			s3: new S3Client({ region: 'eu-west-1', credentials }),
			ddb: createDocumentClient({ region: 'eu-west-1', credentials }),
			table: 'missions',
			keyArn: KEY_ARN,
			kms: (region) => new KMS({ region, credentials }),
			logger: createLogger({ sink: (r) => logs.push(r), level: 'debug' }),
			tmpDir: tmp,
		});
	});

	const refusedWith = (reason: string) =>
		logs
			.filter((l) => l.event === 'map_ingest.refused')
			.map((l) => [l.reason, l.level])
			.find(([r]) => r === reason);
	const nothingStored = async () => {
		assert.equal(mocks.s3.commandCalls(PutObjectCommand).length, 0, 'no decoded map');
		assert.equal(mocks.ddb.commandCalls(UpdateCommand).length, 0, 'no mission record change');
		assert.deepEqual(await readdir(tmp), [], 'no temporary file left');
	};

	it('decrypts a 2 MB map streaming, stores it decoded and marks the mission mapReady', async () => {
		const map = randomBytes(2 * 1024 * 1024 + 123);
		const message = await seal(map, ctx('robot-1', 'm-1a'));
		const ev = upload('maps/robot-1/m-1a.esdk', message);
		const c = context();
		assert.deepEqual(await handle(ev, c), [{ status: 'stored', key: 'maps/robot-1/m-1a.esdk', bytes: map.length }]);
		assert.ok(objects.get('decoded/robot-1/m-1a.map')!.body.equals(map));
		const put = mocks.s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
		assert.deepEqual(put.Metadata, { 'source-key': 'maps/robot-1/m-1a.esdk', 'source-etag': objects.get('maps/robot-1/m-1a.esdk')!.etag });
		assert.deepEqual(table.get('robot-1/m-1a'), {
			thing: 'robot-1',
			missionId: 'm-1a',
			mapReady: true,
			mapBytes: map.length,
			mapKey: 'decoded/robot-1/m-1a.map',
			mapSource: 'maps/robot-1/m-1a.esdk',
			mapSequencer: ev.Records[0]!.s3.object.sequencer.padStart(32, '0'),
			mapUploadedAt: Date.parse('2026-01-15T12:00:00.000Z'),
		});
		const get = mocks.s3.commandCalls(GetObjectCommand)[0]!.args[0].input;
		assert.equal(get.IfMatch, '"' + ev.Records[0]!.s3.object.eTag + '"', 'the object version the event names');
		const dec = mocks.kms.commandCalls(DecryptCommand)[0]!.args[0].input;
		assert.deepEqual(dec.EncryptionContext, ctx('robot-1', 'm-1a'));
		assert.equal(dec.KeyId, KEY_ARN);
		const stored = logs.find((l) => l.event === 'map_ingest.stored');
		assert.equal(stored?.requestId, c.awsRequestId);
		assert.equal(stored?.thing, 'robot-1');
		assert.equal(stored?.missionId, 'm-1a');
		assert.deepEqual(await readdir(tmp), []);
	});

	it('refuses a message with a flipped byte (body or header) or cut short, storing nothing', async () => {
		const message = await seal(randomBytes(50_000), ctx('robot-1', 'm-1a'));
		for (const at of [message.length - 5000, 40, message.length - 1]) {
			const bad = Buffer.from(message);
			bad[at]! ^= 0x01;
			const [out] = await handle(upload('maps/robot-1/m-1a.esdk', bad), context());
			assert.equal(out!.status, 'refused', 'flipped at ' + at);
			assert.equal(out!.status === 'refused' && out!.reason, 'undecryptable');
		}
		const [cut] = await handle(upload('maps/robot-1/m-1a.esdk', message.subarray(0, message.length - 100)), context());
		assert.equal(cut!.status === 'refused' && cut!.reason, 'undecryptable');
		assert.deepEqual(refusedWith('undecryptable'), ['undecryptable', 'warn']);
		await nothingStored();
	});

	it("refuses another robot's context and a slot replayed for another mission, before asking KMS", async () => {
		const map = randomBytes(10_000);
		const other = await seal(map, ctx('robot-2', 'm-1a'));
		const [a] = await handle(upload('maps/robot-1/m-1a.esdk', other), context());
		assert.equal(a!.status === 'refused' && a!.reason, 'context_mismatch');
		assert.match(a!.status === 'refused' ? a!.error : '', /"thing":"robot-2".*the object key names.*"thing":"robot-1"/);
		const replay = await seal(map, ctx('robot-1', 'm-1a'));
		const [b] = await handle(upload('maps/robot-1/m-2.esdk', replay), context());
		assert.equal(b!.status === 'refused' && b!.reason, 'context_mismatch');
		const extra = await seal(map, { ...ctx('robot-1', 'm-1a'), note: 'x' });
		const [c] = await handle(upload('maps/robot-1/m-1a.esdk', extra), context());
		assert.equal(c!.status === 'refused' && c!.reason, 'context_mismatch');
		assert.equal(mocks.kms.commandCalls(DecryptCommand).length, 0);
		await nothingStored();
	});

	it('refuses a message under another KMS key, a signed suite and a non-message', async () => {
		const map = randomBytes(10_000);
		const [a] = await handle(upload('maps/robot-1/m-1a.esdk', await seal(map, ctx('robot-1', 'm-1a'), { arn: OTHER_KEY_ARN })), context());
		assert.equal(a!.status === 'refused' && a!.reason, 'undecryptable');
		const signed = await seal(map, ctx('robot-1', 'm-1a'), { suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 });
		const [b] = await handle(upload('maps/robot-1/m-1a.esdk', signed), context());
		assert.equal(b!.status === 'refused' && b!.reason, 'undecryptable');
		const [c] = await handle(upload('maps/robot-1/m-1a.esdk', randomBytes(5000)), context());
		assert.equal(c!.status === 'refused' && c!.reason, 'undecryptable');
		await nothingStored();
	});

	it('refuses an object over the size limit without reading it', async () => {
		const ev = { Records: [record('maps/robot-1/m-1a.esdk', 16 * 1024 * 1024 + 1, 'e')] };
		const [out] = await handle(ev, context());
		assert.equal(out!.status === 'refused' && out!.reason, 'too_large');
		assert.equal(mocks.s3.commandCalls(GetObjectCommand).length, 0);
		await nothingStored();
	});

	it('ignores keys that are not uploads (its own decoded maps included) and other buckets', async () => {
		const ev = {
			Records: [record('decoded/robot-1/m-1a.map', 10, 'e'), record('maps/robot-1/m-1a.esdk', 10, 'e', 'firmware'), record('maps/robot-1/x.esdk', 10, 'e'), record('maps/a/b/m-1.esdk', 10, 'e')],
		};
		const out = await handle(ev, context());
		assert.deepEqual(
			out.map((o) => o.status),
			['ignored', 'ignored', 'ignored', 'ignored'],
		);
		assert.equal(mocks.s3.calls().length, 0);
	});

	it('skips an event whose object was replaced since, and never lets an older event overwrite a newer record', async () => {
		const first = await seal(randomBytes(1000), ctx('robot-1', 'm-1a'));
		const firstEvent = upload('maps/robot-1/m-1a.esdk', first);
		const second = await seal(randomBytes(2000), ctx('robot-1', 'm-1a'));
		const secondEvent = upload('maps/robot-1/m-1a.esdk', second);
		assert.deepEqual(await handle(firstEvent, context()), [{ status: 'superseded', key: 'maps/robot-1/m-1a.esdk' }]);
		assert.equal((await handle(secondEvent, context()))[0]!.status, 'stored');
		assert.equal(table.get('robot-1/m-1a')!.mapBytes, 2000);
		// the same upload's event delivered again (S3 at-least-once) changes nothing
		assert.equal((await handle(secondEvent, context()))[0]!.status, 'superseded');
		assert.equal(table.get('robot-1/m-1a')!.mapBytes, 2000);
	});

	it('throws on cloud faults (KMS, S3), so Lambda retries, storing nothing', async () => {
		const message = await seal(randomBytes(1000), ctx('robot-1', 'm-1a'));
		mocks.kms.on(DecryptCommand).rejects(new KMSInternalException({ message: 'kms down', $metadata: {} }));
		await assert.rejects(handle(upload('maps/robot-1/m-1a.esdk', message), context()), /kms down/);
		assert.equal(logs.find((l) => l.event === 'map_ingest.kms_failed')?.errorName, 'KMSInternalException');
		mocks.s3.on(GetObjectCommand).rejects(new S3ServiceException({ name: 'InternalError', $fault: 'server', message: 's3 down', $metadata: { httpStatusCode: 500 } }));
		await assert.rejects(handle(upload('maps/robot-1/m-1a.esdk', message), context()), /s3 down/);
		await nothingStored();
		await assert.rejects(handle({ Records: [{}] }, context()), /expected an S3 event notification/);
	});

	it('checks its arguments and its environment', () => {
		const base = {
			s3: new S3Client({}),
			ddb: createDocumentClient({ region: 'eu-west-1', credentials }),
			table: 'missions',
			keyArn: KEY_ARN,
			kms: (r: string) => new KMS({ region: r }),
			logger: createLogger({ sink: () => {} }),
		};
		assert.throws(() => createMapIngestHandler({ ...base, keyArn: 'alias/robot-maps' }), /"keyArn" expected a KMS key ARN/);
		assert.throws(() => createMapIngestHandler({ ...base, table: '' }), /"table" expected/);
		assert.throws(() => fromEnv({}), /MISSIONS_TABLE is not set/);
		assert.throws(() => fromEnv({ MISSIONS_TABLE: 'missions' }), /MAP_KEY_ARN is not set/);
		assert.equal(typeof fromEnv({ MISSIONS_TABLE: 'missions', MAP_KEY_ARN: KEY_ARN, AWS_REGION: 'eu-west-1' }), 'function');
	});
});
