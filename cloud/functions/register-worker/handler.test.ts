/* The registration worker and the AWS IoT registry against mocked IoT, IoT data plane and DynamoDB clients (aws-sdk-client-mock). */
import assert from 'node:assert/strict';
import {
	AttachPolicyCommand,
	AttachThingPrincipalCommand,
	CertificateValidationException,
	CreateThingCommand,
	DescribeCACertificateCommand,
	DescribeCertificateCommand,
	DescribeThingCommand,
	IoTClient,
	RegisterCertificateCommand,
	ResourceAlreadyExistsException,
	ThrottlingException,
} from '@aws-sdk/client-iot';
import { GetThingShadowCommand, IoTDataPlaneClient, ResourceNotFoundException, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createDocumentClient } from '../../lib/aws';
import { createLogger, type LogRecord } from '../../lib/logger';
import { createCa, issueDevice, type Ca, type DeviceIdentity } from '../../local/dev-pki';
import type { RegistrationMessage } from '../register-validate/message';
import { createRegisterWorkerHandler, fromEnv, type RegisterWorkerHandler, type SqsRecord } from './handler';
import { awsIotRegistry, certificateIdOfPem } from './registry';

const CA_ID = 'c'.repeat(64);
const creds = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };
const ARN = (kind: string, id: string) => `arn:aws:iot:us-east-1:123456789012:${kind}/${id}`;
let n = 0;
const context = () => ({ awsRequestId: 'lambda-' + ++n, functionName: 'RegisterWorkerFunction' });

describe('register-worker handler', function () {
	this.timeout(30_000);
	const installMocks = () => ({ iot: mockClient(IoTClient), data: mockClient(IoTDataPlaneClient), ddb: mockClient(DynamoDBDocumentClient) });
	let mocks: ReturnType<typeof installMocks>;
	let ca: Ca;
	let robot: DeviceIdentity;
	let certId: string;
	before(async () => {
		mocks = installMocks();
		ca = await createCa('Robot Test CA');
		robot = await issueDevice(ca, 'robot-1');
		certId = certificateIdOfPem(robot.certPem);
	});
	after(() => {
		mocks.iot.restore();
		mocks.data.restore();
		mocks.ddb.restore();
	});

	const iot = new IoTClient({ region: 'us-east-1', credentials: creds });
	const data = new IoTDataPlaneClient({ region: 'us-east-1', credentials: creds, endpoint: 'https://example-ats.iot.us-east-1.amazonaws.com' });
	const ddb = createDocumentClient({ region: 'us-east-1', credentials: creds });
	let logs: LogRecord[];
	let handle: RegisterWorkerHandler;
	let shadows: Set<string>;

	const message = (over: Partial<RegistrationMessage> = {}): RegistrationMessage => ({
		v: 1,
		thing: 'robot-1',
		certificatePem: robot.certPem,
		certificateId: certId,
		proofTimestamp: 1_750_000_000_000,
		apiRequestId: 'api-1',
		acceptedAt: 1_750_000_000_100,
		...over,
	});
	const record = (body: unknown, id = 'm-' + ++n, receives = 1): SqsRecord => ({
		messageId: id,
		body: typeof body === 'string' ? body : JSON.stringify(body),
		attributes: { ApproximateReceiveCount: String(receives) },
	});

	beforeEach(() => {
		mocks.iot.reset();
		mocks.data.reset();
		mocks.ddb.reset();
		logs = [];
		shadows = new Set();
		mocks.iot.on(DescribeCACertificateCommand, { certificateId: CA_ID }).resolves({ certificateDescription: { certificatePem: ca.certPem, status: 'ACTIVE' } });
		mocks.iot.on(RegisterCertificateCommand).resolves({ certificateId: certId, certificateArn: ARN('cert', certId) });
		mocks.iot.on(CreateThingCommand).resolves({ thingName: 'robot-1', thingArn: ARN('thing', 'robot-1') });
		mocks.iot.on(AttachPolicyCommand).resolves({});
		mocks.iot.on(AttachThingPrincipalCommand).resolves({});
		mocks.data.on(GetThingShadowCommand).callsFake((input: { thingName: string; shadowName?: string }) => {
			if (!shadows.has(input.shadowName ?? '')) throw new ResourceNotFoundException({ message: 'No shadow exists with name', $metadata: {} });
			return { payload: new Uint8Array() };
		});
		mocks.data.on(UpdateThingShadowCommand).callsFake((input: { shadowName?: string }) => {
			shadows.add(input.shadowName ?? '');
			return {};
		});
		mocks.ddb.on(UpdateCommand).resolves({});
		handle = createRegisterWorkerHandler({
			registry: awsIotRegistry(iot),
			caCertificateIds: [CA_ID],
			iotData: data,
			ddb,
			table: 'robots',
			policyName: 'robots-prod-RobotPolicy',
			logger: createLogger({ sink: (r) => logs.push(r), level: 'debug' }),
			now: () => 1_750_000_001_000,
		});
	});

	it('registers the certificate under the CA, creates the thing, attaches policy and principal, makes both shadows, records it', async () => {
		const out = await handle({ Records: [record(message())] }, context());
		assert.deepEqual(out, { batchItemFailures: [] });
		const reg = mocks.iot.commandCalls(RegisterCertificateCommand)[0]!.args[0].input;
		assert.deepEqual(reg, { certificatePem: robot.certPem, caCertificatePem: ca.certPem, status: 'ACTIVE' });
		assert.deepEqual(mocks.iot.commandCalls(CreateThingCommand)[0]!.args[0].input, { thingName: 'robot-1' });
		assert.deepEqual(mocks.iot.commandCalls(AttachPolicyCommand)[0]!.args[0].input, { policyName: 'robots-prod-RobotPolicy', target: ARN('cert', certId) });
		assert.deepEqual(mocks.iot.commandCalls(AttachThingPrincipalCommand)[0]!.args[0].input, { thingName: 'robot-1', principal: ARN('cert', certId) });
		const updates = mocks.data.commandCalls(UpdateThingShadowCommand).map((c) => c.args[0].input);
		assert.deepEqual(
			updates.map((u) => u.shadowName),
			[undefined, 'schedule'],
		);
		assert.deepEqual(JSON.parse(new TextDecoder().decode(updates[0]!.payload as Uint8Array)), {
			state: { reported: { registration: { certificateId: certId, registeredAt: 1_750_000_001_000 } } },
		});
		const row = mocks.ddb.commandCalls(UpdateCommand)[0]!.args[0].input as UpdateCommandInput;
		assert.deepEqual(row.Key, { thing: 'robot-1' });
		assert.equal(row.ExpressionAttributeValues![':registered'], 'registered');
		assert.equal(row.ExpressionAttributeValues![':api'], 'api-1');
		const done = logs.find((l) => l.event === 'register_worker.registered')!;
		assert.equal(done.thing, 'robot-1');
		assert.equal(done.apiRequestId, 'api-1');
		assert.match(String(done.requestId), /^lambda-/);
		assert.deepEqual(done.createdShadows, ['classic', 'schedule']);
	});

	it('is idempotent: a second delivery finds everything there and changes no shadow', async () => {
		await handle({ Records: [record(message())] }, context());
		mocks.iot.on(RegisterCertificateCommand).rejects(new ResourceAlreadyExistsException({ message: 'exists', resourceId: certId, $metadata: {} }));
		mocks.iot.on(DescribeCertificateCommand, { certificateId: certId }).resolves({ certificateDescription: { certificateId: certId, certificateArn: ARN('cert', certId), status: 'ACTIVE' } });
		mocks.iot.on(CreateThingCommand).rejects(new ResourceAlreadyExistsException({ message: 'exists', $metadata: {} }));
		mocks.iot.on(DescribeThingCommand, { thingName: 'robot-1' }).resolves({ thingArn: ARN('thing', 'robot-1') });
		const out = await handle({ Records: [record(message())] }, context());
		assert.deepEqual(out.batchItemFailures, []);
		assert.equal(mocks.data.commandCalls(UpdateThingShadowCommand).length, 2, 'the shadows were made once');
		const second = logs.filter((l) => l.event === 'register_worker.registered')[1]!;
		assert.equal(second.certificateCreated, false);
		assert.deepEqual(second.createdShadows, []);
	});

	it('a failing step fails only its record, logged with the step; the others in the batch go through', async () => {
		mocks.iot
			.on(CreateThingCommand)
			.rejectsOnce(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }))
			.resolves({ thingArn: ARN('thing', 'robot-1') });
		const out = await handle({ Records: [record(message(), 'bad', 3), record(message(), 'good')] }, context());
		assert.deepEqual(out, { batchItemFailures: [{ itemIdentifier: 'bad' }] });
		const failed = logs.find((l) => l.event === 'register_worker.failed')!;
		assert.equal(failed.stage, 'create_thing');
		assert.equal(failed.errorName, 'ThrottlingException');
		assert.equal(failed.thing, 'robot-1');
		assert.equal(failed.receiveCount, 3);
		assert.equal(failed.messageId, 'bad');
		assert.equal(logs.filter((l) => l.event === 'register_worker.registered').length, 1);
	});

	it('a poisoned message fails (for the DLQ) and is logged as poison', async () => {
		const out = await handle({ Records: [record('not json', 'p1'), record({ ...message(), certificateId: 'nope' }, 'p2')] }, context());
		assert.deepEqual(
			out.batchItemFailures.map((f) => f.itemIdentifier),
			['p1', 'p2'],
		);
		const poison = logs.filter((l) => l.event === 'register_worker.poison');
		assert.equal(poison.length, 2);
		assert.deepEqual(poison[1]!.errors, ['certificateId: expected 64 hex digits']);
		assert.equal(mocks.iot.commandCalls(RegisterCertificateCommand).length, 0);
	});

	it('a revoked certificate is recorded as refused, not activated, and not retried', async () => {
		mocks.iot.on(RegisterCertificateCommand).rejects(new ResourceAlreadyExistsException({ message: 'exists', $metadata: {} }));
		mocks.iot.on(DescribeCertificateCommand).resolves({ certificateDescription: { certificateId: certId, certificateArn: ARN('cert', certId), status: 'REVOKED' } });
		const out = await handle({ Records: [record(message())] }, context());
		assert.deepEqual(out.batchItemFailures, []);
		assert.equal(mocks.iot.commandCalls(CreateThingCommand).length, 0);
		assert.equal(mocks.iot.commandCalls(AttachPolicyCommand).length, 0);
		const row = mocks.ddb.commandCalls(UpdateCommand)[0]!.args[0].input as UpdateCommandInput;
		assert.equal(row.ExpressionAttributeValues![':code'], 'certificate_revoked');
		assert.match(String(row.ConditionExpression), /#cert = :cert/);
		assert.equal(logs.find((l) => l.event === 'register_worker.refused')!.reason, 'certificate_revoked');
	});

	it('a certificate IoT rejects, or no active CA, is refused as untrusted', async () => {
		mocks.iot.on(RegisterCertificateCommand).rejects(new CertificateValidationException({ message: 'not signed by the CA', $metadata: {} }));
		assert.deepEqual((await handle({ Records: [record(message())] }, context())).batchItemFailures, []);
		assert.equal((mocks.ddb.commandCalls(UpdateCommand)[0]!.args[0].input as UpdateCommandInput).ExpressionAttributeValues![':code'], 'untrusted_certificate');
		mocks.iot.on(DescribeCACertificateCommand).resolves({ certificateDescription: { certificatePem: ca.certPem, status: 'INACTIVE' } });
		assert.deepEqual((await handle({ Records: [record(message())] }, context())).batchItemFailures, []);
		assert.equal(logs.filter((l) => l.event === 'register_worker.refused').length, 2);
	});

	it('shadow, table and CA faults are retried', async () => {
		mocks.data.on(UpdateThingShadowCommand).rejectsOnce(new Error('data plane down')).resolves({});
		mocks.ddb.on(UpdateCommand).rejects(new Error('table down'));
		mocks.iot
			.on(DescribeCACertificateCommand)
			.rejectsOnce(new ThrottlingException({ message: 'slow down', $metadata: {} }))
			.resolves({ certificateDescription: { certificatePem: ca.certPem, status: 'ACTIVE' } });
		const out = await handle({ Records: [record(message(), 'a'), record(message(), 'b'), record(message(), 'c')] }, context());
		assert.deepEqual(
			out.batchItemFailures.map((f) => f.itemIdentifier),
			['a', 'b', 'c'],
		);
		assert.deepEqual(
			logs.filter((l) => l.event === 'register_worker.failed').map((l) => l.stage),
			['ca', 'shadows', 'record'],
		);
	});

	it('fromEnv names what is missing', () => {
		assert.throws(() => fromEnv({}), /CA_CERTIFICATE_IDS/);
		assert.throws(() => fromEnv({ CA_CERTIFICATE_IDS: CA_ID }), /ROBOTS_TABLE/);
		assert.throws(() => fromEnv({ CA_CERTIFICATE_IDS: CA_ID, ROBOTS_TABLE: 'robots' }), /ROBOT_POLICY_NAME/);
		assert.throws(() => fromEnv({ CA_CERTIFICATE_IDS: CA_ID, ROBOTS_TABLE: 'robots', ROBOT_POLICY_NAME: 'p' }), /IOT_DATA_ENDPOINT/);
		assert.equal(
			typeof fromEnv({
				CA_CERTIFICATE_IDS: CA_ID,
				ROBOTS_TABLE: 'robots',
				ROBOT_POLICY_NAME: 'p',
				IOT_DATA_ENDPOINT: 'https://x-ats.iot.us-east-1.amazonaws.com',
				AWS_REGION: 'us-east-1',
			}),
			'function',
		);
	});
});
