/*
 * Certificate renewal before expiry, end to end on the local cloud with the host platform's
 * link (firmware/platform/host): a robot whose certificate ends in 5 days (inside its 30-day
 * window) asks with a CSR for its own key (firmware/core/renew), the cloud's handler checks and
 * issues (cloud/functions/cert-renew), the robot reconnects with the new certificate and keeps
 * it from then on (a reboot over the same storage uses it); once it connected with the new one
 * the old one is INACTIVE (a stolen copy no longer connects), the robots table records both
 * changes; the connection the
 * broker sees after the switch is the new certificate's (its presence event names it).
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { issueDevice, type DeviceIdentity } from '../cloud/local/dev-pki';
import { createDocumentClient } from '../cloud/lib/aws';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { certificateHistory } from '../tools/certs/lifecycle';
import { Link } from '../firmware/core/link/link';
import { createMemoryStorage, hostPorts, memoryLog } from '../firmware/platform/host/index';
import { createHostDeviceKey } from '../firmware/platform/host/crypto';
import { CURRENT_KEY, NEXT_KEY, Renewer } from '../firmware/core/renew/renewer';
import { readRecord } from '../firmware/core/util/record';
import type { TlsCredentials } from '../firmware/ports';

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
	const t0 = Date.now();
	while (!cond()) {
		if (Date.now() - t0 > ms) throw new Error('timed out waiting for ' + what);
		await new Promise((r) => setTimeout(r, 20));
	}
}
const idOf = (der: Uint8Array) => createHash('sha256').update(der).digest('hex');
const DAY = 86_400_000;

describe('certificate renewal before expiry (local cloud, host robot)', function () {
	this.timeout(60_000);
	let cloud: LocalCloud;
	let dir: string;
	const stops: (() => void)[] = [];

	before(async () => {
		dir = mkdtempSync(path.join(tmpdir(), 'renew-'));
		cloud = await startLocalCloud({ dataDir: dir, things: [], inMemory: true });
	});
	after(async () => {
		for (const s of stops) s();
		await cloud?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	function robot(identity: DeviceIdentity, storage: ReturnType<typeof createMemoryStorage>) {
		const log = memoryLog();
		const ports = hostPorts(storage, log);
		const endpoint: { host: string; port: number; tls: TlsCredentials & { serverName?: string } } = {
			host: '127.0.0.1',
			port: cloud.broker.port,
			tls: { ca: identity.caDer, certificates: [identity.certDer], key: identity.keyDer, serverName: 'localhost' },
		};
		const link = new Link(ports, { endpoint, clientId: identity.thing, keepAlive: 30, backoff: { baseMs: 50, capMs: 400 } });
		const renewer = new Renewer(link, { ...ports, deviceKey: createHostDeviceKey(identity.keyDer) }, { thing: identity.thing, endpoint, policy: { windowMs: 30 * DAY } });
		stops.push(() => {
			renewer.stop();
			link.stop();
		});
		return { link, renewer, log, endpoint };
	}

	it('renews inside the window, reconnects with the new certificate, keeps it across a reboot; both certificates and the change are recorded', async () => {
		const old = await issueDevice(cloud.pki, 'robot-ren', { notAfter: new Date(Date.now() + 5 * DAY) });
		cloud.registration.registry.addDevice(old.certDer, 'robot-ren');
		const principals: string[] = [];
		cloud.bus.subscribe('$aws/events/presence/connected/robot-ren', (m) => void principals.push(String((JSON.parse(Buffer.from(m.payload).toString()) as { principalIdentifier: string }).principalIdentifier)));
		const storage = createMemoryStorage();
		const a = robot(old, storage);
		a.link.start();
		await until('connected', () => a.link.state.value === 'connected');
		assert.equal(await a.renewer.check(), true, 'a certificate ending in 5 days is renewed with a 30-day window');
		await until('switched', () => a.log.lines.some((l) => l.event === 'renew.switched'));
		await until('connected with the new one', () => a.link.state.value === 'connected');

		const renewed = a.endpoint.tls.certificates[0]!;
		const cert = new X509Certificate(renewed);
		assert.equal(cert.subject, 'CN=robot-ren');
		assert.ok(new Date(cert.validTo).getTime() > Date.now() + 300 * DAY, 'a year from now');
		assert.ok(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(new X509Certificate(old.certDer).publicKey.export({ type: 'spki', format: 'der' })), 'the same key');
		assert.deepEqual(readRecord(storage, CURRENT_KEY), renewed);
		assert.equal(readRecord(storage, NEXT_KEY), undefined);
		await until('two connect events', () => principals.length >= 2);
		assert.deepEqual(principals, [idOf(old.certDer), idOf(renewed)], 'first with the old certificate, then with the new one');

		// the registry: both attached, the new one ACTIVE, the old one INACTIVE once the robot connected
		// with the new one (cert-retire); the robots table: both changes, by renewal
		const registry = cloud.registration.registry;
		const thing = registry.thing('robot-ren')!;
		await until('the old certificate retired', () => registry.certificate(idOf(old.certDer))!.status === 'INACTIVE');
		assert.equal(registry.certificate(idOf(renewed))!.status, 'ACTIVE');
		for (const der of [old.certDer, renewed]) assert.ok(thing.principals.has(registry.certificate(idOf(der))!.arn));
		const ddb = createDocumentClient({ region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS }, endpoint: cloud.endpoints.dynamodb });
		try {
			const history = await certificateHistory(ddb, cloud.tables.robots, 'robot-ren');
			assert.equal(history.length, 2);
			assert.deepEqual([history[0]!.certificateId, history[0]!.from, history[0]!.to, history[0]!.by], [idOf(renewed), 'NONE', 'ACTIVE', 'renewal']);
			assert.match(history[0]!.reason, new RegExp('replaces ' + idOf(old.certDer)));
			assert.deepEqual([history[1]!.certificateId, history[1]!.from, history[1]!.to, history[1]!.by], [idOf(old.certDer), 'ACTIVE', 'INACTIVE', 'renewal']);
			assert.match(history[1]!.reason, new RegExp('connected with its renewed certificate ' + idOf(renewed)));
		} finally {
			ddb.destroy();
		}
		// a stolen copy of the old certificate no longer connects
		const thief = robot(old, createMemoryStorage());
		thief.link.start();
		await until('two attempts with the old certificate', () => thief.log.lines.filter((l) => l.event === 'link.backoff').length >= 2 || thief.link.stats.connects > 0);
		assert.equal(thief.link.stats.connects, 0, 'never accepted');
		assert.notEqual(thief.link.state.value, 'connected');
		assert.deepEqual(thief.endpoint.tls.certificates[0], old.certDer);
		thief.link.stop();
		thief.renewer.stop();
		assert.equal(principals.length, 2, 'no connect with the old certificate');

		// not due any more; a reboot over the same storage starts from the renewed certificate
		assert.equal(await a.renewer.check(), false);
		a.link.stop();
		const b = robot(old, storage);
		assert.deepEqual(b.endpoint.tls.certificates[0], renewed);
		b.link.start();
		await until('connected after the reboot', () => b.link.state.value === 'connected');
		await until('three connect events', () => principals.length >= 3);
		assert.equal(principals[2], idOf(renewed));
	});

	it('a renewal the cloud cannot complete is answered with the reason; the robot keeps its certificate', async () => {
		const old = await issueDevice(cloud.pki, 'robot-ref', { notAfter: new Date(Date.now() + 5 * DAY) });
		const id = cloud.registration.registry.addDevice(old.certDer, 'robot-ref');
		const a = robot(old, createMemoryStorage());
		a.link.start();
		await until('connected', () => a.link.state.value === 'connected');
		// IoT fails while registering the new certificate: answered 'unavailable', nothing changes on the robot
		cloud.registration.registry.failNext('registerCertificate', { thing: 'robot-ref' });
		assert.equal(await a.renewer.check(), false);
		const refused = a.log.lines.find((l) => l.event === 'renew.refused');
		assert.ok(refused, 'logged');
		assert.equal(refused.fields.code, 'unavailable');
		assert.deepEqual(a.endpoint.tls.certificates[0], old.certDer);
		assert.equal(a.renewer.state.value, 'idle');
		assert.equal(cloud.registration.registry.certificate(id)!.status, 'ACTIVE');
	});
});
