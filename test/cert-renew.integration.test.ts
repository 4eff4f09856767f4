// CertRenewFunction (cloud/functions/cert-renew) over the local IoT registry, the company CA's key in SoftHSM2 (the factory's
// path, tools/provision), and CSRs made by the robot's own code (firmware/core/renew/csr.ts over
// the core's RSA device key): issued for the same key, registered ACTIVE and attached; every
// refusal answered on the rejected topic with its reason, and nothing registered.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, createHash } from 'node:crypto';
import { createCertRenewHandler } from '../cloud/functions/cert-renew/handler';
import { createLocalIotRegistry, type LocalIotRegistry } from '../cloud/local/iot-registry';
import { localRenewRegistry } from '../cloud/local/renewal';
import { createCa, issueDevice, type DeviceIdentity } from '../cloud/local/dev-pki';
import { createLogger } from '../cloud/lib/logger';
import { openHsm, type Hsm } from '../tools/provision/hsm';
import { openProvisioner, type Provisioner } from '../tools/provision/provision';
import { createTestToken, SOFTHSM_MODULES, softHsmModule, type TestToken } from '../tools/provision/softhsm';
import { cannotRun } from './support/skip';
import { buildCsr } from '../firmware/core/renew/csr';
import { createRsaDeviceKey, parseRsaPrivateKey } from '../firmware/core/crypto/rsa';
import { createPortableCrypto } from '../firmware/platform/portable/crypto';
import { renewTopics } from '../firmware/core/renew/contract';
import { randomBytes } from 'node:crypto';

const crypto = createPortableCrypto((n) => new Uint8Array(randomBytes(n)));
const ctx = { awsRequestId: 'req-1', functionName: 'CertRenewFunction' };

function robotCsr(id: DeviceIdentity, thing = id.thing): string {
	const k = parseRsaPrivateKey(id.keyDer);
	if (!k.ok) throw new Error(k.error.reason);
	const key = createRsaDeviceKey(k.value, { sha256: crypto.sha256, random: crypto.random });
	return Buffer.from(buildCsr({ thing, n: k.value.n, e: k.value.e }, key)).toString('base64');
}
const idOf = (der: Uint8Array) => createHash('sha256').update(der).digest('hex');

describe('cert-renew handler', function () {
	this.timeout(60_000);
	let token: TestToken | undefined;
	let hsm: Hsm | undefined;
	let dir: string | undefined;
	let factory: Provisioner;
	let registry: LocalIotRegistry;
	let robot: DeviceIdentity;
	let other: DeviceIdentity;
	const sent: { topic: string; body: Record<string, unknown> }[] = [];
	let handler: ReturnType<typeof createCertRenewHandler>;

	before(async function () {
		if (!softHsmModule())
			cannotRun(this, {
				untested: 'certificate renewal signed by the CA key in SoftHSM2',
				why: 'libsofthsm2.so not found in ' + SOFTHSM_MODULES.join(', '),
				install: 'sudo apt-get install -y softhsm2',
			});
		token = createTestToken('renew-ca', '2468');
		hsm = openHsm({ module: token.module, tokenLabel: 'renew-ca', pin: token.pin });
		dir = mkdtempSync(join(tmpdir(), 'renew-'));
		factory = await openProvisioner(hsm, { dir });
		// the robot's current certificate from another CA (the dev CA): renewal moves it to the company CA
		const dev = await createCa('dev ca');
		robot = await issueDevice(dev, 'robot-r1');
		other = await issueDevice(dev, 'robot-r2');
		registry = createLocalIotRegistry();
		registry.registerCa(factory.caPem);
		for (const r of [robot, other]) {
			await registry.createThing(r.thing);
			registry.addDevice(r.certDer, r.thing);
		}
		handler = createCertRenewHandler({
			registry: localRenewRegistry(registry),
			issuer: { caCert: factory.caCert, caKey: factory.caKey, crypto: hsm.crypto as never },
			publisher: { publish: (topic, payload) => void sent.push({ topic, body: JSON.parse(payload) as Record<string, unknown> }) },
			policyName: 'robot-policy',
			logger: createLogger({ sink: () => {}, level: 'debug' }),
			lifetimeMs: 30 * 24 * 3600_000,
		});
	});
	after(() => {
		hsm?.close();
		token?.close();
		if (dir) rmSync(dir, { recursive: true, force: true });
	});
	beforeEach(() => void (sent.length = 0));

	const event = (who: DeviceIdentity, body: unknown, o: { thing?: string; clientId?: string } = {}) => ({
		request: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)).toString('base64'),
		thing: o.thing ?? who.thing,
		clientId: o.clientId ?? who.thing,
		principal: idOf(who.certDer),
	});

	it('issues from the company CA in the token for the same key, registered ACTIVE with the policy and attached; answered on accepted', async () => {
		const r = await handler(event(robot, { clientToken: 't1', csr: robotCsr(robot) }), ctx);
		assert.equal(r.status, 'issued');
		assert.equal(sent.length, 1);
		assert.equal(sent[0]!.topic, renewTopics('robot-r1').accepted);
		const body = sent[0]!.body as { clientToken: string; certificate: string; certificateId: string; notAfter: number };
		assert.equal(body.clientToken, 't1');
		const cert = new X509Certificate(Buffer.from(body.certificate, 'base64'));
		assert.equal(cert.subject, 'CN=robot-r1');
		assert.ok(cert.verify(new X509Certificate(factory.caPem).publicKey), 'signed by the token CA');
		const old = new X509Certificate(robot.certPem);
		assert.ok(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(old.publicKey.export({ type: 'spki', format: 'der' })), 'the same key');
		assert.equal(body.certificateId, idOf(cert.raw));
		assert.equal(body.notAfter, new Date(cert.validTo).getTime());
		const rec = registry.certificate(body.certificateId)!;
		assert.equal(rec.status, 'ACTIVE');
		assert.ok(rec.policies.has('robot-policy'));
		assert.ok(registry.thing('robot-r1')!.principals.has(rec.arn));
		assert.deepEqual(registry.admits(body.certificateId, 'robot-r1'), { ok: true });
		// the old one stays ACTIVE: the robot keeps it until it connected with the new one
		assert.equal(registry.certificate(idOf(robot.certDer))!.status, 'ACTIVE');
	});

	const refusals: [string, () => Record<string, unknown>, string, RegExp][] = [
		['a CSR for another thing', () => event(robot, { clientToken: 'x', csr: robotCsr(robot, 'robot-r2') }), 'bad_csr', /CN expected "robot-r1"/],
		['a CSR for another key', () => event(robot, { clientToken: 'x', csr: robotCsr(other, 'robot-r1') }), 'key_mismatch', /not the current certificate's/],
		['a topic naming another thing than the client', () => event(robot, { clientToken: 'x', csr: robotCsr(robot) }, { thing: 'robot-r2' }), 'thing_mismatch', /topic names "robot-r2"/],
		['a CSR whose signature does not verify', () => event(robot, { clientToken: 'x', csr: tamper(robotCsr(robot)) }), 'bad_csr', /signature does not verify|not a PKCS#10/],
		['a request that is not JSON', () => event(robot, 'csr please'), 'invalid_request', /not JSON/],
		['a request without a CSR', () => event(robot, { clientToken: 'x' }), 'invalid_request', /"csr" expected/],
	];
	for (const [name, make, code, reason] of refusals)
		it('refuses ' + name + ' (' + code + '), answered with the reason, nothing registered', async () => {
			const before = registry.calls.filter((c) => c.op === 'registerCertificate').length;
			const r = (await handler(make(), ctx)) as { status: string; code: string };
			assert.equal(r.status, 'refused');
			assert.equal(r.code, code);
			assert.equal(sent.length, 1);
			const thing = (make().thing as string) || 'robot-r1';
			assert.equal(sent[0]!.topic, renewTopics(thing).rejected);
			const err = sent[0]!.body.error as { code: string; message: string };
			assert.equal(err.code, code);
			assert.match(err.message, reason);
			assert.equal(registry.calls.filter((c) => c.op === 'registerCertificate').length, before);
		});

	it('refuses a robot whose current certificate is not ACTIVE (quarantined)', async () => {
		registry.setCertificateStatus(idOf(other.certDer), 'INACTIVE');
		const r = (await handler(event(other, { clientToken: 'q', csr: robotCsr(other) }), ctx)) as { code: string };
		assert.equal(r.code, 'certificate_not_active');
		assert.match((sent[0]!.body.error as { message: string }).message, /is INACTIVE/);
		registry.setCertificateStatus(idOf(other.certDer), 'ACTIVE');
	});
});

/** Flips one bit inside the signed part (the subject's CN), keeping the DER well formed. */
function tamper(b64: string): string {
	const der = Buffer.from(b64, 'base64');
	const at = der.indexOf(Buffer.from('robot-r1'));
	der[at + 7] = der[at + 7]! ^ 0x01;
	return der.toString('base64');
}
