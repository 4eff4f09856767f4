/*
 * A robot whose certificate expired while it was offline is not bricked. What it does:
 * the broker refuses its TLS handshake (CERT_HAS_EXPIRED), so every attempt fails before
 * MQTT; the link counts them as failures in a row and backs off to its cap (it keeps trying,
 * slowly, for as long as it runs); what it must deliver stays in its durable outbox (a mission
 * report published meanwhile is kept across the attempts). Given a certificate again (a renewal
 * done in time, or re-provisioning at a service visit: the same storage, new credentials), it
 * connects and delivers what it kept, once.
 */
import assert from 'node:assert/strict';
import { Link } from '../firmware/core/link/link';
import type { LinkState } from '../firmware/core/link/machine';
import { createMemoryStorage, hostPorts, memoryLog } from '../firmware/platform/host/index';
import { startBroker, type Broker } from '../cloud/local/broker';
import type { DeviceIdentity } from '../cloud/local/dev-pki';
import { issueDevice } from '../cloud/local/dev-pki';
import { testPki, type TestPki } from './support/pki';

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
	const t0 = Date.now();
	while (!cond()) {
		if (Date.now() - t0 > ms) throw new Error('timed out waiting for ' + what);
		await new Promise((r) => setTimeout(r, 20));
	}
}

describe('a certificate that expired offline', function () {
	this.timeout(60_000);
	let pki: TestPki;
	let broker: Broker;
	const links: Link[] = [];

	before(async () => {
		pki = await testPki();
		broker = await startBroker({ ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem });
	});
	after(async () => {
		for (const l of links) l.stop();
		await broker?.close();
	});

	const link = (identity: DeviceIdentity, storage: ReturnType<typeof createMemoryStorage>, log: ReturnType<typeof memoryLog>) => {
		const l = new Link(hostPorts(storage, log), {
			endpoint: { host: '127.0.0.1', port: broker.port, tls: { ca: identity.caDer, certificates: [identity.certDer], key: identity.keyDer, serverName: 'localhost' } },
			clientId: identity.thing,
			keepAlive: 30,
			backoff: { baseMs: 50, capMs: 400 },
		});
		links.push(l);
		return l;
	};

	it('keeps trying at its backoff, keeps its report, and delivers it once it has a certificate again', async () => {
		const storage = createMemoryStorage();
		const log = memoryLog();
		const expired = link(pki.device('robot-3'), storage, log);
		const states: LinkState[] = [];
		expired.listen({ state: (s) => void states.push(s) });
		expired.start();
		const report = new TextEncoder().encode(JSON.stringify({ missionId: 'm-1', outcome: 'completed' }));
		assert.ok(expired.publish('robots/robot-3/missions/m-1/events', report, 1, true).ok, 'queued while refused');
		await until('six refused attempts', () => states.filter((s) => s.value === 'waiting').length >= 6);
		const attempts = states.flatMap((s) => (s.value === 'waiting' ? [s.attempt] : []));
		assert.deepEqual(
			attempts,
			attempts.map((_, i) => i + 1),
			'failures in a row, never reset: ' + JSON.stringify(attempts),
		);
		assert.ok(!states.some((s) => s.value === 'connected'));
		assert.match(String(expired.stats.lastError), /socket|closed|certificate|expired/i);
		assert.equal(expired.outbox.size, 1, 'the report is kept');
		expired.stop();

		// a new certificate for this robot (re-provisioned); its storage, and so its outbox, is the same
		const renewed = await issueDevice(pki, 'robot-3');
		broker.record.clear();
		const back = link(renewed, storage, memoryLog());
		back.start();
		await until('delivered', () => back.outbox.size === 0);
		const got = broker.record.entries({ thing: 'robot-3', topic: 'robots/robot-3/missions/m-1/events' });
		assert.equal(got.length, 1);
		assert.deepEqual(new Uint8Array(got[0]!.payload), report);
	});
});
