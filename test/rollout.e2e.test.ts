/*
 * A staged firmware rollout on the local cloud (tools/ota/stage.ts): eight simulated robots
 * (the firmware's composition with the OTA agent, file slots, reboots in process), two in the
 * canary group and six in the rest. The canary robots take 2.0.0 and pass their self-test;
 * in the rest, the first two notified fail it (the image does not come up for them: the
 * agent rolls back and reports FAILED). The rest's job is rolled out two robots a minute with
 * an abort at 50% failures after two finished: it is canceled, and the four robots never
 * notified never receive the job (no execution; still 1.0.0; no job seen by their agent).
 * Then the operator's command, `ota.ts stage`, with 3.0.0, which the canary robots cannot
 * bring up: the canary job is aborted, the command says so (exit 3, one JSON line) and the
 * rest's job is never created.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeJobCommand, DescribeJobExecutionCommand, IoTClient, ResourceNotFoundException } from '@aws-sdk/client-iot';
import { S3Client } from '@aws-sdk/client-s3';
import { createRobot, type Robot } from '../firmware/core/robot/robot';
import { createFileSlots, hostCodeSigning } from '../firmware/platform/host/firmware';
import { createHttpPort } from '../firmware/platform/host/http';
import { createFileStorage, hostPorts, memoryLog, readCredentials } from '../firmware/platform/host/index';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { thingGroupArn } from '../cloud/local/jobs/groups';
import { createSigningIdentity, devSigner, localThingArn, main as otaMain } from '../tools/ota/ota';
import { stagedRollout } from '../tools/ota/stage';

const THINGS = Array.from({ length: 8 }, (_, i) => `robot-${i + 1}`);
const CANARY = THINGS.slice(0, 2);
const REST = THINGS.slice(2);
/** The first two of the rest are notified first (group order) and fail their self-test of 2.0.0. */
const FAILING = new Set(REST.slice(0, 2));
/** Which robots cannot bring up which version: 3.0.0 fails on the canary robots. */
const fails = (thing: string, version: string): boolean => (version === '2.0.0' && FAILING.has(thing)) || (version === '3.0.0' && CANARY.includes(thing));
/** A jobs "minute": long enough that the abort comes before the rollout's second minute. */
const JOBS_MINUTE_MS = 45_000;

describe('staged rollout: canary, then the rest, aborted on failures (local cloud, simulated robots)', function () {
	this.timeout(120_000);
	let dir: string;
	let cloud: LocalCloud;
	let iot: IoTClient;
	let s3: S3Client;
	let signing: Awaited<ReturnType<typeof createSigningIdentity>>;
	const robots = new Map<string, { robot: Robot; log: ReturnType<typeof memoryLog>; version: () => string }>();

	before(async () => {
		dir = mkdtempSync(path.join(tmpdir(), 'rollout-'));
		cloud = await startLocalCloud({ dataDir: dir, things: THINGS, inMemory: true, jobsMinuteMs: JOBS_MINUTE_MS });
		const common = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
		iot = new IoTClient({ ...common, endpoint: cloud.endpoints.iot });
		s3 = new S3Client({ ...common, endpoint: cloud.endpoints.s3, forcePathStyle: true });
		signing = await createSigningIdentity();
		for (const t of THINGS) boot(t, signing.certificateDer);
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
				selfTest: { deadlineMs: 2500, pollMs: 50, also: () => !fails(thing, slots.running().version) },
				retryMs: () => 100,
			},
		});
		robot.start();
		robots.set(thing, { robot, log: robots.get(thing)?.log ?? log, version: () => slots.running().version });
	}

	it('the canary passes, the rest is aborted after two failures, and four robots never get the job', async () => {
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

	/** `ota.ts stage` of a dev-signed image `version` to CANARY then REST on the local cloud, as an operator runs it. */
	async function stageCommand(version: string, extra: string[] = []): Promise<{ code: number; out: string[]; said: string }> {
		const key = path.join(dir, 'signing-key.pem');
		const image = path.join(dir, `robot-${version}.bin`);
		writeFileSync(key, signing.keyPem, { mode: 0o600 });
		writeFileSync(image, crypto.randomBytes(16 * 1024));
		const out: string[] = [];
		const err: string[] = [];
		const name = 'fw-' + version.replace(/\./g, '-');
		const argv = ['stage', '--dev-key', key, '--image', image, '--version', version, '--name', name, '--failure-percent', '50', '--poll-ms', '200', ...extra];
		argv.push(...CANARY.flatMap((t) => ['--canary', t]), ...REST.flatMap((t) => ['--rest', t]));
		argv.push('--local', '--iot', cloud.endpoints.iot, '--s3', cloud.endpoints.s3);
		const code = await otaMain(
			argv,
			(l) => void out.push(l),
			(l) => void err.push(l),
		);
		return { code, out, said: err.join('\n') };
	}

	it('ota.ts stage: the canary robots fail 3.0.0, the command stops at the canary (exit 3) and the rest never get a job', async () => {
		const { code, out, said } = await stageCommand('3.0.0');
		assert.equal(code, 3, said);
		assert.equal(out.length, 1, 'one JSON result line');
		const result = JSON.parse(out[0]!) as { outcome: string; stage: string; canary: { jobId: string; status: string; failed: number }; rest?: unknown; signer: string };
		assert.deepEqual([result.outcome, result.stage, result.canary.jobId, result.canary.status, result.rest], ['aborted', 'canary', 'fw-3-0-0-canary', 'CANCELED', undefined], said);
		assert.ok(result.canary.failed >= 1, said);
		assert.equal(result.signer, 'dev-key (PEM)');
		// progress as the stages moved: the groups, the job, its counts, where it stopped
		assert.match(said, /stage: group fw-3-0-0-canary: 2 robots/);
		assert.match(said, /stage: group fw-3-0-0-rest: 6 robots/);
		assert.match(said, /stage: job fw-3-0-0-canary created/);
		assert.match(said, /stage: fw-3-0-0-canary: CANCELED .* failed [12]/);
		assert.match(said, /stage: canary CANCELED: .*the rest is not touched/);
		// the rest's job was never created, so no robot of the rest has an execution of it
		await assert.rejects(iot.send(new DescribeJobCommand({ jobId: 'fw-3-0-0-rest' })), ResourceNotFoundException);
		for (const t of REST) {
			await assert.rejects(iot.send(new DescribeJobExecutionCommand({ jobId: 'fw-3-0-0-rest', thingName: t })), ResourceNotFoundException, t);
			assert.notEqual(robots.get(t)!.version(), '3.0.0', t);
		}
	});

	it('ota.ts stage: 4.0.0 comes up everywhere, the command goes through canary and rest and exits 0', async () => {
		const { code, out, said } = await stageCommand('4.0.0', ['--rate-base', '10']);
		assert.equal(code, 0, said);
		const result = JSON.parse(out[0]!) as { outcome: string; canary: { status: string; succeeded: number }; rest: { status: string; succeeded: number; failed: number } };
		assert.deepEqual([result.outcome, result.canary.status, result.canary.succeeded, result.rest.status, result.rest.succeeded, result.rest.failed], ['completed', 'COMPLETED', 2, 'COMPLETED', 6, 0], said);
		// the rest's job carried the rate the command was given
		const rest = (await iot.send(new DescribeJobCommand({ jobId: 'fw-4-0-0-rest' }))).job;
		assert.equal(rest?.jobExecutionsRolloutConfig?.exponentialRate?.baseRatePerMinute, 10);
		for (const t of THINGS) assert.equal(robots.get(t)!.version(), '4.0.0', t);
	});
});
