/*
 * Map upload end to end with the firmware on the host platform: the core's Link over
 * mutual TLS, the MapUploader (slot over MQTT, OAEP unwrap with the thing's key.der, the
 * Encryption SDK writer streamed into the host HttpPort's PUT) against the local cloud,
 * whose map-ingest opens every message with the stock SDK and a KMS keyring and sets
 * mapReady. Sizes around the 4096-byte frame (0, 1, 4096, 4097, 8192) and 2 MB, with the
 * node:crypto port and the portable (@noble) one. Then a robot (createRobot with
 * `upload`, the cleaning simulator, the simulated map) that uploads its map by itself
 * after the report, and one that owed a map while offline and sends it after a reboot.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { Link } from '../firmware/core/link/link';
import { createRobot, type Robot, type RobotUpload } from '../firmware/core/robot/robot';
import { MapUploader, type MapSource } from '../firmware/core/maps/uploader';
import { createPortableCrypto } from '../firmware/platform/portable/crypto';
import { createHostDeviceKey, hostCrypto } from '../firmware/platform/host/crypto';
import { createHttpPort } from '../firmware/platform/host/http';
import { createMemoryStorage, hostPorts, hostRandom, hostTimers, memoryLog, readCredentials } from '../firmware/platform/host/index';
import { CleaningSimulator, TYPICAL_HOME } from '../firmware/sim/cleaning';
import { MAP_HEADER_BYTES, parseMapHeader, simulatedMap } from '../firmware/sim/map';
import type { ClockPort, StoragePort, TimerHandle, TimerPort } from '../firmware/ports';
import { createDocumentClient } from '../cloud/lib/aws';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import type { LogEntry } from '../cloud/local/log';
import { switchableCrypto } from './support/switchable-crypto';

const THING = 'robot-1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` deterministic bytes, made 4 KB at a time: the device's constant-memory reader. */
function streamedMap(n: number, seed: number): MapSource & { sha256(): string } {
	const byte = (i: number) => ((i * 2654435761 + seed * 40503) >>> 13) & 0xff;
	return {
		length: n,
		open() {
			let at = 0;
			const buf = new Uint8Array(4096);
			return (max: number) => {
				if (at >= n) return undefined;
				const k = Math.min(max, n - at, buf.length);
				for (let i = 0; i < k; i++) buf[i] = byte(at + i);
				at += k;
				return buf.subarray(0, k);
			};
		},
		sha256() {
			const h = createHash('sha256');
			const read = this.open();
			for (let c = read(65536); c; c = read(65536)) h.update(c);
			return h.digest('hex');
		},
	};
}

function sha256Of(source: MapSource): string {
	const h = createHash('sha256');
	const read = source.open();
	for (let c = read(65536); c; c = read(65536)) h.update(c);
	return h.digest('hex');
}

async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, ms = 20_000): Promise<T> {
	const deadline = Date.now() + ms;
	for (;;) {
		const v = await f();
		if (v) return v;
		if (Date.now() > deadline) throw new Error('timed out: ' + what);
		await sleep(20);
	}
}

interface Cloud {
	cloud: LocalCloud;
	logs: LogEntry[];
	dir: string;
	mission(missionId: string): Promise<Record<string, unknown> | undefined>;
	decoded(missionId: string): Promise<Buffer>;
	close(): Promise<void>;
}

async function startCloud(): Promise<Cloud> {
	const dir = await mkdtemp(path.join(tmpdir(), 'map-e2e-'));
	const logs: LogEntry[] = [];
	const cloud = await startLocalCloud({ dataDir: dir, things: [THING], log: (e) => logs.push(e), inMemory: true });
	const aws = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
	const ddb = createDocumentClient({ ...aws, endpoint: cloud.endpoints.dynamodb });
	const s3 = new S3Client({ ...aws, endpoint: cloud.endpoints.s3, forcePathStyle: true });
	return {
		cloud,
		logs,
		dir,
		mission: async (missionId) => (await ddb.send(new GetCommand({ TableName: cloud.tables.missions, Key: { thing: THING, missionId }, ConsistentRead: true }))).Item,
		decoded: async (missionId) => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'maps', Key: `decoded/${THING}/${missionId}.map` }))).Body!.transformToByteArray()),
		async close() {
			ddb.destroy();
			s3.destroy();
			await cloud.close();
			await rm(dir, { recursive: true, force: true });
		},
	};
}

function endpoint(c: LocalCloud) {
	return { host: '127.0.0.1', port: c.broker.port, tls: { ...readCredentials(c.pki.paths.thing(THING).dir), serverName: 'localhost' } };
}

const deviceKeyOf = (c: LocalCloud) => createHostDeviceKey(new Uint8Array(readFileSync(c.pki.paths.thing(THING).keyDer)));

/** The ingest's outcome for a mission's upload: stored, refused or superseded. */
function ingested(c: Cloud, missionId: string): Promise<LogEntry> {
	const key = `maps/${THING}/${missionId}.esdk`;
	return until('map_ingest outcome for ' + key, () => c.logs.find((l) => typeof l.event === 'string' && /^map_ingest\.(stored|refused|superseded)$/.test(l.event) && l.key === key));
}

describe('map upload end to end: the firmware uploader on the host platform', function () {
	this.timeout(120_000);
	let c: Cloud;
	let link: Link;
	let uploader: MapUploader;
	// one uploader (one subscription to the slot topic); the crypto port behind it is chosen per test
	const crypto = switchableCrypto(hostCrypto);
	const log = memoryLog();

	before(async () => {
		c = await startCloud();
		link = new Link(hostPorts(createMemoryStorage(), log), { clientId: THING, endpoint: endpoint(c.cloud), connectTimeoutMs: 10_000 });
		uploader = new MapUploader(link, { crypto: crypto.port, deviceKey: deviceKeyOf(c.cloud), http: createHttpPort(), timers: hostTimers, random: hostRandom, log }, THING);
		link.start();
		await until('connected', () => link.state.value === 'connected');
	});
	after(async () => {
		link?.stop();
		await c?.close();
	});

	const portable = createPortableCrypto((n) => hostCrypto.random(n));
	const SIZES = [0, 1, 4096, 4097, 8192, 2 * 1024 * 1024];
	let n = 0;
	for (const [name, port] of [
		['node:crypto', hostCrypto],
		['portable', portable],
	] as const)
		for (const size of SIZES)
			it(`${size} bytes (${name}): uploaded, decrypted by the stock SDK, mapReady`, async () => {
				crypto.use(port);
				const missionId = 'm-e2e' + (n++).toString(36);
				const map = streamedMap(size, n);
				const progress: number[] = [];
				const r = await uploader.upload(missionId, map, (sent) => progress.push(sent));
				assert.ok(r.ok, !r.ok ? JSON.stringify(r.error) : '');
				assert.equal(r.value.attempts, 1);
				assert.equal(progress[progress.length - 1], r.value.bytes, 'progress ends at the message length');
				const outcome = await ingested(c, missionId);
				assert.equal(outcome.event, 'map_ingest.stored', JSON.stringify(outcome));
				const item = await c.mission(missionId);
				assert.equal(item?.mapReady, true);
				assert.equal(item?.mapBytes, size);
				const decoded = await c.decoded(missionId);
				assert.equal(decoded.length, size);
				assert.equal(createHash('sha256').update(decoded).digest('hex'), map.sha256(), 'the decoded map is the robot’s map');
			});
});

describe('map upload end to end: a robot uploads its map after the report', function () {
	this.timeout(120_000);
	let c: Cloud;
	const robots: Robot[] = [];
	const sims: CleaningSimulator[] = [];

	before(async () => {
		c = await startCloud();
	});
	after(async () => {
		for (const s of sims) s.stop();
		for (const r of robots) r.stop();
		await c?.close();
	});

	// missions on a clock 6000x faster than the link's: a one-hour mission in 0.6 s
	const scale = 6000;
	const p0 = performance.now();
	const w0 = Date.now();
	const fastClock: ClockPort = { now: () => w0 + (Date.now() - w0) * scale, monotonic: () => (performance.now() - p0) * scale };
	const fastTimers: TimerPort = { set: (cb, ms) => hostTimers.set(cb, ms / scale), clear: (h: TimerHandle) => hostTimers.clear(h) };
	const mapOf = (areaM2: number) => simulatedMap({ seed: 7, areaM2, width: 600, height: 500 });

	function robot(storage: StoragePort, log = memoryLog(), retry?: Pick<RobotUpload, 'uploader' | 'queue'>): { robot: Robot; sim: CleaningSimulator; log: ReturnType<typeof memoryLog> } {
		const r = createRobot(
			hostPorts(storage, log),
			{
				thing: THING,
				endpoint: endpoint(c.cloud),
				link: { backoff: { baseMs: 100, capMs: 500 } },
				upload: { crypto: hostCrypto, deviceKey: deviceKeyOf(c.cloud), http: createHttpPort(), map: (job) => mapOf(job.areaM2), ...retry },
			},
			{ clock: fastClock, timers: fastTimers, storage, log, random: hostRandom },
		);
		const sim = new CleaningSimulator(r.missions, { timers: fastTimers, random: hostRandom, log }, TYPICAL_HOME);
		robots.push(r);
		sims.push(sim);
		return { robot: r, sim, log };
	}

	it('runs a mission, reports it with map pending, then uploads the simulated map; the cloud decrypts it and sets mapReady', async () => {
		const storage = createMemoryStorage();
		const { robot: r, sim } = robot(storage);
		const events: string[] = [];
		r.maps!.listen({ started: (m) => events.push('started ' + m), uploaded: (m) => events.push('uploaded ' + m), failed: (m, e) => events.push('failed ' + m + ' ' + e.code) });
		r.start();
		await until('connected', () => r.link.state.value === 'connected');
		const id = sim.run('app')!;
		const item = await until('report and map in the table', async () => {
			const i = await c.mission(id);
			return i?.mapReady === true && typeof i.receivedAt === 'number' && i;
		});
		assert.deepEqual(events, ['started ' + id, 'uploaded ' + id]);
		assert.equal(r.maps!.pending().length, 0);
		assert.equal(storage.read('maps.todo'), undefined, 'nothing owed any more');
		const area = item.areaM2 as number;
		assert.ok(area > 0);
		const expected = mapOf(area);
		assert.equal(item.mapBytes, expected.length);
		const decoded = await c.decoded(id);
		const header = parseMapHeader(decoded);
		assert.ok(typeof header !== 'string', String(header));
		assert.equal(header.width, 600);
		assert.equal(header.height, 500);
		assert.equal(header.areaM2, area);
		assert.equal(createHash('sha256').update(decoded).digest('hex'), sha256Of(expected), 'the decoded map is the one the simulator makes for that area');
		assert.ok(decoded.subarray(MAP_HEADER_BYTES).includes(0) && decoded.subarray(MAP_HEADER_BYTES).includes(100), 'free and occupied cells');
	});

	// the review: the cloud's "unavailable" (KMS briefly failing) was taken as a final refusal and the map deleted
	it('keeps the map through a KMS outage: the slot requests answered unavailable are retried, the map arrives once KMS is back', async () => {
		const storage = createMemoryStorage();
		// short delays on the real clock: the uploader's backoff and the queue's retry (1 min to 1 h in production)
		const { robot: r, sim, log } = robot(storage, memoryLog(), { uploader: { backoff: { baseMs: 100, capMs: 300 }, maxAttempts: 2 }, queue: { retry: { baseMs: 200, capMs: 500 } } });
		const failures: string[] = [];
		r.maps!.listen({ failed: (_m, e, again) => failures.push(e.code + (e.code === 'slot-refused' ? ' ' + e.reason.split(':')[0] : '') + (again ? ' retry' : ' final')) });
		c.cloud.kms.outage(true);
		try {
			r.start();
			await until('connected', () => r.link.state.value === 'connected');
			const id = sim.run('app')!;
			await until('two tries refused unavailable', () => failures.filter((f) => f === 'slot-refused unavailable retry').length >= 2);
			assert.deepEqual(
				r.maps!.pending().map((j) => j.missionId),
				[id],
				'still owed',
			);
			c.cloud.kms.outage(false);
			const item = await until('map in the table', async () => {
				const i = await c.mission(id);
				return i?.mapReady === true && i;
			});
			assert.equal(item.mapBytes, mapOf(item.areaM2 as number).length);
			// every failure was retried; a link that drops under load adds 'offline' retries, which are fine
			assert.ok(
				failures.every((f) => f.endsWith(' retry')),
				JSON.stringify(failures),
			);
			assert.ok(failures.filter((f) => f === 'slot-refused unavailable retry').length >= 2, JSON.stringify(failures));
			assert.ok(!log.lines.some((l) => l.event === 'map.dropped'));
			assert.equal(item.mapRefused, undefined, 'unavailable is not a refusal of the mission');
			assert.ok(c.logs.some((e) => e.event === 'upload_slot.refused' && e.code === 'unavailable'));
		} finally {
			c.cloud.kms.outage(false);
		}
	});

	it('owes the map of a mission cleaned offline across a reboot, and sends it once connected', async () => {
		const storage = createMemoryStorage();
		const a = robot(storage);
		// never started: the Wi-Fi is down for this whole boot
		const id = a.sim.run('button')!;
		await until('mission done offline', () => a.robot.missions.state.value === 'idle' && a.robot.maps!.pending().length === 1);
		assert.deepEqual(
			a.robot.maps!.pending().map((j) => j.missionId),
			[id],
		);
		a.sim.stop();
		a.robot.stop(); // power off
		assert.ok(storage.read('maps.todo'), 'the obligation is in storage');

		const b = robot(storage);
		assert.deepEqual(
			b.robot.maps!.pending().map((j) => j.missionId),
			[id],
			'read back at boot',
		);
		b.robot.start();
		const item = await until('report and map in the table', async () => {
			const i = await c.mission(id);
			return i?.mapReady === true && typeof i.receivedAt === 'number' && i;
		});
		assert.equal(item.mapBytes, mapOf(item.areaM2 as number).length);
		await until('nothing owed', () => b.robot.maps!.pending().length === 0);
		assert.ok(b.log.lines.some((l) => l.event === 'map.uploaded' && l.fields.mission === id));
	});
});
