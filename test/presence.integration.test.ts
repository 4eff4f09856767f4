/*
 * Connectivity in the robots table from lifecycle events, on the local cloud: a robot's
 * link connects and stops (DISCONNECT), the topic rule robot_presence runs the presence
 * handler, the table says connected, last seen and the last disconnect reason. Events
 * out of order or twice (AWS says they may come so) change nothing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { Link } from '../firmware/core/link/link';
import { createMemoryStorage, hostPorts, memoryLog } from '../firmware/platform/host/index';
import { createDocumentClient } from '../cloud/lib/aws';
import { createLogger } from '../cloud/lib/logger';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { createPresenceHandler } from '../cloud/functions/presence/handler';

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
	const t0 = Date.now();
	for (;;) {
		const v = await f();
		if (v !== undefined) return v;
		if (Date.now() - t0 > ms) throw new Error('timed out waiting for ' + what);
		await new Promise((r) => setTimeout(r, 50));
	}
}

describe('robot connectivity from lifecycle events (local cloud)', function () {
	this.timeout(60_000);
	let cloud: LocalCloud;
	let dir: string;
	let ddb: ReturnType<typeof createDocumentClient>;

	before(async () => {
		dir = mkdtempSync(path.join(tmpdir(), 'presence-'));
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1'], inMemory: true });
		ddb = createDocumentClient({ region: LOCAL_REGION, endpoint: cloud.endpoints.dynamodb, credentials: LOCAL_CREDENTIALS });
	});
	after(async () => {
		ddb?.destroy();
		await cloud?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	const item = async (thing: string) => (await ddb.send(new GetCommand({ TableName: cloud.tables.robots, Key: { thing }, ConsistentRead: true }))).Item;

	it('connected while the link is up; disconnected with the reason after it stops', async () => {
		const identity = cloud.pki.things.get('robot-1')!;
		const link = new Link(hostPorts(createMemoryStorage(), memoryLog()), {
			endpoint: { host: '127.0.0.1', port: cloud.broker.port, tls: { ca: identity.caDer, certificates: [identity.certDer], key: identity.keyDer, serverName: 'localhost' } },
			clientId: 'robot-1',
			keepAlive: 30,
		});
		const before = Date.now();
		link.start();
		const on = await until('connected in the table', async () => {
			const it = await item('robot-1');
			return it?.connected === true ? it : undefined;
		});
		assert.ok(Number(on.lastSeen) >= before && on.lastConnectedAt === on.lastSeen);
		assert.equal(on.lastDisconnectReason, undefined);
		link.stop();
		const off = await until('disconnected in the table', async () => {
			const it = await item('robot-1');
			return it?.connected === false ? it : undefined;
		});
		assert.equal(off.lastDisconnectReason, 'CLIENT_INITIATED_DISCONNECT');
		assert.equal(off.presenceVersion, on.presenceVersion, 'one connection, one version');
		assert.ok(Number(off.lastDisconnectedAt) >= Number(on.lastConnectedAt));
		// the handler's EMF records reached the local cloud's metrics, as CloudWatch reads them from its logs
		assert.equal(cloud.metrics.counters()['PresenceApplied{Service=presence}'], 2);
	});

	it('a stale event (older version, or a connect after its own disconnect) changes nothing; a bad one is refused', async () => {
		const logs: unknown[] = [];
		const handle = createPresenceHandler({ ddb, table: cloud.tables.robots, logger: createLogger({ sink: (r) => void logs.push(r) }) });
		const ctx = { awsRequestId: randomUUID(), functionName: 'PresenceFunction' };
		const s1 = randomUUID();
		const s2 = randomUUID();
		const conn = (v: number, s: string, t: number) => ({
			clientId: 'robot-9',
			timestamp: t,
			eventType: 'connected',
			sessionIdentifier: s,
			principalIdentifier: 'p',
			ipAddress: '10.0.0.1',
			versionNumber: v,
		});
		const disc = (v: number, s: string, t: number, reason: string) => ({
			clientId: 'robot-9',
			timestamp: t,
			eventType: 'disconnected',
			sessionIdentifier: s,
			principalIdentifier: 'p',
			clientInitiatedDisconnect: false,
			disconnectReason: reason,
			versionNumber: v,
		});
		assert.deepEqual(await handle(conn(1, s1, 100), ctx), { status: 'applied' });
		// the second connection took over; the first one's disconnect arrives after it
		assert.deepEqual(await handle(conn(2, s2, 200), ctx), { status: 'applied' });
		assert.deepEqual(await handle(disc(1, s1, 190, 'DUPLICATE_CLIENTID'), ctx), { status: 'stale' });
		assert.equal((await item('robot-9'))?.connected, true);
		// its own disconnect, twice, then its connect again out of order
		assert.deepEqual(await handle(disc(2, s2, 300, 'MQTT_KEEP_ALIVE_TIMEOUT'), ctx), { status: 'applied' });
		assert.deepEqual(await handle(disc(2, s2, 300, 'MQTT_KEEP_ALIVE_TIMEOUT'), ctx), { status: 'stale' });
		assert.deepEqual(await handle(conn(2, s2, 200), ctx), { status: 'stale' });
		const it = await item('robot-9');
		assert.equal(it?.connected, false);
		assert.equal(it?.lastDisconnectReason, 'MQTT_KEEP_ALIVE_TIMEOUT');
		assert.equal(it?.lastSeen, 300);
		const bad = await handle({ ...disc(3, s2, 400, 'BECAUSE'), clientId: '' }, ctx);
		assert.ok(bad.status === 'refused' && bad.errors.some((e) => /clientId/.test(e)) && bad.errors.some((e) => /disconnectReason/.test(e)));
		assert.equal((await item('robot-9'))?.presenceVersion, 2);
	});
});
