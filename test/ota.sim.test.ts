/*
 * The simulator's firmware slots and reboots: tools/sim/robot.ts as its own process with
 * --code-signing-cert takes a job from tools/ota, reboots into the new image (in the same
 * process, over the same storage and slot files) and reports SUCCEEDED.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DescribeJobExecutionCommand, IoTClient } from '@aws-sdk/client-iot';
import { S3Client } from '@aws-sdk/client-s3';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { createSigningIdentity, devSigner, localThingArn, publishFirmware } from '../tools/ota/ota';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('simulator: firmware update with slots and a reboot', function () {
	this.timeout(60_000);
	let dir: string;
	let cloud: LocalCloud;
	let proc: ChildProcess | undefined;
	let iot: IoTClient;
	let s3: S3Client;

	before(async () => {
		dir = mkdtempSync(path.join(tmpdir(), 'ota-sim-'));
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1'], inMemory: true });
		const common = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
		iot = new IoTClient({ ...common, endpoint: cloud.endpoints.iot });
		s3 = new S3Client({ ...common, endpoint: cloud.endpoints.s3, forcePathStyle: true });
	});
	after(async () => {
		if (proc && proc.exitCode === null) {
			const exited = new Promise((r) => proc!.once('exit', r));
			proc.kill('SIGTERM');
			await exited;
		}
		iot?.destroy();
		s3?.destroy();
		await cloud?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	it('updates 1.0.0 to 1.1.0 through a reboot', async () => {
		const id = await createSigningIdentity();
		writeFileSync(path.join(dir, 'cert.der'), id.certificateDer);
		const args = [
			'--import',
			'tsx',
			path.join(root, 'tools/sim/robot.ts'),
			'--thing',
			'robot-1',
			'--credentials',
			cloud.pki.paths.thing('robot-1').dir,
			'--data',
			path.join(dir, 'robot'),
			'--port',
			String(cloud.broker.port),
			'--code-signing-cert',
			path.join(dir, 'cert.der'),
		];
		const p = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
		proc = p;
		let out = '';
		p.stdout!.on('data', (d) => (out += d));
		p.stderr!.on('data', (d) => (out += d));
		const image = new Uint8Array(200_000).map((_, i) => (i * 13) & 255);
		const { jobId } = await publishFirmware({ iot, s3, image, version: '1.1.0', signer: devSigner(id.keyPem), things: ['robot-1'], thingArn: localThingArn });
		let status = '';
		for (let i = 0; i < 300 && !['SUCCEEDED', 'FAILED', 'REJECTED'].includes(status); i++) {
			await new Promise((r) => setTimeout(r, 100));
			status = (await iot.send(new DescribeJobExecutionCommand({ jobId, thingName: 'robot-1' }))).execution!.status!;
		}
		assert.equal(status, 'SUCCEEDED', out);
		const boots = out
			.split('\n')
			.filter((l) => l.includes('"sim.boot"'))
			.map((l) => (JSON.parse(l) as { firmware?: string }).firmware);
		assert.deepEqual(boots, ['1.0.0', '1.1.0']);
		assert.ok(out.includes('"sim.reboot"'));
	});
});
