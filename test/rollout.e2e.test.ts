/*
 * A staged firmware rollout on the local cloud (tools/ota/stage.ts): eight simulated robots
 * (the firmware's composition with the OTA agent, file slots, reboots in process), two in the
 * canary group and six in the rest. The canary robots take 2.0.0 and pass their self-test;
 * in the rest, the first two notified fail it (the image does not come up for them: the
 * agent rolls back and reports FAILED). The rest's job is rolled out two robots a minute with
 * an abort at 50% failures after two finished: it is canceled, and the four robots never
 * notified never receive the job (no execution; still 1.0.0; no job seen by their agent).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeJobExecutionCommand, IoTClient, ResourceNotFoundException } from '@aws-sdk/client-iot';
import { S3Client } from '@aws-sdk/client-s3';
import { createRobot, type Robot } from '../firmware/core/robot/robot';
import { createFileSlots, hostCodeSigning } from '../firmware/platform/host/firmware';
import { createHttpPort } from '../firmware/platform/host/http';
import { createFileStorage, hostPorts, memoryLog, readCredentials } from '../firmware/platform/host/index';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { thingGroupArn } from '../cloud/local/jobs/groups';
import { createSigningIdentity, devSigner, localThingArn } from '../tools/ota/ota';
import { stagedRollout } from '../tools/ota/stage';

const THINGS = Array.from({ length: 8 }, (_, i) => `robot-${i + 1}`);
const CANARY = THINGS.slice(0, 2);
const REST = THINGS.slice(2);
/** The first two of the rest are notified first (group order) and fail their self-test. */
const FAILING = new Set(REST.slice(0, 2));
/** A jobs "minute": long enough that the abort comes before the rollout's second minute. */
const JOBS_MINUTE_MS = 45_000;

describe('staged rollout: canary, then the rest, aborted on failures (local cloud, simulated robots)', function () {
	this.timeout(120_000);
	let dir: string;
	let cloud: LocalCloud;
	let iot: IoTClient;
	let s3: S3Client;
	const robots = new Map<string, { robot: Robot; log: ReturnType<typeof memoryLog>; version: () => string }>();

	before(async () => {
		dir = mkdtempSync(path.join(tmpdir(), 'rollout-'));
		cloud = await startLocalCloud({ dataDir: dir, things: THINGS, inMemory: true, jobsMinuteMs: JOBS_MINUTE_MS });
		const common = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
		iot = new IoTClient({ ...common, endpoint: cloud.endpoints.iot });
		s3 = new S3Client({ ...common, endpoint: cloud.endpoints.s3, forcePathStyle: true });
	});
	after(async () => {
		for (const r of robots.values()) r.robot.stop();
		iot?.destroy();
		s3?.destroy();
		await cloud?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	function boot(thing: string, certificate: Uint8Array): void {
		const log = memoryLog();
		const base = path.join(dir, 'robots', thing);
		const slots = createFileSlots(path.join(base, 'slots'), {
			factoryVersion: '1.0.0',
			onReboot: () =>
				setTimeout(() => {
					robots.get(thing)?.robot.stop();
					boot(thing, certificate);
				}, 0),
		});
		const robot = createRobot(hostPorts(createFileStorage(path.join(base, 'storage')), log), {
			thing,
			endpoint: { host: '127.0.0.1', port: cloud.broker.port, tls: { ...readCredentials(cloud.pki.paths.thing(thing).dir), serverName: 'localhost' } },
			link: { backoff: { baseMs: 50, capMs: 300 } },
			shadowTimeoutMs: 3000,
			ota: {
				slot: slots,
				signing: hostCodeSigning,
				http: createHttpPort(),
				certificate,
				sources: [cloud.endpoints.s3 + '/firmware/'],
				// the new image does not come up on the failing robots
				selfTest: { deadlineMs: 2500, pollMs: 50, also: () => !(FAILING.has(thing) && slots.running().version === '2.0.0') },
				retryMs: () => 100,
			},
		});
		robot.start();
		robots.set(thing, { robot, log: robots.get(thing)?.log ?? log, version: () => slots.running().version });
	}

	it('the canary passes, the rest is aborted after two failures, and four robots never get the job', async () => {
		const signing = await createSigningIdentity();
		for (const t of THINGS) boot(t, signing.certificateDer);
		const lines: string[] = [];
		const result = await stagedRollout({
			iot,
			s3,
			image: crypto.randomBytes(16 * 1024),
			version: '2.0.0',
			signer: devSigner(signing.keyPem),
			thingArn: localThingArn,
			groupArn: thingGroupArn,
			name: 'fw-2-0-0',
			canary: CANARY,
			rest: REST,
			failurePercent: 50,
			minFinished: { canary: 1, rest: 2 },
			restRollout: { maximumPerMinute: 2 },
			pollMs: 200,
			stageTimeoutMs: 90_000,
			progress: (l) => void lines.push(l),
		});
		assert.equal(result.outcome, 'aborted', JSON.stringify(result) + '\n' + lines.join('\n'));
		assert.ok(result.outcome === 'aborted' && result.stage === 'rest');
		assert.deepEqual([result.canary.status, result.canary.succeeded, result.canary.failed], ['COMPLETED', 2, 0]);
		assert.equal(result.rest?.status, 'CANCELED');
		assert.equal(result.rest?.failed, 2);
		assert.match(result.rest?.comment ?? '', /aborted/);
		for (const t of CANARY) assert.equal(robots.get(t)!.version(), '2.0.0', t);
		for (const t of FAILING) {
			const e = (await iot.send(new DescribeJobExecutionCommand({ jobId: 'fw-2-0-0-rest', thingName: t }))).execution;
			assert.equal(e?.status, 'FAILED', t);
			assert.equal(robots.get(t)!.version(), '1.0.0', t + ' rolled back');
		}
		const never = REST.filter((t) => !FAILING.has(t));
		assert.equal(never.length, 4);
		for (const t of never) {
			await assert.rejects(iot.send(new DescribeJobExecutionCommand({ jobId: 'fw-2-0-0-rest', thingName: t })), ResourceNotFoundException, t);
			assert.equal(robots.get(t)!.version(), '1.0.0', t);
			assert.ok(!robots.get(t)!.log.lines.some((l) => JSON.stringify(l.fields ?? {}).includes('fw-2-0-0-rest')), t + ' saw the job');
		}
		assert.ok(lines.some((l) => /group fw-2-0-0-canary: 2 robots/.test(l)));
	});
});
