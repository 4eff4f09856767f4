/*
 * Map upload end to end on the local cloud (issue #6, cloud side): a robot asks for a slot
 * over MQTT, unwraps the data key with its own certificate key (RSA-OAEP SHA-256), makes
 * the Encryption SDK message the firmware must make (committing unsigned suite, 4096-byte
 * frames, the slot's data key and KMS blob as the one encrypted data key, the slot's
 * context), PUTs it to the presigned URL, and the ingest stores the decoded map and marks
 * the mission. The key is unwrapped and the message made by the firmware's own code (OAEP
 * decode with the thing's key.der, the Encryption SDK writer) on the host crypto port; the
 * slot request goes over a plain MQTT client so the tests can replay and mix slots.
 * test/map-upload.e2e.test.ts runs the whole firmware uploader. Then what must change
 * nothing: a flipped byte, another robot's context, a slot replayed for another mission,
 * an expired URL.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { MqttClient } from 'mqtt';
import { reportTopic, type MissionReport } from '../firmware/core/mission/report';
import { createHttpPort } from '../firmware/platform/host/http';
import { createHostDeviceKey, hostCrypto } from '../firmware/platform/host/crypto';
import { oaepDecrypt } from '../firmware/core/crypto/oaep';
import { createMessageWriter, messageBody } from '../firmware/core/maps/esdk';
import { requestTopic, slotTopic, type SlotError, type UploadSlot } from '../cloud/functions/upload-slot/contract';
import { createDocumentClient } from '../cloud/lib/aws';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import type { LogEntry } from '../cloud/local/log';
import { connectThing, nextMessage } from './support/mqtt-client';

/** What the robot holds after unwrapping a slot: the data key, the KMS blob, the key ARN. */
interface SlotKey {
	readonly key: Uint8Array;
	readonly blob: Uint8Array;
	readonly arn: string;
}

/**
 * The map as the device encrypts it for `slot`: the firmware's Encryption SDK writer
 * (firmware/core/maps/esdk.ts) on the host crypto port, collected whole so the
 * negative cases can tamper with it or send it elsewhere.
 */
async function seal(map: Uint8Array, slot: UploadSlot, key: SlotKey): Promise<Buffer> {
	const writer = createMessageWriter({
		crypto: hostCrypto,
		dataKey: new Uint8Array(key.key),
		encryptionContext: { ...slot.encryptionContext },
		edk: { providerId: 'aws-kms', providerInfo: key.arn, ciphertext: key.blob },
		frameLength: slot.frameLength,
	});
	let at = 0;
	const body = messageBody(writer, map.length, (max) => (at >= map.length ? undefined : map.subarray(at, (at += Math.min(max, map.length - at)))));
	const parts: Uint8Array[] = [];
	for (let c = body.next(); c; c = body.next()) parts.push(c.slice());
	assert.equal(body.failure, undefined);
	const out = Buffer.concat(parts);
	assert.equal(out.length, body.length);
	return out;
}

/** A deterministic pseudo-map of `n` bytes. */
function fakeMap(n: number, seed: number): Uint8Array {
	const b = new Uint8Array(n);
	let x = seed;
	for (let i = 0; i < n; i++) b[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
	return b;
}

const report = (missionId: string): MissionReport => ({
	v: 1,
	missionId,
	thing: 'robot-1',
	trigger: 'button',
	startedAt: 1_750_000_000_000,
	endedAt: 1_750_000_900_000,
	durationS: 900,
	outcome: 'finished',
	areaM2: 20,
	battery: { start: 90, end: 70 },
	errors: [],
	map: 'pending',
});

interface Harness {
	cloud: LocalCloud;
	logs: LogEntry[];
	devices: Map<string, MqttClient>;
	dir: string;
}

async function startHarness(prefix: string, options: { mapSlotExpiresS?: number } = {}): Promise<Harness> {
	const dir = await mkdtemp(path.join(tmpdir(), prefix));
	const logs: LogEntry[] = [];
	const cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1', 'robot-2'], log: (e) => logs.push(e), inMemory: true, ...options });
	const devices = new Map<string, MqttClient>();
	for (const thing of ['robot-1', 'robot-2']) {
		const d = await connectThing({ port: cloud.broker.port, identity: cloud.pki.things.get(thing)! });
		await d.subscribeAsync(slotTopic(thing), { qos: 1 });
		devices.set(thing, d);
	}
	return { cloud, logs, devices, dir };
}

async function stopHarness(h: Harness): Promise<void> {
	for (const d of h.devices.values()) d.end(true);
	await h.cloud.close();
	await rm(h.dir, { recursive: true, force: true });
}

let tokens = 0;

/** Asks for a slot as the robot does and returns the reply. */
async function requestSlot(h: Harness, thing: string, request: Record<string, unknown>): Promise<UploadSlot & SlotError> {
	const device = h.devices.get(thing)!;
	const reply = nextMessage(device, slotTopic(thing), 10_000);
	await device.publishAsync(requestTopic(thing), JSON.stringify({ clientToken: 'tok-' + ++tokens, ...request }), { qos: 1 });
	return JSON.parse((await reply).payload.toString()) as UploadSlot & SlotError;
}

/** The data key as the robot gets it: the firmware's OAEP SHA-256 decode with the thing's key.der. */
function unwrap(h: Harness, thing: string, slot: UploadSlot): SlotKey {
	const deviceKey = createHostDeviceKey(new Uint8Array(readFileSync(h.cloud.pki.paths.thing(thing).keyDer)));
	const key = oaepDecrypt(hostCrypto, deviceKey, Buffer.from(slot.wrappedKey, 'base64'));
	assert.ok(key.ok, 'the wrapped key opens with the robot’s key');
	return { key: key.value, blob: Buffer.from(slot.ciphertextBlob, 'base64'), arn: slot.keyArn };
}

/** The ingest's outcome for an upload key: the first stored/refused/superseded record at or after `from`. */
async function ingested(h: Harness, key: string, from: number, ms = 10_000): Promise<LogEntry> {
	const deadline = Date.now() + ms;
	for (;;) {
		const hit = h.logs.slice(from).find((l) => typeof l.event === 'string' && /^map_ingest\.(stored|refused|superseded)$/.test(l.event) && l.key === key);
		if (hit) return hit;
		if (Date.now() > deadline) throw new Error('no map_ingest outcome for ' + key + ' within ' + ms + ' ms');
		await new Promise((r) => setTimeout(r, 20));
	}
}

async function mission(h: Harness, missionId: string, thing = 'robot-1'): Promise<Record<string, unknown> | undefined> {
	const ddb = createDocumentClient({ region: LOCAL_REGION, endpoint: h.cloud.endpoints.dynamodb, credentials: { ...LOCAL_CREDENTIALS } });
	try {
		return (await ddb.send(new GetCommand({ TableName: h.cloud.tables.missions, Key: { thing, missionId }, ConsistentRead: true }))).Item;
	} finally {
		ddb.destroy();
	}
}

async function withS3<T>(h: Harness, f: (s3: S3Client) => Promise<T>): Promise<T> {
	const s3 = new S3Client({ region: LOCAL_REGION, endpoint: h.cloud.endpoints.s3, forcePathStyle: true, credentials: { ...LOCAL_CREDENTIALS } });
	try {
		return await f(s3);
	} finally {
		s3.destroy();
	}
}

async function decodedExists(h: Harness, key: string): Promise<boolean> {
	return withS3(h, (s3) =>
		s3.send(new HeadObjectCommand({ Bucket: 'maps', Key: key })).then(
			() => true,
			(e: Error) => (e.name === 'NotFound' || e.name === 'NoSuchKey' ? false : Promise.reject(e)),
		),
	);
}

async function publishReport(h: Harness, missionId: string): Promise<void> {
	await h.devices.get('robot-1')!.publishAsync(reportTopic('robot-1', missionId), JSON.stringify(report(missionId)), { qos: 1 });
	await h.cloud.rules.idle();
}

describe('map upload through the local cloud', function () {
	this.timeout(60_000);
	let h: Harness;

	before(async () => {
		h = await startHarness('map-upload-');
	});
	after(async () => {
		await stopHarness(h);
	});

	it('issues a slot, takes a 2 MB map streamed through the host HttpPort, stores it decoded and marks the mission (map before report)', async () => {
		const slot = await requestSlot(h, 'robot-1', { missionId: 'm-1', bytes: 2 * 1024 * 1024 });
		assert.equal(slot.error, undefined, JSON.stringify(slot.error));
		assert.deepEqual(slot.encryptionContext, { thing: 'robot-1', mission: 'm-1', purpose: 'map' });
		assert.equal(slot.frameLength, 4096);
		assert.equal(slot.method, 'PUT');
		assert.ok(slot.expiresAt > Date.now() + 250_000 && slot.expiresAt <= Date.now() + 300_000);
		assert.equal(new URL(slot.url).pathname, '/maps/maps/robot-1/m-1.esdk');
		assert.match(slot.keyArn, /^arn:aws:kms:us-east-1:000000000000:key\//);

		const map = fakeMap(2 * 1024 * 1024, 1);
		const message = await seal(map, slot, unwrap(h, 'robot-1', slot));
		// the device's path: a pull body, one chunk at a time
		let at = 0;
		const from = h.logs.length;
		const put = await createHttpPort().request({
			method: 'PUT',
			url: slot.url,
			headers: slot.headers,
			body: { length: message.length, next: () => (at >= message.length ? undefined : message.subarray(at, (at += 4096 + 32))) },
			timeoutMs: 10_000,
		});
		assert.ok(put.ok, !put.ok ? put.error : '');
		assert.equal(put.value.status, 200, Buffer.from(put.value.body).toString());

		const outcome = await ingested(h, 'maps/robot-1/m-1.esdk', from);
		assert.equal(outcome.event, 'map_ingest.stored', JSON.stringify(outcome));
		assert.equal(outcome.service, 'map-ingest');
		assert.equal(outcome.thing, 'robot-1');
		const decoded = await withS3(h, async (s3) => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'maps', Key: 'decoded/robot-1/m-1.map' }))).Body!.transformToByteArray()));
		assert.ok(decoded.equals(map), 'the decoded map is the robot’s map');
		const before = await mission(h, 'm-1');
		assert.equal(before?.mapReady, true);
		assert.equal(before?.mapBytes, map.length);
		assert.equal(before?.receivedAt, undefined, 'no report yet');

		// the report comes after the map: stored once, and the map attributes stay
		await publishReport(h, 'm-1');
		const item = await mission(h, 'm-1');
		assert.equal(item?.mapReady, true);
		assert.equal(item?.mapBytes, map.length);
		assert.equal(item?.outcome, 'finished');
		assert.equal(typeof item?.receivedAt, 'number');
		await publishReport(h, 'm-1');
		assert.deepEqual(await mission(h, 'm-1'), item, 'a second delivery is a duplicate');
		assert.ok(h.logs.some((l) => l.event === 'mission_report.stored' && l.missionId === 'm-1' && l.mapFirst === true));
		assert.ok(h.logs.some((l) => l.event === 'mission_report.duplicate' && l.missionId === 'm-1'));
		assert.ok(!h.logs.some((l) => l.event === 'rules.failed' || l.event === 'map_ingest.invocation_failed'));
	});

	it('marks a mission whose report came first (plain fetch PUT)', async () => {
		await publishReport(h, 'm-2');
		assert.equal((await mission(h, 'm-2'))?.mapReady, false);
		const slot = await requestSlot(h, 'robot-1', { missionId: 'm-2' });
		const message = await seal(fakeMap(70_000, 2), slot, unwrap(h, 'robot-1', slot));
		const from = h.logs.length;
		const res = await fetch(slot.url, { method: 'PUT', headers: slot.headers, body: message });
		assert.equal(res.status, 200, await res.text());
		assert.equal((await ingested(h, 'maps/robot-1/m-2.esdk', from)).event, 'map_ingest.stored');
		const item = await mission(h, 'm-2');
		assert.equal(item?.mapReady, true);
		assert.equal(item?.mapBytes, 70_000);
		assert.equal(item?.outcome, 'finished', 'the report is kept');
	});

	it('answers a malformed request with an error, on the same clientToken', async () => {
		const reply = await requestSlot(h, 'robot-1', { missionId: 'M-1/../x' });
		assert.equal(reply.error?.code, 'invalid_request');
		assert.match(reply.error!.message, /missionId/);
		assert.match(reply.clientToken!, /^tok-\d+$/);
		assert.equal(reply.url, undefined);
	});

	it('answers a request that is not JSON with an error on its clientToken, instead of leaving the robot to time out', async () => {
		const device = h.devices.get('robot-1')!;
		const reply = nextMessage(device, slotTopic('robot-1'), 10_000);
		await device.publishAsync(requestTopic('robot-1'), '{"clientToken":"tok-raw","missionId":"m-1",', { qos: 1 });
		const r = JSON.parse((await reply).payload.toString()) as SlotError;
		assert.equal(r.clientToken, 'tok-raw');
		assert.equal(r.error.code, 'invalid_request');
		assert.match(r.error.message, /request: not JSON/);
	});

	it('records a final refusal on the mission: the record says why its map will not come', async () => {
		await publishReport(h, 'm-20');
		const reply = await requestSlot(h, 'robot-1', { missionId: 'm-20', bytes: 64 * 1024 * 1024 });
		assert.equal(reply.error?.code, 'too_large');
		const item = await mission(h, 'm-20');
		assert.deepEqual({ ...(item?.mapRefused as Record<string, unknown>), at: 0 }, { code: 'too_large', message: reply.error!.message, at: 0 });
		assert.equal(item?.mapReady, false);
	});

	/** Publishes the report of `missionId`, runs `attack` (which uploads and returns the upload key), and checks nothing moved. */
	async function unchanged(missionId: string, attack: () => Promise<string>, reason: string): Promise<void> {
		await publishReport(h, missionId);
		const before = await mission(h, missionId);
		assert.equal(before?.mapReady, false);
		const from = h.logs.length;
		const key = await attack();
		const outcome = await ingested(h, key, from);
		assert.equal(outcome.event, 'map_ingest.refused', JSON.stringify(outcome));
		assert.equal(outcome.reason, reason);
		assert.equal(outcome.level, 'warn');
		assert.deepEqual(await mission(h, missionId), before, 'the mission record is unchanged');
		assert.equal(await decodedExists(h, 'decoded/robot-1/' + missionId + '.map'), false, 'no decoded map');
	}

	it('refuses a message with a flipped byte', async () => {
		await unchanged(
			'm-3',
			async () => {
				const slot = await requestSlot(h, 'robot-1', { missionId: 'm-3' });
				const message = await seal(fakeMap(100_000, 3), slot, unwrap(h, 'robot-1', slot));
				message[60_000]! ^= 0x10;
				assert.equal((await fetch(slot.url, { method: 'PUT', headers: slot.headers, body: message })).status, 200);
				return 'maps/robot-1/m-3.esdk';
			},
			'undecryptable',
		);
	});

	it("refuses another robot's message put through this robot's slot", async () => {
		await unchanged(
			'm-4',
			async () => {
				const mine = await requestSlot(h, 'robot-1', { missionId: 'm-4' });
				const theirs = await requestSlot(h, 'robot-2', { missionId: 'm-4' });
				assert.deepEqual(theirs.encryptionContext, { thing: 'robot-2', mission: 'm-4', purpose: 'map' });
				const message = await seal(fakeMap(30_000, 4), theirs, unwrap(h, 'robot-2', theirs));
				assert.equal((await fetch(mine.url, { method: 'PUT', headers: mine.headers, body: message })).status, 200);
				return 'maps/robot-1/m-4.esdk';
			},
			'context_mismatch',
		);
	});

	it('refuses a slot replayed for another mission', async () => {
		const a = await requestSlot(h, 'robot-1', { missionId: 'm-5' });
		await unchanged(
			'm-6',
			async () => {
				const b = await requestSlot(h, 'robot-1', { missionId: 'm-6' });
				const message = await seal(fakeMap(30_000, 5), a, unwrap(h, 'robot-1', a));
				assert.equal((await fetch(b.url, { method: 'PUT', headers: b.headers, body: message })).status, 200);
				return 'maps/robot-1/m-6.esdk';
			},
			'context_mismatch',
		);
		assert.equal((await mission(h, 'm-5'))?.mapReady, undefined, 'nor is mission A touched');
	});
});

describe('map upload with an expired slot', function () {
	this.timeout(60_000);
	let h: Harness;

	before(async () => {
		h = await startHarness('map-upload-expiry-', { mapSlotExpiresS: 1 });
	});
	after(async () => {
		await stopHarness(h);
	});

	it('refuses the PUT once the URL has expired, and nothing changes', async () => {
		await publishReport(h, 'm-7');
		const before = await mission(h, 'm-7');
		const slot = await requestSlot(h, 'robot-1', { missionId: 'm-7' });
		assert.ok(slot.expiresAt <= Date.now() + 1000);
		const message = await seal(fakeMap(10_000, 7), slot, unwrap(h, 'robot-1', slot));
		await new Promise((r) => setTimeout(r, Math.max(0, slot.expiresAt - Date.now()) + 1100));
		const from = h.logs.length;
		const res = await fetch(slot.url, { method: 'PUT', headers: slot.headers, body: message });
		assert.equal(res.status, 403);
		assert.match(await res.text(), /<Code>AccessDenied<\/Code><Message>Request has expired/);
		await new Promise((r) => setTimeout(r, 200));
		assert.ok(!h.logs.slice(from).some((l) => typeof l.event === 'string' && l.event.startsWith('map_ingest.')), 'no ingest ran');
		assert.deepEqual(await mission(h, 'm-7'), before);
		assert.equal(await decodedExists(h, 'decoded/robot-1/m-7.map'), false);
	});
});
