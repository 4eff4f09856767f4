/*
 * Firmware update end to end on the local cloud: tools/ota signs, uploads and creates
 * the job; the robot (firmware core on the host platform, slots as files, reboots as
 * a fresh robot over the same storage and slots) runs the OTA agent through it.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CancelJobCommand, CreateJobCommand, DescribeJobExecutionCommand, IoTClient } from '@aws-sdk/client-iot';
import { GetThingShadowCommand, IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { HttpPort } from '../firmware/ports';
import type { Ota } from '../firmware/core/ota/ota';
import { createRobot, type Robot } from '../firmware/core/robot/robot';
import { createFileSlots, hostCodeSigning, type FileSlots } from '../firmware/platform/host/firmware';
import { createHttpPort } from '../firmware/platform/host/http';
import { createFileStorage, hostPorts, memoryLog, readCredentials } from '../firmware/platform/host/index';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { createSigningIdentity, devSigner, firmwareDocument, localThingArn, publishFirmware, signManifest } from '../tools/ota/ota';

const THING = 'robot-1';

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
	const t0 = Date.now();
	while (!(await cond())) {
		if (Date.now() - t0 > ms) throw new Error('timed out waiting for ' + what);
		await new Promise((r) => setTimeout(r, 20));
	}
}

describe('firmware update end to end on the local cloud', function () {
	this.timeout(60_000);
	let dir: string;
	let cloud: LocalCloud;
	let iot: IoTClient;
	let s3: S3Client;
	let data: IoTDataPlaneClient;
	let signing: Awaited<ReturnType<typeof createSigningIdentity>>;
	let robot: Robot | undefined;
	let ota: Ota | undefined;
	let slots: FileSlots | undefined;
	let boots = 0;
	let selfTestPasses = true;
	const log = memoryLog();
	/** Network controls: the Range header of every request; a power loss or a reset once `at` image bytes are in. */
	const net = { ranges: [] as (string | undefined)[], powerLossAt: -1, resetAt: -1, onReset: undefined as (() => void) | undefined, retryMs: 100 };
	let life = 0;

	function testHttp(inner: HttpPort): HttpPort {
		const mine = life;
		return {
			request(req) {
				if (mine !== life) return new Promise(() => {}); // this life is over
				net.ranges.push(req.headers?.range);
				let at = req.headers?.range ? Number(/bytes=(\d+)-/.exec(req.headers.range)![1]) : 0;
				const onData = req.onData;
				const done = inner.request({
					...req,
					...(onData
						? {
								onData: (chunk: Uint8Array) => {
									if (mine !== life) throw new Error('power lost');
									onData(chunk);
									at += chunk.length;
									if (net.powerLossAt >= 0 && at >= net.powerLossAt) {
										net.powerLossAt = -1;
										powerLoss();
										throw new Error('power lost');
									}
									if (net.resetAt >= 0 && at >= net.resetAt) {
										net.resetAt = -1;
										setTimeout(() => net.onReset?.(), 0);
										throw new Error('connection reset');
									}
								},
							}
						: {}),
				});
				return done.then((r) => (mine === life ? r : new Promise<never>(() => {})));
			},
		};
	}

	function powerLoss(): void {
		life++;
		robot?.stop();
		boots++;
		setTimeout(bootRobot, 0);
	}

	function bootRobot(): void {
		const storage = createFileStorage(path.join(dir, 'storage'));
		const ports = hostPorts(storage, log);
		const s = createFileSlots(path.join(dir, 'slots'), {
			factoryVersion: '1.0.0',
			onReboot: () => {
				life++;
				setTimeout(() => {
					r.stop();
					boots++;
					bootRobot();
				}, 0);
			},
		});
		const r = createRobot(ports, {
			thing: THING,
			endpoint: { host: '127.0.0.1', port: cloud.broker.port, tls: { ...readCredentials(cloud.pki.paths.thing(THING).dir), serverName: 'localhost' } },
			link: { backoff: { baseMs: 50, capMs: 300 } },
			shadowTimeoutMs: 3000,
			ota: {
				slot: s,
				signing: hostCodeSigning,
				http: testHttp(createHttpPort()),
				certificate: signing.certificateDer,
				sources: [cloud.endpoints.s3 + '/firmware/'],
				selfTest: { deadlineMs: 3000, pollMs: 50, also: () => selfTestPasses },
				retryMs: () => net.retryMs,
			},
		});
		r.start();
		[robot, ota, slots] = [r, r.ota, s];
	}

	const execution = async (jobId: string) => (await iot.send(new DescribeJobExecutionCommand({ jobId, thingName: THING }))).execution!;
	const statusShadow = async () => {
		const r = await data.send(new GetThingShadowCommand({ thingName: THING, shadowName: 'status' }));
		return JSON.parse(new TextDecoder().decode(r.payload)) as { state: { reported?: { firmware?: { version: string; valid: boolean } } } };
	};
	/** Waits for the execution to end; returns the statuses seen on the way and the final one. */
	async function watch(jobId: string, onFirst?: () => void) {
		const seen: string[] = [];
		let last: Awaited<ReturnType<typeof execution>> | undefined;
		await until('job ' + jobId + ' ends', async () => {
			last = await execution(jobId);
			if (seen[seen.length - 1] !== last.status) seen.push(last.status!);
			if (seen.length === 1) onFirst?.();
			return ['SUCCEEDED', 'FAILED', 'REJECTED', 'CANCELED', 'TIMED_OUT'].includes(last.status!);
		});
		return { seen, last: last! };
	}
	const image = (n: number, seed: number) => {
		const b = new Uint8Array(n);
		for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 10)) & 255;
		return b;
	};
	const publish = (version: string, img: Uint8Array, key = signing.keyPem) => publishFirmware({ iot, s3, image: img, version, signer: devSigner(key), things: [THING], thingArn: localThingArn });

	/** A job made by hand: whoever can create a job can write any document around a signed manifest. */
	const forged = async (document: object): Promise<string> => {
		const jobId = 'forged-' + crypto.randomUUID();
		await iot.send(new CreateJobCommand({ jobId, targets: [localThingArn(THING)], document: JSON.stringify(document), targetSelection: 'SNAPSHOT', presignedUrlConfig: { expiresInSec: 600 } }));
		return jobId;
	};

	before(async () => {
		dir = mkdtempSync(path.join(tmpdir(), 'ota-e2e-'));
		cloud = await startLocalCloud({ dataDir: dir, things: [THING], inMemory: true });
		const common = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
		iot = new IoTClient({ ...common, endpoint: cloud.endpoints.iot });
		s3 = new S3Client({ ...common, endpoint: cloud.endpoints.s3, forcePathStyle: true });
		data = new IoTDataPlaneClient({ ...common, endpoint: cloud.endpoints.iotData });
		signing = await createSigningIdentity();
	});
	after(async () => {
		robot?.stop();
		iot?.destroy();
		s3?.destroy();
		data?.destroy();
		await cloud?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	it('moves a job QUEUED, IN_PROGRESS, SUCCEEDED and the robot reports the new version', async () => {
		const { jobId } = await publish('1.1.0', image(300_000, 1));
		const { seen, last } = await watch(jobId, () => robot ?? bootRobot());
		assert.deepEqual(seen, ['QUEUED', 'IN_PROGRESS', 'SUCCEEDED']);
		assert.equal(last.statusDetails?.detailsMap?.version, '1.1.0');
		assert.deepEqual(slots!.running(), { version: '1.1.0', valid: true });
		assert.equal(boots, 1);
		await until('status shadow', async () => (await statusShadow()).state.reported?.firmware?.version === '1.1.0' && (await statusShadow()).state.reported?.firmware?.valid === true);
	});

	const failures: [string, () => Promise<string>, string, RegExp][] = [
		['a manifest signed by another key', async () => (await publish('1.2.0', image(50_000, 2), (await createSigningIdentity()).keyPem)).jobId, 'REJECTED', /manifest signature does not verify/],
		[
			// the review's attack: an old image, properly signed and published as 1.0.9, in a job whose document calls it 2.0.1
			'an old signed image the job document calls newer',
			async () => {
				const { document } = await publish('1.0.9', image(50_000, 6));
				return forged({ ...document, version: '2.0.1', size: 50_000 });
			},
			'REJECTED',
			/signed version 1\.0\.9 is not newer than running 1\.1\.0/,
		],
		[
			'an image URL outside the firmware source',
			async () => {
				const img = image(50_000, 7);
				const signed = await signManifest(img, { version: '1.2.0' }, devSigner(signing.keyPem));
				await s3.send(new PutObjectCommand({ Bucket: 'maps', Key: 'firmware/1.2.0/robot.bin', Body: img }));
				return forged(firmwareDocument(signed, 'maps', 'firmware/1.2.0/robot.bin'));
			},
			'REJECTED',
			/url is not under a configured firmware source/,
		],
		[
			'a corrupted image',
			async () => {
				const img = image(50_000, 3);
				const { jobId } = await publish('1.2.0', img);
				img[1234] = img[1234]! ^ 0xff;
				await s3.send(new PutObjectCommand({ Bucket: 'firmware', Key: 'firmware/1.2.0/robot.bin', Body: img }));
				return jobId;
			},
			'FAILED',
			/SHA-256 mismatch/,
		],
		['a downgrade', async () => (await publish('1.0.9', image(50_000, 4))).jobId, 'REJECTED', /not newer than running 1\.1\.0/],
		[
			'a failing self-test',
			async () => {
				selfTestPasses = false;
				return (await publish('1.2.0', image(50_000, 5))).jobId;
			},
			'FAILED',
			/self-test failed/,
		],
	];
	for (const [what, arrange, status, reason] of failures)
		it(what + ' ends ' + status + ' with 1.1.0 still running', async () => {
			const bootsBefore = boots;
			const jobId = await arrange();
			const { last } = await watch(jobId);
			selfTestPasses = true;
			assert.equal(last.status, status);
			assert.match(last.statusDetails?.detailsMap?.reason ?? '', reason);
			assert.equal(last.statusDetails?.detailsMap?.version, '1.1.0');
			await until('back on 1.1.0', () => slots!.running().version === '1.1.0' && slots!.running().valid);
			assert.equal(ota!.agent.version, '1.1.0');
			if (what === 'a failing self-test') assert.equal(boots, bootsBefore + 2, 'into 1.2.0 and back');
			else assert.equal(boots, bootsBefore);
		});

	it('resumes a download cut by a power loss with a Range request, not from the start', async () => {
		const size = 1_500_000;
		net.ranges.length = 0;
		net.powerLossAt = 600_000;
		const bootsBefore = boots;
		const { jobId } = await publish('1.2.0', image(size, 6));
		const { last } = await watch(jobId);
		assert.equal(last.status, 'SUCCEEDED');
		assert.equal(boots, bootsBefore + 2, 'the power loss, then the new image');
		assert.equal(net.ranges.length, 2);
		assert.equal(net.ranges[0], undefined);
		const from = Number(/bytes=(\d+)-/.exec(net.ranges[1] ?? '')?.[1]);
		assert.ok(from >= 600_000 && from < size, 'resumed at ' + net.ranges[1]);
		assert.ok(log.lines.some((l) => l.event === 'ota.resume'));
		assert.deepEqual(slots!.running(), { version: '1.2.0', valid: true });
		await until('status shadow', async () => (await statusShadow()).state.reported?.firmware?.version === '1.2.0');
	});

	it('stops the download when the job is cancelled', async () => {
		net.ranges.length = 0;
		net.resetAt = 100_000;
		net.retryMs = 1500;
		let cancelled = false;
		const { jobId } = await publish('1.3.0', image(1_000_000, 7));
		net.onReset = () => void iot.send(new CancelJobCommand({ jobId, force: true })).then(() => (cancelled = true));
		const { last } = await watch(jobId);
		assert.equal(last.status, 'CANCELED');
		await until('cancelled', () => cancelled && ota!.agent.state.value === 'idle');
		const requests = net.ranges.length;
		const held = slots!.written()?.bytes ?? 0;
		await new Promise((r) => setTimeout(r, 2000)); // past the retry delay
		assert.equal(net.ranges.length, requests, 'no request after the cancel');
		assert.equal(slots!.written()?.bytes ?? 0, held);
		assert.ok(held < 1_000_000);
		assert.ok(log.lines.some((l) => l.event === 'ota.cancelled'));
		assert.equal(slots!.running().version, '1.2.0');
		net.retryMs = 100;
	});

	it('waits for a running mission to end before rebooting into the new image', async () => {
		const bootsBefore = boots;
		const started = robot!.missions.start('button', 90);
		assert.ok(started.ok);
		const { jobId } = await publish('1.2.1', image(50_000, 8));
		await until('reboot deferred', () => log.lines.some((l) => l.event === 'ota.reboot_deferred'));
		await new Promise((r) => setTimeout(r, 300));
		assert.equal(boots, bootsBefore, 'no reboot while the mission runs');
		assert.equal(robot!.missions.state.value, 'running');
		robot!.missions.finish();
		robot!.missions.docked(80);
		const { last } = await watch(jobId);
		assert.equal(last.status, 'SUCCEEDED');
		assert.equal(boots, bootsBefore + 1);
		assert.deepEqual(slots!.running(), { version: '1.2.1', valid: true });
	});
});
