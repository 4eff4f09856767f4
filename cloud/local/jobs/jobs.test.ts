import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CancelJobCommand, CreateJobCommand, DescribeJobCommand, DescribeJobExecutionCommand, IoTClient, ListJobExecutionsForThingCommand, type CreateJobCommandInput } from '@aws-sdk/client-iot';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { MqttClient } from 'mqtt';
import { connectThing, nextMessage } from '../../../test/support/mqtt-client';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../credentials';
import { startLocalCloud, type LocalCloud } from '../index';
import type { LogEntry } from '../log';
import { UNSIGNED_PAYLOAD, verifySigV4 } from '../sigv4';
import { startJobsService, thingArn, type JobsService } from './index';

/** One "minute" of job timeouts lasts this long here. */
const MINUTE_MS = 300;
// replies are checked field by field against the AWS shapes
type Json = Record<string, any>;

describe('jobs service: control plane over @aws-sdk/client-iot, device API over MQTT', function () {
	this.timeout(20_000);
	let dir: string;
	let cloud: LocalCloud;
	let jobs: JobsService;
	let iot: IoTClient;
	let s3: { endpoint: string; close(): Promise<void> } | undefined;
	const devices = new Map<string, MqttClient>();
	const logs: LogEntry[] = [];
	let n = 0;

	before(async () => {
		dir = await mkdtemp(path.join(tmpdir(), 'jobs-'));
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1', 'robot-2'], inMemory: true });
		// this suite runs its own jobs service (with short minutes, and restarts it): the cloud's must not answer too
		await cloud.jobs.close();
		s3 = { endpoint: cloud.s3.endpoint, close: async () => {} };
		jobs = await startJobsService({
			bus: cloud.bus,
			log: (e) => logs.push(e),
			minuteMs: MINUTE_MS,
			s3Endpoint: s3?.endpoint ?? 'http://127.0.0.1:4569',
			dataDir: path.join(dir, 'jobs'),
		});
		iot = new IoTClient({ endpoint: jobs.endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
		for (const thing of ['robot-1', 'robot-2']) {
			const c = await connectThing({ port: cloud.broker.port, identity: cloud.pki.things.get(thing)! });
			await c.subscribeAsync(`$aws/things/${thing}/jobs/#`, { qos: 1 });
			devices.set(thing, c);
		}
	});
	after(async () => {
		for (const c of devices.values()) c.end(true);
		iot?.destroy();
		await jobs?.close();
		await s3?.close();
		await cloud?.close();
		await rm(dir, { recursive: true, force: true });
	});

	/** Publishes a request and resolves with the reply that carries its clientToken. */
	const request = async (thing: string, suffix: string, body: Json = {}): Promise<{ accepted: boolean; body: Json }> => {
		const c = devices.get(thing)!;
		const topic = `$aws/things/${thing}/jobs/${suffix}`;
		const clientToken = 'ct-' + ++n;
		const reply = new Promise<{ accepted: boolean; body: Json }>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error('no reply to ' + topic)), 5000);
			const on = (t: string, payload: Buffer): void => {
				if (t !== topic + '/accepted' && t !== topic + '/rejected') return;
				const parsed = JSON.parse(payload.toString()) as Json;
				if (parsed.clientToken !== clientToken) return;
				clearTimeout(timer);
				c.removeListener('message', on);
				resolve({ accepted: t.endsWith('/accepted'), body: parsed });
			};
			c.on('message', on);
		});
		await c.publishAsync(topic, JSON.stringify({ ...body, clientToken }), { qos: 1 });
		return reply;
	};
	const notifyNext = (thing: string, ms = 5000) => nextMessage(devices.get(thing)!, `$aws/things/${thing}/jobs/notify-next`, ms).then((m) => JSON.parse(m.payload.toString()) as Json);
	const createJob = (jobId: string, things: string[], extra: Partial<CreateJobCommandInput> = {}) =>
		iot.send(new CreateJobCommand({ jobId, targets: things.map(thingArn), document: JSON.stringify({ operation: 'ota', version: jobId }), ...extra }));
	const execution = (thing: string, jobId: string) => iot.send(new DescribeJobExecutionCommand({ thingName: thing, jobId })).then((r) => r.execution!);

	it('runs a job from QUEUED to SUCCEEDED with versions, details and notify-next', async () => {
		const next = notifyNext('robot-1');
		const created = await createJob('ota-1', ['robot-1']);
		assert.equal(created.jobArn, 'arn:aws:iot:us-east-1:000000000000:job/ota-1');
		const notified = await next;
		assert.equal(notified.execution.jobId, 'ota-1');
		assert.equal(notified.execution.status, 'QUEUED');
		assert.deepEqual(notified.execution.jobDocument, { operation: 'ota', version: 'ota-1' });

		const pending = await request('robot-1', 'get');
		assert.deepEqual(
			pending.body.queuedJobs.map((j: Json) => j.jobId),
			['ota-1'],
		);

		const started = await request('robot-1', 'start-next', { statusDetails: { step: 'download' } });
		assert.equal(started.accepted, true);
		assert.equal(started.body.execution.status, 'IN_PROGRESS');
		assert.equal(started.body.execution.versionNumber, 2);
		assert.deepEqual(started.body.execution.statusDetails, { step: 'download' });
		assert.ok(started.body.clientToken);

		const mismatch = await request('robot-1', 'ota-1/update', { status: 'IN_PROGRESS', expectedVersion: 1 });
		assert.equal(mismatch.accepted, false);
		assert.equal(mismatch.body.code, 'VersionMismatch');
		assert.deepEqual(mismatch.body.executionState, { status: 'IN_PROGRESS', statusDetails: { step: 'download' }, versionNumber: 2 });

		const progress = await request('robot-1', 'ota-1/update', {
			status: 'IN_PROGRESS',
			statusDetails: { step: 'flash' },
			expectedVersion: 2,
			includeJobExecutionState: true,
			includeJobDocument: true,
		});
		assert.equal(progress.accepted, true);
		assert.deepEqual(progress.body.executionState, { status: 'IN_PROGRESS', statusDetails: { step: 'flash' }, versionNumber: 3 });
		assert.equal(progress.body.jobDocument.version, 'ota-1');

		const described = await request('robot-1', '$next/get');
		assert.equal(described.body.execution.jobId, 'ota-1');

		const empty = notifyNext('robot-1');
		const done = await request('robot-1', 'ota-1/update', { status: 'SUCCEEDED', expectedVersion: 3 });
		assert.equal(done.accepted, true);
		assert.equal(done.body.executionState, undefined); // not asked for
		assert.equal((await empty).execution, undefined);

		const job = (await iot.send(new DescribeJobCommand({ jobId: 'ota-1' }))).job!;
		assert.equal(job.status, 'COMPLETED');
		assert.equal(job.jobProcessDetails?.numberOfSucceededThings, 1);
		assert.ok(job.completedAt instanceof Date);
		const e = await execution('robot-1', 'ota-1');
		assert.equal(e.status, 'SUCCEEDED');
		assert.equal(e.versionNumber, 4);
		assert.deepEqual(e.statusDetails?.detailsMap, { step: 'flash' });
		assert.equal(e.thingArn, thingArn('robot-1'));

		const again = await request('robot-1', 'ota-1/update', { status: 'IN_PROGRESS' });
		assert.equal(again.body.code, 'InvalidStateTransition');
		assert.equal(again.body.executionState.status, 'SUCCEEDED');
		assert.equal((await request('robot-1', 'ota-1/get')).body.code, 'TerminalStateReached');
		const none = await request('robot-1', '$next/get');
		assert.equal(none.accepted, true);
		assert.equal(none.body.execution, undefined);
		assert.equal((await request('robot-1', 'start-next')).body.execution, undefined);
	});

	it('rejects bad device requests with the AWS codes', async () => {
		const c = devices.get('robot-1')!;
		const rejected = nextMessage(c, '$aws/things/robot-1/jobs/start-next/rejected');
		await c.publishAsync('$aws/things/robot-1/jobs/start-next', '{not json', { qos: 1 });
		assert.equal(JSON.parse((await rejected).payload.toString()).code, 'InvalidJson');
		assert.equal((await request('robot-1', 'nope/update', { status: 'SUCCEEDED' })).body.code, 'ResourceNotFound');
		assert.equal((await request('robot-1', 'ota-1/update', { status: 'TIMED_OUT' })).body.code, 'InvalidRequest');
		assert.equal((await request('robot-1', 'ota-1/update', { status: 'SUCCEEDED', statusDetails: { k: 1 } })).body.code, 'InvalidRequest');
		assert.equal((await request('robot-1', 'start-next', { stepTimeoutInMinutes: 0 })).body.code, 'InvalidRequest');
	});

	it('answers a jobs topic that maps to no API on its /rejected with InvalidTopic, echoing the clientToken', async () => {
		// the ErrorResponse of AWS's Jobs device MQTT API: "sent to a topic in the AWS IoT Jobs namespace that does not map to any API"
		for (const suffix of ['bogus', 'ota-1/bogus', '$next/update', 'ota-1/get/more']) {
			const r = await request('robot-1', suffix, {});
			assert.equal(r.accepted, false, suffix);
			assert.equal(r.body.code, 'InvalidTopic', suffix);
			assert.match(String(r.body.message), /does not map to any API/);
			assert.equal(typeof r.body.timestamp, 'number');
		}
		// the service's own replies and notifications on the namespace are never answered
		const c = devices.get('robot-1')!;
		let answered = 0;
		const count = (t: string): void => void (t.endsWith('/rejected/rejected') || t.endsWith('notify/rejected') ? answered++ : 0);
		c.on('message', count);
		await c.publishAsync('$aws/things/robot-1/jobs/notify', '{}', { qos: 1 });
		await c.publishAsync('$aws/things/robot-1/jobs/get/rejected', '{}', { qos: 1 });
		await new Promise((r) => setTimeout(r, 300));
		c.removeListener('message', count);
		assert.equal(answered, 0);
	});

	it('times an IN_PROGRESS execution out (job timeout, then a step timeout)', async () => {
		const next = notifyNext('robot-1');
		await createJob('ota-timeout', ['robot-1'], { timeoutConfig: { inProgressTimeoutInMinutes: 2 } });
		await next;
		const started = await request('robot-1', 'start-next');
		assert.ok(started.body.execution.approximateSecondsBeforeTimedOut >= 0);
		const t0 = Date.now();
		const cleared = await notifyNext('robot-1');
		assert.equal(cleared.execution, undefined);
		assert.ok(Date.now() - t0 >= 2 * MINUTE_MS - 50, 'timed out after the job timeout');
		assert.equal((await execution('robot-1', 'ota-timeout')).status, 'TIMED_OUT');
		assert.equal((await request('robot-1', 'ota-timeout/update', { status: 'SUCCEEDED' })).body.code, 'InvalidStateTransition');

		// a step timer of 1 "minute", pushed back once by an update with a new step timeout
		await createJob('ota-step', ['robot-1']);
		await notifyNext('robot-1');
		await request('robot-1', 'start-next', { stepTimeoutInMinutes: 1 });
		const t1 = Date.now();
		await new Promise((r) => setTimeout(r, MINUTE_MS / 2));
		assert.equal((await request('robot-1', 'ota-step/update', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 2 })).accepted, true);
		await notifyNext('robot-1');
		assert.ok(Date.now() - t1 >= MINUTE_MS / 2 + 2 * MINUTE_MS - 50, 'the step timer was reset');
		assert.equal((await execution('robot-1', 'ota-step')).status, 'TIMED_OUT');
		assert.equal((await iot.send(new DescribeJobCommand({ jobId: 'ota-step' }))).job?.jobProcessDetails?.numberOfTimedOutThings, 1);
	});

	it('cancels: QUEUED at once, IN_PROGRESS only with force, and notify-next moves on', async () => {
		let next = notifyNext('robot-2');
		await createJob('cancel-a', ['robot-2']);
		await next;
		await createJob('cancel-b', ['robot-2']);
		await request('robot-2', 'start-next');

		await iot.send(new CancelJobCommand({ jobId: 'cancel-a', comment: 'wrong build' }));
		assert.equal((await execution('robot-2', 'cancel-a')).status, 'IN_PROGRESS');
		assert.equal((await iot.send(new DescribeJobCommand({ jobId: 'cancel-a' }))).job?.status, 'CANCELED');

		next = notifyNext('robot-2');
		await iot.send(new CancelJobCommand({ jobId: 'cancel-a', force: true }));
		const moved = await next;
		assert.equal(moved.execution.jobId, 'cancel-b');
		const canceled = await execution('robot-2', 'cancel-a');
		assert.equal(canceled.status, 'CANCELED');
		assert.equal(canceled.forceCanceled, true);
		const late = await request('robot-2', 'cancel-a/update', { status: 'SUCCEEDED' });
		assert.equal(late.body.code, 'InvalidStateTransition');
		assert.equal(late.body.executionState.status, 'CANCELED');

		next = notifyNext('robot-2');
		const list = nextMessage(devices.get('robot-2')!, '$aws/things/robot-2/jobs/notify');
		await iot.send(new CancelJobCommand({ jobId: 'cancel-b' }));
		assert.equal((await next).execution, undefined);
		assert.deepEqual(JSON.parse((await list).payload.toString()).jobs, {});

		const forThing = await iot.send(new ListJobExecutionsForThingCommand({ thingName: 'robot-2' }));
		assert.deepEqual(
			forThing.executionSummaries?.map((s) => [s.jobId, s.jobExecutionSummary?.status]),
			[
				['cancel-a', 'CANCELED'],
				['cancel-b', 'CANCELED'],
			],
		);
	});

	it('answers control-plane errors as AWS exceptions and refuses unsigned requests', async () => {
		await assert.rejects(iot.send(new DescribeJobCommand({ jobId: 'missing' })), { name: 'ResourceNotFoundException' });
		await assert.rejects(createJob('ota-1', ['robot-1']), { name: 'ResourceAlreadyExistsException' });
		await assert.rejects(iot.send(new CreateJobCommand({ jobId: 'bad-doc', targets: [thingArn('robot-1')], document: '{' })), {
			name: 'InvalidRequestException',
			message: /document expected JSON/,
		});
		// thing groups are targets now (rollout.test.ts); one that does not exist is not found
		await assert.rejects(createJob('bad-target', ['robot-1'], { targets: ['arn:aws:iot:us-east-1:000000000000:thinggroup/all'] }), { name: 'ResourceNotFoundException' });
		await assert.rejects(createJob('bad-timeout', ['robot-1'], { timeoutConfig: { inProgressTimeoutInMinutes: 0 } }), { name: 'InvalidRequestException' });
		await assert.rejects(createJob('no-presign', ['robot-1'], { document: JSON.stringify({ url: '${aws:iot:s3-presigned-url:https://s3.amazonaws.com/firmware/a.bin}' }) }), {
			name: 'InvalidRequestException',
			message: /presignedUrlConfig/,
		});
		await assert.rejects(iot.send(new CancelJobCommand({ jobId: 'ota-1' })), { name: 'InvalidStateTransitionException' });
		await assert.rejects(iot.send(new DescribeJobExecutionCommand({ thingName: 'robot-2', jobId: 'ota-1' })), { name: 'ResourceNotFoundException' });

		const unsigned = await fetch(jobs.endpoint + '/jobs/ota-1');
		assert.equal(unsigned.status, 403);
		assert.equal(unsigned.headers.get('x-amzn-errortype'), 'MissingAuthenticationToken');
		const wrongKey = new IoTClient({ endpoint: jobs.endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS, secretAccessKey: 'wrong' } });
		await assert.rejects(wrongKey.send(new DescribeJobCommand({ jobId: 'ota-1' })), { name: 'SignatureDoesNotMatch' });
		wrongKey.destroy();
	});

	it('replaces ${aws:iot:s3-presigned-url:...} with a presigned GET of the local S3, fresh each time', async function () {
		const document = JSON.stringify({
			operation: 'ota',
			files: [{ url: '${aws:iot:s3-presigned-url:https://s3.amazonaws.com/firmware/robot/1.2.0.bin}' }],
		});
		const next = notifyNext('robot-1');
		await createJob('ota-presigned', ['robot-1'], { document, presignedUrlConfig: { roleArn: 'arn:aws:iam::000000000000:role/ota', expiresInSec: 600 } });
		const first = new URL((await next).execution.jobDocument.files[0].url);
		const endpoint = new URL(s3?.endpoint ?? 'http://127.0.0.1:4569');
		assert.equal(first.origin, endpoint.origin);
		assert.equal(first.pathname, '/firmware/robot/1.2.0.bin');
		assert.equal(first.searchParams.get('X-Amz-Expires'), '600');
		assert.match(first.searchParams.get('X-Amz-Credential')!, new RegExp(`^${LOCAL_CREDENTIALS.accessKeyId}/\\d{8}/us-east-1/s3/aws4_request$`));
		// the signature is a valid SigV4 query signature for a plain GET of that URL
		const checked = verifySigV4({ method: 'GET', url: first.pathname + first.search, headers: { host: first.host } }, { service: 's3', payloadHash: UNSIGNED_PAYLOAD, now: Date.now() });
		assert.deepEqual(checked.ok && checked.value.signedHeaders, ['host']);

		await new Promise((r) => setTimeout(r, 1100)); // X-Amz-Date has second resolution
		const again = await request('robot-1', 'start-next');
		const second = new URL(again.body.execution.jobDocument.files[0].url);
		assert.notEqual(second.searchParams.get('X-Amz-Date'), first.searchParams.get('X-Amz-Date'));
		assert.notEqual(second.searchParams.get('X-Amz-Signature'), first.searchParams.get('X-Amz-Signature'));
		// the stored document keeps its placeholder
		assert.match(jobs.runner.job('ota-presigned')!.document, /\$\{aws:iot:s3-presigned-url:/);
		await request('robot-1', 'ota-presigned/update', { status: 'SUCCEEDED' });

		assert.ok(s3, 'the local cloud serves S3');
		const client = new S3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS }, forcePathStyle: true });
		await client.send(new PutObjectCommand({ Bucket: 'firmware', Key: 'robot/1.2.0.bin', Body: new Uint8Array([1, 2, 3, 4]) }));
		client.destroy();
		const got = await fetch(second);
		assert.equal(got.status, 200, await got.clone().text());
		assert.deepEqual(new Uint8Array(await got.arrayBuffer()), new Uint8Array([1, 2, 3, 4]));
	});

	it('keeps jobs and executions across a restart of the service (dataDir)', async () => {
		await createJob('persisted', ['robot-2']);
		await new Promise((r) => setTimeout(r, 100)); // the write is asynchronous
		await jobs.close();
		jobs = await startJobsService({
			bus: cloud.bus,
			log: (e) => logs.push(e),
			minuteMs: MINUTE_MS,
			s3Endpoint: s3?.endpoint ?? 'http://127.0.0.1:4569',
			dataDir: path.join(dir, 'jobs'),
		});
		iot.destroy();
		iot = new IoTClient({ endpoint: jobs.endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
		assert.equal((await execution('robot-2', 'persisted')).status, 'QUEUED');
		assert.equal((await iot.send(new DescribeJobCommand({ jobId: 'ota-1' }))).job?.status, 'COMPLETED');
		const started = await request('robot-2', 'start-next');
		assert.equal(started.body.execution.jobId, 'persisted');
	});
});
