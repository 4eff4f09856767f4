/*
 * Robot registration end to end on the local cloud (the seeds' registration flow): a freshly
 * provisioned robot POSTs its certificate and proof over HTTPS from the firmware's own
 * registration core (host ports), the validate function queues it, the worker registers the
 * certificate, creates the thing, attaches the policy and makes the initial shadows, and the
 * robot then connects and reads its shadow. Then what must be refused, each with its reason,
 * and the dead-letter path: a request failing past maxReceiveCount and a poisoned message
 * both end in the DLQ, and tools/redrive.ts brings them back.
 */
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetThingShadowCommand, IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { proofMessage, type RegistrationRequest } from '../firmware/core/registration/contract';
import { certificateId, register, type RegistrationPorts } from '../firmware/core/registration/registration';
import { createHostDeviceKey, hostCrypto } from '../firmware/platform/host/crypto';
import { createHttpPort } from '../firmware/platform/host/http';
import { createMemoryStorage, hostClock, hostRandom, hostTimers, memoryLog } from '../firmware/platform/host/index';
import { createDocumentClient } from '../cloud/lib/aws';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import type { LogEntry } from '../cloud/local/log';
import { ROBOT_POLICY_NAME } from '../cloud/local/registration';
import { createCa, issueDevice, type DeviceIdentity } from '../cloud/local/dev-pki';
import { main as redriveMain } from '../tools/redrive';
import { connectThing, nextMessage } from './support/mqtt-client';

const creds = () => ({ ...LOCAL_CREDENTIALS });

describe('robot registration through the local cloud', function () {
	this.timeout(90_000);
	let dir: string;
	let cloud: LocalCloud;
	const logs: LogEntry[] = [];

	before(async () => {
		dir = await mkdtemp(path.join(tmpdir(), 'registration-'));
		cloud = await startLocalCloud({ dataDir: dir, things: [], log: (e) => logs.push(e), inMemory: true, registrationVisibilityS: 1 });
	});
	after(async () => {
		await cloud?.close();
		await rm(dir, { recursive: true, force: true });
	});

	/** The firmware's ports on Node, trusting only the dev CA for the API's HTTPS. */
	function robotPorts(identity: DeviceIdentity): RegistrationPorts & { log: ReturnType<typeof memoryLog> } {
		return {
			http: createHttpPort({ ca: cloud.pki.ca.certDer, serverName: 'localhost' }),
			deviceKey: createHostDeviceKey(identity.keyDer),
			crypto: hostCrypto,
			clock: hostClock,
			timers: hostTimers,
			random: hostRandom,
			storage: createMemoryStorage(),
			log: memoryLog(),
		};
	}
	const runRegister = (ports: RegistrationPorts, identity: DeviceIdentity, maxAttempts = 40) =>
		register(ports, { url: cloud.endpoints.registration, thing: identity.thing, certificate: identity.certDer, maxAttempts, backoff: { baseMs: 100, capMs: 400 } });

	/** One POST of a hand-made request, as a robot (or an attacker) would send it. */
	async function post(request: Partial<RegistrationRequest> | string): Promise<{ status: number; body: Record<string, any> }> {
		const http = createHttpPort({ ca: cloud.pki.ca.certDer, serverName: 'localhost' });
		const bytes = new TextEncoder().encode(typeof request === 'string' ? request : JSON.stringify(request));
		let sent = false;
		const r = await http.request({
			method: 'POST',
			url: cloud.endpoints.registration,
			headers: { 'content-type': 'application/json' },
			body: { length: bytes.length, next: () => (sent ? undefined : ((sent = true), bytes)) },
		});
		if (!r.ok) throw new Error(r.error);
		return { status: r.value.status, body: JSON.parse(new TextDecoder().decode(r.value.body)) };
	}
	function proof(identity: { thing: string; certDer: Uint8Array; keyPem: string }, timestamp = Date.now(), thing = identity.thing): RegistrationRequest {
		return {
			v: 1,
			thing,
			certificate: Buffer.from(identity.certDer).toString('base64'),
			timestamp,
			signature: sign('sha256', Buffer.from(proofMessage(thing, timestamp)), identity.keyPem).toString('base64'),
		};
	}
	async function robotItem(thing: string) {
		const ddb = createDocumentClient({ region: LOCAL_REGION, endpoint: cloud.endpoints.dynamodb, credentials: creds() });
		try {
			return (await ddb.send(new GetCommand({ TableName: cloud.tables.robots, Key: { thing }, ConsistentRead: true }))).Item;
		} finally {
			ddb.destroy();
		}
	}
	async function queueDepth(url: string): Promise<number> {
		const sqs = new SQSClient({ region: LOCAL_REGION, endpoint: cloud.endpoints.sqs, credentials: creds() });
		try {
			const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes!;
			return Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible);
		} finally {
			sqs.destroy();
		}
	}
	async function until(what: string, f: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
		const deadline = Date.now() + ms;
		while (!(await f())) {
			if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
			await new Promise((r) => setTimeout(r, 50));
		}
	}

	it('a freshly provisioned robot registers from its firmware core, then connects and finds its shadows', async () => {
		const robot = await issueDevice(cloud.pki, 'robot-new');
		const ports = robotPorts(robot);
		const r = await runRegister(ports, robot);
		assert.ok(r.ok, JSON.stringify(r));
		assert.equal(r.value.already, false);
		assert.ok(r.value.attempts >= 2, 'the first answer is pending: the worker runs after the POST');
		const id = certificateId(hostCrypto, robot.certDer);
		assert.equal(r.value.certificateId, id);
		assert.ok(ports.log.lines.some((l) => l.event === 'registration.retry' && l.fields.reason === 'pending'));

		// IoT: the certificate ACTIVE with the robot policy, the thing with the certificate attached
		const cert = cloud.registration.registry.certificate(id)!;
		assert.equal(cert.status, 'ACTIVE');
		assert.deepEqual([...cert.policies], [ROBOT_POLICY_NAME]);
		assert.deepEqual([...cloud.registration.registry.thing('robot-new')!.principals], [cert.arn]);
		// the table
		const item = (await robotItem('robot-new'))!;
		assert.equal(item.status, 'registered');
		assert.equal(item.certificateId, id);
		// the initial shadows, classic and schedule
		const data = new IoTDataPlaneClient({ region: LOCAL_REGION, endpoint: cloud.endpoints.iotData, credentials: creds() });
		for (const shadowName of [undefined, 'schedule']) {
			const got = await data.send(new GetThingShadowCommand({ thingName: 'robot-new', ...(shadowName ? { shadowName } : {}) }));
			const doc = JSON.parse(new TextDecoder().decode(got.payload));
			assert.equal(doc.state.reported.registration.certificateId, id);
		}
		data.destroy();

		// traced from robot to table: one API request id joins the validate's and the worker's lines
		const apiRequestId = item.registeredBy as string;
		const trace = logs.filter((l) => l.apiRequestId === apiRequestId).map((l) => l.event);
		assert.ok(trace.includes('register_validate.queued'), trace.join());
		assert.ok(trace.includes('register_worker.registered'), trace.join());
		for (const l of logs.filter((x) => typeof x.event === 'string' && /^register_(validate|worker)\.(queued|registered)$/.test(x.event))) {
			assert.equal(typeof l.requestId, 'string');
			assert.equal(typeof l.thing, 'string');
		}

		// it connects, and the shadow the worker made is there over MQTT
		const device = await connectThing({ port: cloud.broker.port, identity: robot });
		try {
			await device.subscribeAsync('$aws/things/robot-new/shadow/get/accepted', { qos: 1 });
			const reply = nextMessage(device, '$aws/things/robot-new/shadow/get/accepted', 5000);
			await device.publishAsync('$aws/things/robot-new/shadow/get', '{}', { qos: 1 });
			assert.equal(JSON.parse((await reply).payload.toString()).state.reported.registration.certificateId, id);
		} finally {
			device.end(true);
		}

		// the next boot sends nothing; a new POST for a registered robot is answered at once
		const again = await runRegister(ports, robot);
		assert.ok(again.ok && again.value.already);
		const direct = await post(proof(robot));
		assert.equal(direct.status, 200);
		assert.deepEqual(direct.body, { status: 'registered', thing: 'robot-new', certificateId: id });
	});

	it("refuses another CA's certificate, a bad signature, a stale timestamp and a replay, each with its reason", async () => {
		const evilCa = await createCa('Not Our CA');
		const foreign = await issueDevice(evilCa, 'robot-foreign');
		const robot = await issueDevice(cloud.pki, 'robot-checked');
		const other = await issueDevice(cloud.pki, 'robot-other');
		const before = cloud.registration.registry.calls.length;

		const untrusted = await post(proof(foreign));
		assert.equal(untrusted.status, 403);
		assert.equal(untrusted.body.error.code, 'untrusted_certificate');
		assert.match(untrusted.body.error.message, /not signed by a registered CA.*Not Our CA/);
		assert.equal(typeof untrusted.body.requestId, 'string');

		const badSig = await post({ ...proof(robot), signature: proof(other).signature });
		assert.equal(badSig.status, 403);
		assert.equal(badSig.body.error.code, 'bad_signature');

		const otherThing = await post(proof(robot, Date.now(), 'robot-other'));
		assert.equal(otherThing.body.error.code, 'thing_mismatch');

		const stale = await post(proof(robot, Date.now() - 10 * 60_000));
		assert.equal(stale.status, 403);
		assert.equal(stale.body.error.code, 'stale_timestamp');
		assert.match(stale.body.error.message, /old; at most 300 s/);

		const once = proof(robot);
		assert.equal((await post(once)).status, 202);
		const replay = await post(once);
		assert.equal(replay.status, 409);
		assert.equal(replay.body.error.code, 'replayed');
		const older = await post(proof(robot, once.timestamp - 1000));
		assert.equal(older.body.error.code, 'replayed', 'an older proof is a replay too');

		const garbage = await post('{"v":1,"thing":"robot/1"}');
		assert.equal(garbage.status, 400);
		assert.match(garbage.body.error.message, /thing: .*certificate: .*timestamp: .*signature: /);

		// the firmware core reports a final refusal with the cloud's reason
		const r = await runRegister(robotPorts(foreign), foreign, 3);
		assert.deepEqual(r.ok ? undefined : [r.error.code, r.error.code === 'refused' && r.error.reason], ['refused', 'untrusted_certificate']);
		// nothing refused reached IoT; the refusals are logged with their reasons
		const foreignLine = foreign.certPem.split('\n')[1]!;
		assert.ok(!cloud.registration.registry.calls.slice(before).some((c) => c.op === 'registerCertificate' && c.arg.includes(foreignLine)));
		assert.equal(cloud.registration.registry.thing('robot-foreign'), undefined);
		const reasons = logs.filter((l) => l.event === 'register_validate.refused').map((l) => l.reason);
		for (const reason of ['untrusted_certificate', 'bad_signature', 'thing_mismatch', 'stale_timestamp', 'replayed', 'invalid_request']) assert.ok(reasons.includes(reason), reason);
		await until('robot-checked registered', async () => (await robotItem('robot-checked'))?.status === 'registered');
	});

	it('a certificate revoked in IoT is not activated again: the robot is told so', async () => {
		const robot = await issueDevice(cloud.pki, 'robot-revoked');
		const reg = cloud.registration.registry;
		const registered = await reg.registerCertificate(robot.certPem, cloud.pki.ca.certPem);
		reg.setCertificateStatus(registered.certificateId, 'REVOKED');
		const r = await runRegister(robotPorts(robot), robot);
		assert.ok(!r.ok);
		assert.equal(r.error.code, 'refused');
		assert.equal(r.error.code === 'refused' && r.error.reason, 'certificate_revoked');
		assert.equal(reg.certificate(registered.certificateId)!.status, 'REVOKED');
		assert.equal(reg.thing('robot-revoked'), undefined);
		assert.equal((await robotItem('robot-revoked'))!.status, 'refused');
	});

	it('requests failing past maxReceiveCount and a poisoned message end in the DLQ; the redrive command brings them back', async () => {
		const { registration } = cloud;
		const robot = await issueDevice(cloud.pki, 'robot-poison');
		// IoT keeps failing CreateThing for this robot (a service fault, not the robot's)
		registration.registry.failNext('createThing', { thing: 'robot-poison', times: 1000 });
		const accepted = await post(proof(robot));
		assert.equal(accepted.status, 202);
		// and a message no worker can parse
		const sqs = new SQSClient({ region: LOCAL_REGION, endpoint: cloud.endpoints.sqs, credentials: creds() });
		await sqs.send(new SendMessageCommand({ QueueUrl: registration.queueUrl, MessageBody: '{"v":1,"thing":"robot-poison","certificatePem":"garbage"}' }));
		sqs.destroy();

		await until('both in the DLQ', async () => (await queueDepth(registration.dlqUrl)) === 2, 45_000);
		assert.equal(await queueDepth(registration.queueUrl), 0);
		const failures = logs.filter((l) => l.event === 'register_worker.failed' && l.stage === 'create_thing' && l.thing === 'robot-poison');
		assert.equal(failures.length, 5, 'delivered maxReceiveCount times');
		assert.deepEqual(
			failures.map((l) => l.receiveCount),
			[1, 2, 3, 4, 5],
		);
		assert.ok(
			failures.every((l) => l.apiRequestId === accepted.body.requestId),
			'the worker logs the API request id',
		);
		assert.ok(logs.some((l) => l.event === 'register_worker.poison'));
		// the robot meanwhile is told to wait
		assert.equal((await post(proof(robot))).status, 202);
		await until('the second request in the DLQ too', async () => (await queueDepth(registration.dlqUrl)) === 3, 45_000);

		// the fault is fixed; the operator redrives
		registration.registry.clearFaults();
		const out: string[] = [];
		const err: string[] = [];
		const code = await redriveMain(['--dlq', registration.dlqArn, '--endpoint', cloud.endpoints.sqs], { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
		assert.equal(code, 0, err.join('\n'));
		const result = JSON.parse(out[0]!);
		assert.equal(result.status, 'COMPLETED');
		assert.equal(result.before, 3);
		assert.equal(result.moved, 3);

		await until('robot-poison registered', async () => (await robotItem('robot-poison'))?.status === 'registered');
		assert.ok(registration.registry.thing('robot-poison'));
		// the poisoned message went round again (receive count 1) and is back in the DLQ after its retries
		await until('the poison back in the DLQ', async () => (await queueDepth(registration.dlqUrl)) === 1, 45_000);
		const poisons = logs.filter((l) => l.event === 'register_worker.poison');
		assert.equal(poisons.length, 10);
		// nothing to move is not an error; bad arguments are
		assert.equal(await redriveMain(['--dlq', registration.dlqUrl, '--endpoint', cloud.endpoints.sqs, '--dry-run'], { out: (l) => out.push(l), err: (l) => err.push(l), env: {} }), 0);
		assert.equal(JSON.parse(out[1]!).status, 'DRY_RUN');
		assert.equal(await redriveMain(['--dlq', 'not-a-queue', '--endpoint', cloud.endpoints.sqs], { out: () => {}, err: () => {}, env: {} }), 2);
		assert.equal(await redriveMain(['--dlq', registration.dlqUrl], { out: () => {}, err: () => {}, env: {} }), 2);

		// the robot's next attempt is answered registered
		const r = await runRegister(robotPorts(robot), robot, 5);
		assert.ok(r.ok, JSON.stringify(r));
	});
});
