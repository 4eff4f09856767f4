/*
 * Log shipping end to end on the local cloud: a robot (the firmware's core on host ports)
 * whose log port writes into its ring connects through the broker's mutual TLS and policy;
 * the operator tool asks for its lines and gets them in batches; `since` gets only newer
 * ones; another robot's certificate cannot ask.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LogRing, ringLog } from '../firmware/core/log/ring';
import { createRobot, type Robot } from '../firmware/core/robot/robot';
import { createMemoryStorage, hostPorts, hostClock, memoryLog, readCredentials } from '../firmware/platform/host/index';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { connectOperator, requestLogs } from './logs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, f: () => T | undefined | false, ms = 10_000): Promise<T> {
	const deadline = Date.now() + ms;
	for (;;) {
		const v = f();
		if (v) return v;
		if (Date.now() > deadline) throw new Error('timed out: ' + what);
		await sleep(20);
	}
}

describe('tools/logs: a robot ships its log ring to an operator over MQTT', function () {
	this.timeout(30_000);
	let dir: string;
	let cloud: LocalCloud;
	let robot: Robot;
	let ring: LogRing;

	before(async () => {
		dir = await mkdtemp(path.join(tmpdir(), 'logs-'));
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1', 'robot-2'], operators: ['ops'], inMemory: true, log: () => {} });
		ring = new LogRing(hostClock, { bytes: 8192 });
		const log = ringLog(memoryLog(), ring);
		const storage = createMemoryStorage();
		robot = createRobot(hostPorts(storage, log), {
			thing: 'robot-1',
			endpoint: { host: '127.0.0.1', port: cloud.broker.port, tls: { ...readCredentials(cloud.pki.paths.thing('robot-1').dir), serverName: 'localhost' } },
			logs: { ring },
		});
		robot.start();
		await until('connected', () => robot.link.state.value === 'connected');
	});

	after(async () => {
		robot?.stop();
		await cloud?.close();
		await rm(dir, { recursive: true, force: true });
	});

	const operator = (name: string) => {
		const p = cloud.pki.paths.thing(name);
		return connectOperator('mqtts://127.0.0.1:' + cloud.broker.port, readFileSync(p.certPem), readFileSync(p.keyPem), readFileSync(cloud.pki.paths.caPem), 'localhost');
	};

	it('answers with its lines (why it connected, in batches of at most 4,000 bytes), then only newer ones after `since`', async () => {
		// enough lines for more than one batch
		for (let i = 0; i < 40; i++) ring.record('warn', 'test.filler', { i, note: 'x'.repeat(60) });
		const client = await operator('ops');
		try {
			const a = await requestLogs(client, 'robot-1', { timeoutMs: 5000 });
			assert.ok(a.batches >= 2, 'batches: ' + a.batches);
			assert.ok(
				a.lines.some((l) => l.e === 'link.online'),
				JSON.stringify(a.lines.map((l) => l.e)),
			);
			assert.equal(a.last, (a.lines[a.lines.length - 1] as { n: number }).n);
			robot.link.publish('robots/robot-1/missions/m-x/events', new TextEncoder().encode('{}'), 0);
			ring.record('info', 'test.after');
			const b = await requestLogs(client, 'robot-1', { since: a.last, timeoutMs: 5000 });
			assert.ok(b.lines.every((l) => (l.n as number) > a.last));
			assert.ok(b.lines.some((l) => l.e === 'test.after'));
			// the robot logged what it shipped (and so the next answer carries that too)
			assert.ok(b.lines.some((l) => l.e === 'logs.shipped'));
		} finally {
			await client.endAsync();
		}
	});

	it("another robot cannot ask: its subscribe to robot-1's logs is refused by the policy", async () => {
		const client = await operator('robot-2');
		try {
			await assert.rejects(requestLogs(client, 'robot-1', { timeoutMs: 3000 }), /refused|no complete answer/);
		} finally {
			await client.endAsync().catch(() => undefined);
		}
	});
});
