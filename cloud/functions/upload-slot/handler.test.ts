/* The upload-slot handler against mocked KMS and IoT (aws-sdk-client-mock); URLs are signed offline. */
import assert from 'node:assert/strict';
import { constants, createHash, privateDecrypt, webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { DescribeCertificateCommand, IoTClient, ResourceNotFoundException, ThrottlingException } from '@aws-sdk/client-iot';
import { GenerateDataKeyCommand, KMSClient, KMSInternalException } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { createCa, issueDevice, type DeviceIdentity } from '../../local/dev-pki';
import { createLogger, type LogRecord } from '../../lib/logger';
import { MAX_MAP_BYTES, parseUploadKey, uploadKey, type SlotError, type UploadSlot } from './contract';
import { createUploadSlotHandler, fromEnv, UPLOAD_SLOT_SQL, type UploadSlotHandler } from './handler';
import { iotCertificateDirectory } from './iot';

const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const idOf = (d: DeviceIdentity | { certDer: Uint8Array }) => createHash('sha256').update(d.certDer).digest('hex');

let n = 0;
const context = () => ({ awsRequestId: 'req-' + ++n, functionName: 'UploadSlotFunction' });

describe('upload-slot handler', function () {
	this.timeout(20_000);
	// installed in before(), not at load time: a stub replaces the client class's send for every
	// instance in the process, and other suites (the integration tests) need the real clients
	const installMocks = () => ({ kms: mockClient(KMSClient), iot: mockClient(IoTClient) });
	let mocks: ReturnType<typeof installMocks>;
	const s3 = new S3Client({ region: 'eu-west-1', credentials, requestChecksumCalculation: 'WHEN_REQUIRED' });
	let robot1: DeviceIdentity;
	let robot2: DeviceIdentity;
	let ecCert: { certDer: Uint8Array; certPem: string };
	let logs: LogRecord[];
	let published: { topic: string; payload: string; qos: number }[];
	let handle: UploadSlotHandler;
	let dataKey: Uint8Array;
	let certs: Map<string, { pem: string; status: string }>;

	before(async () => {
		mocks = installMocks();
		const ca = await createCa('Test CA');
		robot1 = await issueDevice(ca, 'robot-1');
		robot2 = await issueDevice(ca, 'robot-2');
		const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
		const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
		const ec = await x509.X509CertificateGenerator.createSelfSigned({
			serialNumber: '01',
			name: 'CN=robot-1',
			keys,
			signingAlgorithm: alg,
			notBefore: new Date(NOW - 86_400_000),
			notAfter: new Date(NOW + 86_400_000),
		});
		ecCert = { certDer: new Uint8Array(ec.rawData), certPem: ec.toString('pem') };
	});

	beforeEach(() => {
		mocks.kms.reset();
		mocks.iot.reset();
		logs = [];
		published = [];
		certs = new Map([
			[idOf(robot1), { pem: robot1.certPem, status: 'ACTIVE' }],
			[idOf(robot2), { pem: robot2.certPem, status: 'ACTIVE' }],
			[idOf(ecCert), { pem: ecCert.certPem, status: 'ACTIVE' }],
		]);
		mocks.iot.on(DescribeCertificateCommand).callsFake((input: { certificateId: string }) => {
			const c = certs.get(input.certificateId);
			if (!c) throw new ResourceNotFoundException({ message: 'not found', $metadata: {} });
			return { certificateDescription: { certificateId: input.certificateId, certificatePem: c.pem, status: c.status } };
		});
		mocks.kms.on(GenerateDataKeyCommand).callsFake(() => {
			dataKey = new Uint8Array(32).map((_, i) => i + 1);
			return { KeyId: KEY_ARN, Plaintext: dataKey, CiphertextBlob: new Uint8Array([1, 2, 3, 4]) };
		});
		handle = createUploadSlotHandler({
			kms: new KMSClient({ region: 'eu-west-1', credentials }),
			s3,
			certificates: iotCertificateDirectory(new IoTClient({ region: 'eu-west-1', credentials })),
			publisher: { publish: async (topic, payload, qos) => void published.push({ topic, payload, qos }) },
			keyId: KEY_ARN,
			logger: createLogger({ sink: (r) => logs.push(r), level: 'debug' }),
			now: () => NOW,
		});
	});
	after(() => {
		mocks.kms.restore();
		mocks.iot.restore();
	});

	/** What UPLOAD_SLOT_SQL hands the function: the request's bytes in base64 and the connection's fields. */
	const raw = (payload: string, over: Record<string, unknown> = {}) => ({
		request: Buffer.from(payload).toString('base64'),
		thing: 'robot-1',
		clientId: 'robot-1',
		principal: idOf(robot1),
		...over,
	});
	const event = (request: Record<string, unknown>, over: Record<string, unknown> = {}) => raw(JSON.stringify(request), over);
	const request = { clientToken: 'tok-1', missionId: 'm-1a', bytes: 2_000_000 };
	const reply = () => {
		assert.equal(published.length, 1);
		assert.equal(published[0]!.topic, 'robots/robot-1/maps/upload-slot');
		assert.equal(published[0]!.qos, 1);
		return JSON.parse(published[0]!.payload) as UploadSlot & SlotError;
	};

	it('issues a slot: a presigned PUT for the mission key, the data key wrapped to the certificate key with OAEP SHA-256', async () => {
		const ctx = context();
		const out = await handle(event(request), ctx);
		assert.deepEqual(out, { status: 'issued', key: 'maps/robot-1/m-1a.esdk', expiresAt: NOW + 300_000 });
		const slot = reply();
		assert.deepEqual(Object.keys(slot).sort(), ['ciphertextBlob', 'clientToken', 'encryptionContext', 'expiresAt', 'frameLength', 'headers', 'keyArn', 'method', 'url', 'wrappedKey']);
		assert.equal(slot.clientToken, 'tok-1');
		assert.deepEqual(slot.encryptionContext, { thing: 'robot-1', mission: 'm-1a', purpose: 'map' });
		assert.equal(slot.keyArn, KEY_ARN);
		assert.equal(slot.ciphertextBlob, Buffer.from([1, 2, 3, 4]).toString('base64'));
		assert.equal(slot.frameLength, 4096);
		assert.equal(slot.method, 'PUT');
		assert.deepEqual(slot.headers, { 'content-type': 'application/octet-stream' }, 'the content type is signed: the PUT must carry exactly it');
		assert.equal(slot.expiresAt, NOW + 300_000);

		const url = new URL(slot.url);
		assert.equal(url.pathname, '/maps/robot-1/m-1a.esdk');
		assert.equal(url.hostname, 'maps.s3.eu-west-1.amazonaws.com');
		assert.equal(url.searchParams.get('X-Amz-Expires'), '300');
		assert.equal(url.searchParams.get('X-Amz-Date'), '20260115T120000Z');
		assert.equal(url.searchParams.get('X-Amz-SignedHeaders'), 'content-type;host');
		assert.equal(url.searchParams.get('x-amz-checksum-crc32'), null, 'no checksum of an empty body is signed');

		// the robot unwraps with its own key: OAEP, SHA-256, MGF1-SHA-256
		const unwrapped = privateDecrypt({ key: robot1.keyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(slot.wrappedKey, 'base64'));
		assert.deepEqual(
			[...unwrapped],
			Array.from({ length: 32 }, (_, i) => i + 1),
		);
		assert.ok(
			dataKey.every((b) => b === 0),
			'the plaintext data key is wiped',
		);
		assert.equal(slot.wrappedKey.length, 344, 'one RSA-2048 block');

		const gdk = mocks.kms.commandCalls(GenerateDataKeyCommand)[0]!.args[0].input;
		assert.deepEqual(gdk, { KeyId: KEY_ARN, KeySpec: 'AES_256', EncryptionContext: { thing: 'robot-1', mission: 'm-1a', purpose: 'map' } });
		assert.equal(mocks.iot.commandCalls(DescribeCertificateCommand)[0]!.args[0].input.certificateId, idOf(robot1));

		const [issued] = logs.filter((l) => l.event === 'upload_slot.issued');
		assert.equal(issued?.requestId, ctx.awsRequestId);
		assert.equal(issued?.thing, 'robot-1');
		assert.equal(issued?.missionId, 'm-1a');
		assert.equal(issued?.clientToken, 'tok-1');
		assert.ok(!JSON.stringify(logs).includes(Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1)).toString('base64')), 'the key is never logged');
	});

	it('binds the URL to the mission and honours the configured expiry', async () => {
		const short = createUploadSlotHandler({
			kms: new KMSClient({ region: 'eu-west-1', credentials }),
			s3,
			certificates: iotCertificateDirectory(new IoTClient({ region: 'eu-west-1', credentials })),
			publisher: { publish: async (topic, payload, qos) => void published.push({ topic, payload, qos }) },
			keyId: KEY_ARN,
			logger: createLogger({ sink: () => {} }),
			expiresInS: 5,
			now: () => NOW,
		});
		await short(event({ clientToken: 'a', missionId: 'm-1' }), context());
		await short(event({ clientToken: 'b', missionId: 'm-2' }), context());
		const [a, b] = published.map((p) => JSON.parse(p.payload) as UploadSlot);
		assert.equal(new URL(a!.url).searchParams.get('X-Amz-Expires'), '5');
		assert.equal(a!.expiresAt, NOW + 5000);
		assert.notEqual(new URL(a!.url).pathname, new URL(b!.url).pathname);
		assert.deepEqual(parseUploadKey(uploadKey('robot-1', 'm-2')), { thing: 'robot-1', missionId: 'm-2' });
		assert.equal(parseUploadKey('maps/robot-1/../m-2.esdk'), undefined);
		assert.equal(parseUploadKey('decoded/robot-1/m-2.map'), undefined);
	});

	const refusals: [string, () => Record<string, unknown>, string, RegExp, boolean][] = [
		['a malformed mission id', () => event({ ...request, missionId: '../m-2' }), 'invalid_request', /missionId: expected/, true],
		['an unknown field', () => event({ ...request, bucket: 'other' }), 'invalid_request', /bucket: unknown field/, true],
		['no clientToken', () => event({ missionId: 'm-1' }), 'invalid_request', /clientToken: expected/, false],
		['a map over the limit', () => event({ ...request, bytes: MAX_MAP_BYTES + 1 }), 'too_large', /limit 16777216/, true],
		['a client that is not the topic thing', () => event(request, { clientId: 'robot-2' }), 'thing_mismatch', /client is robot-2/, true],
		['a certificate of another thing', () => event(request, { principal: idOf(robot2) }), 'thing_mismatch', /CN is "robot-2"/, true],
		['an unknown certificate', () => event(request, { principal: 'ab'.repeat(32) }), 'unknown_certificate', /no active certificate/, true],
		['a principal that is no certificate id', () => event(request, { principal: 'AIDAEXAMPLE' }), 'unknown_certificate', /no active certificate/, true],
		['a non-RSA certificate', () => event(request, { principal: idOf(ecCert) }), 'unsupported_key', /key is ec/, true],
		// the review: a request that is not JSON was left to the rule's error action; the robot waited out its timeout
		['a request that is not JSON', () => raw('{"clientToken":"tok-1","missionId":"m-1a",'), 'invalid_request', /request: not JSON/, true],
		['a request that is not JSON, without a token to answer', () => raw('not json at all'), 'invalid_request', /request: not JSON/, false],
		['a JSON array', () => raw('["tok-1"]'), 'invalid_request', /expected a JSON object/, false],
		['a request that is not UTF-8', () => ({ ...raw(''), request: Buffer.from([0x7b, 0xff, 0x7d]).toString('base64') }), 'invalid_request', /not UTF-8/, false],
		['a request over 1 KB', () => raw(JSON.stringify({ ...request, pad: 'x'.repeat(1100) })), 'invalid_request', /limit 1024/, false],
	];
	for (const [name, ev, code, message, hasToken] of refusals)
		it('refuses ' + name + ' with an error reply and no data key', async () => {
			const out = await handle(ev(), context());
			assert.equal(out.status, 'refused');
			assert.equal(out.status === 'refused' && out.code, code);
			const r = reply();
			assert.equal(r.error.code, code);
			assert.match(r.error.message, message);
			assert.equal('clientToken' in r, hasToken);
			if (hasToken) assert.equal(r.clientToken, 'tok-1');
			assert.ok(!('url' in r) && !('wrappedKey' in r));
			assert.equal(mocks.kms.commandCalls(GenerateDataKeyCommand).length, 0);
			const [refused] = logs.filter((l) => l.event === 'upload_slot.refused');
			assert.equal(refused?.level, 'warn');
			assert.equal(refused?.code, code);
		});

	it('refuses a revoked certificate', async () => {
		certs.set(idOf(robot1), { pem: robot1.certPem, status: 'REVOKED' });
		const out = await handle(event(request), context());
		assert.equal(out.status === 'refused' && out.code, 'unknown_certificate');
	});

	it('answers unavailable when KMS or IoT fail, so the robot retries rather than waits', async () => {
		mocks.kms.on(GenerateDataKeyCommand).rejects(new KMSInternalException({ message: 'boom', $metadata: {} }));
		assert.equal((await handle(event(request), context())).status, 'refused');
		assert.equal(reply().error.code, 'unavailable');
		assert.equal(logs.find((l) => l.event === 'upload_slot.kms_failed')?.errorName, 'KMSInternalException');
		published = [];
		mocks.iot.on(DescribeCertificateCommand).rejects(new ThrottlingException({ message: 'slow down', $metadata: {} }));
		await handle(event(request), context());
		assert.equal(reply().error.code, 'unavailable');
		assert.equal(logs.filter((l) => l.event === 'upload_slot.refused' && l.level === 'error').length, 2);
	});

	it('throws when the reply cannot be published (Lambda retries), and on an event the SQL cannot produce', async () => {
		const failing = createUploadSlotHandler({
			kms: new KMSClient({ region: 'eu-west-1', credentials }),
			s3,
			certificates: iotCertificateDirectory(new IoTClient({ region: 'eu-west-1', credentials })),
			publisher: { publish: async () => Promise.reject(new Error('data plane down')) },
			keyId: KEY_ARN,
			logger: createLogger({ sink: (r) => logs.push(r) }),
		});
		await assert.rejects(failing(event(request), context()), /data plane down/);
		await assert.rejects(failing(event({ ...request, missionId: 'bad' }), context()), /data plane down/);
		assert.ok(
			dataKey.every((b) => b === 0),
			'wiped even when the reply fails',
		);
		await assert.rejects(handle({ ...request }, context()), /request, thing, clientId, principal missing/);
		await assert.rejects(handle([], context()), /expected the object the rule selected/);
		assert.equal(published.length, 0);
	});

	it('checks its arguments and its environment; the SQL selects what the handler reads', () => {
		assert.match(UPLOAD_SLOT_SQL, /^SELECT encode\(\*, 'base64'\) AS request, topic\(2\) AS thing, clientid\(\) AS clientId, principal\(\) AS principal FROM 'robots\/\+\/maps\/upload-request'/);
		const base = {
			kms: new KMSClient({}),
			s3,
			certificates: { get: async () => undefined },
			publisher: { publish: async () => {} },
			keyId: KEY_ARN,
			logger: createLogger({ sink: () => {} }),
		};
		assert.throws(() => createUploadSlotHandler({ ...base, keyId: '' }), /"keyId" expected/);
		assert.throws(() => createUploadSlotHandler({ ...base, expiresInS: 0 }), /"expiresInS" expected/);
		assert.throws(() => createUploadSlotHandler({ ...base, certificates: {} as never }), /"certificates" expected/);
		assert.throws(() => fromEnv({}), /MAP_KEY_ARN is not set/);
		assert.throws(() => fromEnv({ MAP_KEY_ARN: KEY_ARN }), /IOT_DATA_ENDPOINT is not set/);
		assert.equal(typeof fromEnv({ MAP_KEY_ARN: KEY_ARN, IOT_DATA_ENDPOINT: 'https://x-ats.iot.eu-west-1.amazonaws.com', AWS_REGION: 'eu-west-1' }), 'function');
	});
});
