/*
 * Quarantine, reinstate and revoke a robot with tools/certs on the local cloud: the live
 * session is closed, the robot's attempts are refused and it backs off (failures in a row
 * grow), it comes back after a reinstate, a revoked certificate cannot be reinstated, and
 * every change is in the robots table with who made it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IoTClient } from '@aws-sdk/client-iot';
import { Link } from '../firmware/core/link/link';
import type { LinkState } from '../firmware/core/link/machine';
import { createMemoryStorage, hostPorts, memoryLog } from '../firmware/platform/host/index';
import { createDocumentClient } from '../cloud/lib/aws';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { certificateHistory, changeCertificate, LifecycleError } from '../tools/certs/lifecycle';
import { main } from '../tools/certs/cli';

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
	const t0 = Date.now();
	while (!cond()) {
		if (Date.now() - t0 > ms) throw new Error('timed out waiting for ' + what);
		await new Promise((r) => setTimeout(r, 20));
	}
}

describe('certificate lifecycle: quarantine, reinstate, revoke (tools/certs, local cloud)', function () {
	this.timeout(60_000);
	let cloud: LocalCloud;
	let dir: string;
	let iot: IoTClient;
	let ddb: ReturnType<typeof createDocumentClient>;
	let link: Link;

	before(async () => {
		dir = mkdtempSync(path.join(tmpdir(), 'certs-'));
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1'], inMemory: true });
		const aws = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
		iot = new IoTClient({ ...aws, endpoint: cloud.endpoints.iot });
		ddb = createDocumentClient({ ...aws, endpoint: cloud.endpoints.dynamodb });
	});
	after(async () => {
		link?.stop();
		iot?.destroy();
		ddb?.destroy();
		await cloud?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	it('quarantine closes the session and the robot backs off; reinstate lets it back; revoke is final; all recorded with who', async () => {
		const identity = cloud.pki.things.get('robot-1')!;
		const certificateId = createHash('sha256').update(identity.certDer).digest('hex');
		const log = memoryLog();
		const states: LinkState[] = [];
		link = new Link(hostPorts(createMemoryStorage(), log), {
			endpoint: { host: '127.0.0.1', port: cloud.broker.port, tls: { ca: identity.caDer, certificates: [identity.certDer], key: identity.keyDer, serverName: 'localhost' } },
			clientId: 'robot-1',
			keepAlive: 30,
			backoff: { baseMs: 50, capMs: 5_000 },
		});
		link.listen({ state: (s) => void states.push(s) });
		link.start();
		await until('connected', () => link.state.value === 'connected');

		const base = { iot, ddb, table: cloud.tables.robots, thing: 'robot-1', certificateId };
		const q = await changeCertificate({ ...base, action: 'quarantine', by: 'ops@example.com', reason: 'cloned certificate suspected' });
		assert.deepEqual([q.from, q.to, q.by], ['ACTIVE', 'INACTIVE', 'ops@example.com']);
		await until('the session closed', () => link.state.value !== 'connected');
		const from = states.length;
		await until('four refused attempts', () => states.slice(from).filter((s) => s.value === 'waiting').length >= 4);
		const attempts = states.slice(from).flatMap((s) => (s.value === 'waiting' ? [s.attempt] : []));
		for (let i = 1; i < attempts.length; i++) assert.ok(attempts[i]! > attempts[i - 1]!, 'backs off: ' + JSON.stringify(attempts));
		assert.ok(
			log.lines.some((l) => l.event === 'mqtt.refused' && l.fields.code === 5),
			'refused with CONNACK 5',
		);
		assert.ok(!states.slice(from).some((s) => s.value === 'connected'));

		await changeCertificate({ ...base, action: 'reinstate', by: 'ops@example.com', reason: 'clone found and wiped' });
		await until('connected again', () => link.state.value === 'connected');

		await changeCertificate({ ...base, action: 'revoke', by: 'security@example.com', reason: 'key leaked' });
		await assert.rejects(changeCertificate({ ...base, action: 'reinstate', by: 'ops@example.com', reason: 'oops' }), (e: unknown) => e instanceof LifecycleError && /REVOKED/.test(e.message));
		await until('refused again', () => link.state.value !== 'connected');

		const history = await certificateHistory(ddb, cloud.tables.robots, 'robot-1');
		assert.deepEqual(
			history.map((h) => [h.from, h.to, h.by, h.reason]),
			[
				['ACTIVE', 'INACTIVE', 'ops@example.com', 'cloned certificate suspected'],
				['INACTIVE', 'ACTIVE', 'ops@example.com', 'clone found and wiped'],
				['ACTIVE', 'REVOKED', 'security@example.com', 'key leaked'],
			],
		);
		assert.ok(history.every((h) => h.certificateId === certificateId && h.at > 0));

		// the CLI: the history as lines; a change without who and why is refused before anything changes
		const out: string[] = [];
		const err: string[] = [];
		const endpoints = ['--local', '--iot', cloud.endpoints.iot, '--dynamodb', cloud.endpoints.dynamodb, '--table', cloud.tables.robots];
		assert.equal(
			await main(
				['history', '--thing', 'robot-1', ...endpoints],
				(l) => void out.push(l),
				(l) => void err.push(l),
			),
			0,
		);
		assert.equal(out.length, 3);
		assert.match(out[2]!, /ACTIVE -> REVOKED by security@example.com: key leaked/);
		assert.equal(
			await main(
				['quarantine', '--thing', 'robot-1', '--certificate-id', certificateId, ...endpoints],
				() => {},
				(l) => void err.push(l),
			),
			2,
		);
		assert.match(err.join('\n'), /--by and --reason are required/);
		assert.equal((await certificateHistory(ddb, cloud.tables.robots, 'robot-1')).length, 3);
	});
});
