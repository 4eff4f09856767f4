/*
 * Two robots of one identity (a cloned certificate, or an old process still alive after
 * a restart) against the local cloud: the broker closes the older connection of a client
 * id on every CONNECT (MQTT-3.1.4-2, AWS IoT's DUPLICATE_CLIENTID), so each takes the
 * session from the other. The link must not treat those short connections as successes:
 * the backoff keeps growing instead of restarting at its first window, and each robot
 * logs the suspected takeover loop once, with its rate.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Link } from '../firmware/core/link/link';
import { createMemoryStorage, hostPorts, memoryLog } from '../firmware/platform/host/index';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
	const t0 = Date.now();
	while (!cond()) {
		if (Date.now() - t0 > ms) throw new Error('timed out waiting for ' + what);
		await new Promise((r) => setTimeout(r, 20));
	}
}

describe('two robots of one identity against the local cloud', function () {
	this.timeout(120_000);
	let cloud: LocalCloud;
	let dir: string;
	const links: Link[] = [];

	before(async () => {
		dir = mkdtempSync(path.join(tmpdir(), 'takeover-'));
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1'], inMemory: true });
	});
	after(async () => {
		for (const l of links) l.stop();
		await cloud?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	it('take the session from each other with a growing backoff, and each says so once', async () => {
		const identity = cloud.pki.things.get('robot-1')!;
		const robots = [0, 1].map(() => {
			const log = memoryLog();
			const scheduled: number[] = [];
			const link = new Link(hostPorts(createMemoryStorage(), log), {
				endpoint: { host: '127.0.0.1', port: cloud.broker.port, tls: { ca: identity.caDer, certificates: [identity.certDer], key: identity.keyDer, serverName: 'localhost' } },
				clientId: identity.thing,
				keepAlive: 30,
				// small windows so the loop runs several rounds within the test; a connection counts after 5 s
				backoff: { baseMs: 50, capMs: 60_000 },
				timing: { minConnectedMs: 5_000, flapsToWarn: 3 },
			});
			link.listen({ state: (s) => void (s.value === 'waiting' && scheduled.push(s.attempt)) });
			links.push(link);
			return { link, log, scheduled };
		});
		for (const r of robots) r.link.start();
		const warned = (r: (typeof robots)[number]) => r.log.lines.filter((l) => l.event === 'link.takeover_suspected');
		await until('both robots to suspect a takeover', () => robots.every((r) => warned(r).length > 0));
		// a few more rounds: the warning stays single, the attempts keep counting up
		await until('five taken sessions each', () => robots.every((r) => r.link.stats.connects >= 5));
		for (const r of robots) {
			assert.equal(warned(r).length, 1, 'one warning per loop');
			const w = warned(r)[0]!.fields;
			assert.equal(w.clientId, 'robot-1');
			assert.equal(w.shortConnections, 3);
			assert.ok(typeof w.connectsPerMinute === 'number' && w.connectsPerMinute > 0, JSON.stringify(w));
			// every loss came soon after a CONNACK: failures in a row never went back to 1 after the first
			const afterFirst = r.scheduled.slice(1);
			assert.ok(afterFirst.length >= 3, JSON.stringify(r.scheduled));
			for (let i = 1; i < r.scheduled.length; i++) assert.ok(r.scheduled[i]! > r.scheduled[i - 1]!, 'attempts grow: ' + JSON.stringify(r.scheduled));
			assert.match(String(r.link.stats.lastError), /closed by peer|ECONNRESET|socket/);
		}
	});
});
