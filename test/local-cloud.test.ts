/* The local cloud as one command: every service up, two instances side by side, clean shutdown. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';

const config = (endpoint: string) => ({ endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });

describe('local cloud', function () {
	this.timeout(30_000);
	const dirs: string[] = [];
	const clouds: LocalCloud[] = [];
	after(async () => {
		await Promise.all(clouds.map((c) => c.close()));
		for (const d of dirs) rmSync(d, { recursive: true, force: true });
	});

	it('runs two instances side by side with separate state', async () => {
		for (let i = 0; i < 2; i++) {
			const dir = mkdtempSync(path.join(tmpdir(), 'local-cloud-'));
			dirs.push(dir);
			clouds.push(await startLocalCloud({ dataDir: dir, things: ['robot-1'], inMemory: true }));
		}
		const [a, b] = clouds as [LocalCloud, LocalCloud];
		const ports = (c: LocalCloud) =>
			Object.entries(c.endpoints)
				.filter(([k]) => k !== 'caPath')
				.map(([, v]) => new URL(v).port);
		// every endpoint of both instances on its own port (11 each: mqtt, iot data, iot, iot jobs data, s3, kms,
		// dynamodb, sqs, registration, owner API, owner sign-in)
		assert.equal(ports(a).length, 11);
		assert.equal(new Set([...ports(a), ...ports(b)]).size, 22, 'twenty-two distinct ports');
		const da = new IoTDataPlaneClient(config(a.endpoints.iotData));
		const db = new IoTDataPlaneClient(config(b.endpoints.iotData));
		await da.send(new UpdateThingShadowCommand({ thingName: 'robot-1', payload: new TextEncoder().encode(JSON.stringify({ state: { reported: { on: 'a' } } })) }));
		const got = await da.send(new GetThingShadowCommand({ thingName: 'robot-1' }));
		assert.equal(JSON.parse(new TextDecoder().decode(got.payload)).state.reported.on, 'a');
		await assert.rejects(db.send(new GetThingShadowCommand({ thingName: 'robot-1' })), { name: 'ResourceNotFoundException' });
		for (const c of clouds) for (const bucket of ['maps', 'firmware']) await new S3Client({ ...config(c.endpoints.s3), forcePathStyle: true }).send(new HeadBucketCommand({ Bucket: bucket }));
	});
});
