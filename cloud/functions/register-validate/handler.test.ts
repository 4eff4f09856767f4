/* The registration API's validate function against mocked IoT, SQS and DynamoDB clients (aws-sdk-client-mock). */
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DescribeCACertificateCommand, IoTClient, ResourceNotFoundException } from '@aws-sdk/client-iot';
import { SendMessageCommand, SQSClient, type SendMessageCommandInput } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { MAX_REQUEST_BYTES, proofMessage } from '../../../firmware/core/registration/contract';
import { createDocumentClient } from '../../lib/aws';
import { createLogger, type LogRecord } from '../../lib/logger';
import { createCa, issueDevice, type Ca, type DeviceIdentity } from '../../local/dev-pki';
import { awsIotRegistry, certificateIdOfPem } from '../register-worker/registry';
import { createRegisterValidateHandler, fromEnv, type HttpApiEvent, type RegisterValidateHandler } from './handler';
import { parseRegistrationMessage } from './message';

const CA_ID = 'a'.repeat(64);
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/registration';
const creds = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };
const NOW = Date.now();

let n = 0;
const context = () => ({ awsRequestId: 'lambda-' + ++n, functionName: 'RegisterValidateFunction' });
const event = (body: unknown, over: Partial<HttpApiEvent> = {}): HttpApiEvent => ({
	body: typeof body === 'string' ? body : JSON.stringify(body),
	isBase64Encoded: false,
	requestContext: { requestId: 'api-' + ++n, http: { method: 'POST', sourceIp: '203.0.113.7' } },
	...over,
});
function request(id: { thing: string; certDer: Uint8Array; keyPem: string }, o: { timestamp?: number; thing?: string; key?: string } = {}) {
	const timestamp = o.timestamp ?? NOW;
	const thing = o.thing ?? id.thing;
	return {
		v: 1,
		thing,
		certificate: Buffer.from(id.certDer).toString('base64'),
		timestamp,
		signature: sign('sha256', Buffer.from(proofMessage(thing, timestamp)), o.key ?? id.keyPem).toString('base64'),
	};
}

describe('register-validate handler', function () {
	this.timeout(30_000);
	const installMocks = () => ({ iot: mockClient(IoTClient), sqs: mockClient(SQSClient), ddb: mockClient(DynamoDBDocumentClient) });
	let mocks: ReturnType<typeof installMocks>;
	let ca: Ca;
	let robot: DeviceIdentity;
	let other: DeviceIdentity;
	let foreign: DeviceIdentity;
	let expired: DeviceIdentity;
	let future: DeviceIdentity;
	before(async () => {
		mocks = installMocks();
		ca = await createCa('Robot Test CA');
		robot = await issueDevice(ca, 'robot-1');
		other = await issueDevice(ca, 'robot-2');
		foreign = await issueDevice(await createCa('Robot Test CA'), 'robot-1');
		expired = await issueDevice(ca, 'robot-1', { notBefore: new Date(NOW - 10 * 86_400_000), notAfter: new Date(NOW - 86_400_000) });
		future = await issueDevice(ca, 'robot-1', { notBefore: new Date(NOW + 86_400_000) });
	});
	after(() => {
		mocks.iot.restore();
		mocks.sqs.restore();
		mocks.ddb.restore();
	});

	const iot = new IoTClient({ region: 'us-east-1', credentials: creds });
	const sqs = new SQSClient({ region: 'us-east-1', credentials: creds });
	const ddb = createDocumentClient({ region: 'us-east-1', credentials: creds });
	let logs: LogRecord[];
	let handle: RegisterValidateHandler;
	/** The robots table's proof column, with the handler's condition. */
	let items: Map<string, Record<string, unknown>>;
	let clock: number;

	beforeEach(() => {
		mocks.iot.reset();
		mocks.sqs.reset();
		mocks.ddb.reset();
		logs = [];
		items = new Map();
		clock = NOW;
		mocks.iot.on(DescribeCACertificateCommand, { certificateId: CA_ID }).resolves({ certificateDescription: { certificateId: CA_ID, certificatePem: ca.certPem, status: 'ACTIVE' } });
		mocks.sqs.on(SendMessageCommand).resolves({ MessageId: 'msg-1' });
		mocks.ddb.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
			const thing = input.Key!.thing as string;
			const ts = input.ExpressionAttributeValues![':ts'] as number;
			const old = items.get(thing) ?? { thing };
			if (typeof old.lastProofAt === 'number' && !(old.lastProofAt < ts)) throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
			const next = { ...old, lastProofAt: ts, lastProofRequestId: input.ExpressionAttributeValues![':req'], lastRequestAt: input.ExpressionAttributeValues![':at'] };
			items.set(thing, next);
			return { Attributes: next };
		});
		handle = createRegisterValidateHandler({
			registry: awsIotRegistry(iot),
			caCertificateIds: [CA_ID],
			sqs,
			queueUrl: QUEUE,
			ddb,
			table: 'robots',
			logger: createLogger({ sink: (r) => logs.push(r), level: 'debug' }),
			now: () => clock,
		});
	});

	const body = (r: { body: string }) => JSON.parse(r.body);

	it('queues a good request: 202 pending, the checked certificate and ids in the message, every line traceable', async () => {
		const e = event(request(robot));
		const out = await handle(e, context());
		assert.equal(out.statusCode, 202, out.body);
		assert.deepEqual(body(out), { status: 'pending', thing: 'robot-1', requestId: e.requestContext.requestId });
		const sent = mocks.sqs.commandCalls(SendMessageCommand)[0]!.args[0].input as SendMessageCommandInput;
		assert.equal(sent.QueueUrl, QUEUE);
		const m = parseRegistrationMessage(sent.MessageBody!);
		assert.ok(m.ok, JSON.stringify(m));
		assert.equal(m.value.thing, 'robot-1');
		assert.equal(m.value.certificateId, certificateIdOfPem(robot.certPem));
		assert.equal(m.value.apiRequestId, e.requestContext.requestId);
		assert.equal(m.value.proofTimestamp, NOW);
		assert.equal(sent.MessageAttributes!.thing!.StringValue, 'robot-1');
		const update = mocks.ddb.commandCalls(UpdateCommand)[0]!.args[0].input as UpdateCommandInput;
		assert.equal(update.TableName, 'robots');
		assert.equal(update.ConditionExpression, 'attribute_not_exists(#proof) OR #proof < :ts');
		const queued = logs.find((l) => l.event === 'register_validate.queued')!;
		assert.equal(queued.thing, 'robot-1');
		assert.equal(queued.apiRequestId, e.requestContext.requestId);
		assert.match(String(queued.requestId), /^lambda-/);
		assert.equal(queued.certificateId, m.value.certificateId);
		assert.equal(queued.sourceIp, '203.0.113.7');
	});

	it('answers 200 registered for a robot the worker finished with this certificate, and queues nothing', async () => {
		items.set('robot-1', { thing: 'robot-1', status: 'registered', certificateId: certificateIdOfPem(robot.certPem) });
		const out = await handle(event(request(robot)), context());
		assert.equal(out.statusCode, 200);
		assert.deepEqual(body(out), { status: 'registered', thing: 'robot-1', certificateId: certificateIdOfPem(robot.certPem) });
		assert.equal(mocks.sqs.commandCalls(SendMessageCommand).length, 0);
		// another certificate for the same thing is queued (a robot given a new certificate)
		items.set('robot-1', { thing: 'robot-1', status: 'registered', certificateId: 'f'.repeat(64), lastProofAt: 0 });
		assert.equal((await handle(event(request(robot, { timestamp: NOW + 1 })), context())).statusCode, 202);
	});

	it("answers the worker's refusal of a revoked certificate", async () => {
		items.set('robot-1', {
			thing: 'robot-1',
			status: 'refused',
			certificateId: certificateIdOfPem(robot.certPem),
			refusedCode: 'certificate_revoked',
			refusedReason: 'the certificate is REVOKED in IoT',
		});
		const out = await handle(event(request(robot)), context());
		assert.equal(out.statusCode, 403);
		assert.deepEqual(body(out).error, { code: 'certificate_revoked', message: 'the certificate is REVOKED in IoT' });
		assert.equal(mocks.sqs.commandCalls(SendMessageCommand).length, 0);
	});

	it('refuses each bad request with its code, status and a message, touching neither table nor queue', async () => {
		const cases: [string, unknown, number, string, RegExp][] = [
			['another CA', request(foreign), 403, 'untrusted_certificate', /not signed by a registered CA/],
			['expired', request(expired), 403, 'certificate_expired', /expired at/],
			['not yet valid', request(future), 403, 'certificate_not_yet_valid', /valid only from/],
			['CN is another thing', request(robot, { thing: 'robot-2' }), 403, 'thing_mismatch', /CN is "robot-1", the request names "robot-2"/],
			['signed by another key', request(robot, { key: other.keyPem }), 403, 'bad_signature', /does not verify/],
			['stale', request(robot, { timestamp: NOW - 301_000 }), 403, 'stale_timestamp', /301 s old/],
			['from the future', request(robot, { timestamp: NOW + 400_000 }), 403, 'stale_timestamp', /in the future/],
			// the review: a proof dated up to 5 min ahead was taken, and then blocked the robot's honest proofs as replays
			['31 s ahead', request(robot, { timestamp: NOW + 31_000 }), 403, 'stale_timestamp', /31 s in the future; at most 30 s ahead/],
			['4 min ahead', request(robot, { timestamp: NOW + 240_000 }), 403, 'stale_timestamp', /240 s in the future/],
			['the CA itself', { ...request(robot), certificate: Buffer.from(ca.certDer).toString('base64') }, 403, 'untrusted_certificate', /CA certificate/],
			['not JSON', '{"v":1,', 400, 'invalid_request', /not JSON/],
			['fields', { v: 2, thing: 'a/b', certificate: '!!', timestamp: -1 }, 400, 'invalid_request', /v: expected 1; thing: .*; certificate: .*; timestamp: .*; signature: /],
			['not a certificate', { ...request(robot), certificate: 'AAAA' }, 400, 'invalid_request', /not a DER X.509/],
			['too large', { ...request(robot), pad: 'x'.repeat(MAX_REQUEST_BYTES) }, 413, 'too_large', /at most 16384/],
		];
		for (const [name, b, status, code, message] of cases) {
			const out = await handle(event(b), context());
			assert.equal(out.statusCode, status, name + ': ' + out.body);
			assert.equal(body(out).error.code, code, name);
			assert.match(body(out).error.message, message, name);
			assert.equal(typeof body(out).requestId, 'string');
		}
		assert.equal(mocks.sqs.commandCalls(SendMessageCommand).length, 0);
		assert.equal(mocks.ddb.commandCalls(UpdateCommand).length, 0);
		assert.equal(logs.filter((l) => l.event === 'register_validate.refused').length, cases.length);
		assert.ok(logs.filter((l) => l.event === 'register_validate.refused').every((l) => typeof l.reason === 'string' && typeof l.apiRequestId === 'string'));
	});

	it('refuses a replayed proof and an older one (409), accepts a newer one', async () => {
		const r = request(robot);
		assert.equal((await handle(event(r), context())).statusCode, 202);
		const replay = await handle(event(r), context());
		assert.equal(replay.statusCode, 409);
		assert.equal(body(replay).error.code, 'replayed');
		assert.equal((await handle(event(request(robot, { timestamp: NOW - 5 })), context())).statusCode, 409);
		assert.equal((await handle(event(request(robot, { timestamp: NOW + 5 })), context())).statusCode, 202);
		assert.equal(mocks.sqs.commandCalls(SendMessageCommand).length, 2);
	});

	it('reads the CA from IoT once per cache period; an inactive or missing CA trusts nothing', async () => {
		await handle(event(request(robot)), context());
		await handle(event(request(robot, { timestamp: NOW + 1 })), context());
		assert.equal(mocks.iot.commandCalls(DescribeCACertificateCommand).length, 1);
		clock += 6 * 60_000;
		await handle(event(request(robot, { timestamp: clock })), context());
		assert.equal(mocks.iot.commandCalls(DescribeCACertificateCommand).length, 2);

		mocks.iot.reset();
		mocks.iot.on(DescribeCACertificateCommand).resolves({ certificateDescription: { certificatePem: ca.certPem, status: 'INACTIVE' } });
		clock += 6 * 60_000;
		const inactive = await handle(event(request(robot, { timestamp: clock })), context());
		assert.equal(body(inactive).error.code, 'untrusted_certificate');
		assert.ok(logs.some((l) => l.event === 'register_validate.ca_inactive'));

		mocks.iot.reset();
		mocks.iot.on(DescribeCACertificateCommand).rejects(new ResourceNotFoundException({ message: 'no CA', $metadata: {} }));
		clock += 6 * 60_000;
		assert.equal(body(await handle(event(request(robot, { timestamp: clock })), context())).error.code, 'untrusted_certificate');
		assert.ok(logs.some((l) => l.event === 'register_validate.ca_missing'));
	});

	it('a cloud fault is 503 unavailable, worth a retry: IoT, DynamoDB, SQS', async () => {
		mocks.iot.reset();
		mocks.iot.on(DescribeCACertificateCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
		let out = await handle(event(request(robot)), context());
		assert.equal(out.statusCode, 503);
		assert.equal(body(out).error.code, 'unavailable');

		mocks.iot.reset();
		mocks.iot.on(DescribeCACertificateCommand).resolves({ certificateDescription: { certificatePem: ca.certPem, status: 'ACTIVE' } });
		mocks.ddb.reset();
		mocks.ddb.on(UpdateCommand).rejects(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' }));
		out = await handle(event(request(robot)), context());
		assert.equal(out.statusCode, 503);

		mocks.ddb.reset();
		mocks.ddb.on(UpdateCommand).resolves({ Attributes: {} });
		mocks.sqs.reset();
		mocks.sqs.on(SendMessageCommand).rejects(new Error('queue down'));
		out = await handle(event(request(robot)), context());
		assert.equal(out.statusCode, 503);
		assert.deepEqual(
			logs.filter((l) => l.level === 'error').map((l) => l.event),
			['register_validate.ca_lookup_failed', 'register_validate.refused', 'register_validate.table_failed', 'register_validate.refused', 'register_validate.queue_failed', 'register_validate.refused'],
		);
	});

	it('takes a base64 body as API Gateway may send it; refuses other methods', async () => {
		const raw = Buffer.from(JSON.stringify(request(robot))).toString('base64');
		assert.equal((await handle(event(raw, { isBase64Encoded: true }), context())).statusCode, 202);
		const get = await handle(event('', { requestContext: { requestId: 'x', http: { method: 'GET' } } }), context());
		assert.equal(get.statusCode, 400);
	});

	it('fromEnv names what is missing', () => {
		assert.throws(() => fromEnv({}), /CA_CERTIFICATE_IDS/);
		assert.throws(() => fromEnv({ CA_CERTIFICATE_IDS: CA_ID }), /REGISTRATION_QUEUE_URL/);
		assert.throws(() => fromEnv({ CA_CERTIFICATE_IDS: CA_ID, REGISTRATION_QUEUE_URL: QUEUE }), /ROBOTS_TABLE/);
		assert.equal(typeof fromEnv({ CA_CERTIFICATE_IDS: CA_ID + ',' + 'b'.repeat(64), REGISTRATION_QUEUE_URL: QUEUE, ROBOTS_TABLE: 'robots', AWS_REGION: 'us-east-1' }), 'function');
	});
});
