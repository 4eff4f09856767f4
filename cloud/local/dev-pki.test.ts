import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevPki, issueDevice } from './dev-pki';

describe('dev PKI', () => {
	let dir: string;
	before(async () => {
		dir = await mkdtemp(join(tmpdir(), 'dev-pki-test-'));
	});
	after(async () => {
		await rm(dir, { recursive: true, force: true });
	});

	it('writes the CA, the server and device identities in PEM and DER', async () => {
		const pki = await createDevPki(dir, { things: ['robot-1'] });
		const p = pki.paths.thing('robot-1');
		const ca = new X509Certificate(await readFile(pki.paths.caDer));
		const server = new X509Certificate(await readFile(pki.paths.serverCertPem));
		const device = new X509Certificate(await readFile(p.certDer));
		assert.equal(ca.ca, true);
		assert.equal(server.verify(ca.publicKey), true);
		assert.equal(device.verify(ca.publicKey), true);
		assert.match(server.subjectAltName ?? '', /DNS:localhost/);
		assert.match(server.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
		assert.equal(device.subject, 'CN=robot-1');
		assert.deepEqual(device.keyUsage, ['1.3.6.1.5.5.7.3.2']);
		assert.ok(new Date(device.validFrom).getTime() < Date.now() - 5_000, 'notBefore in the past');
		assert.ok(/^[0-7]/.test(device.serialNumber), 'positive serial');
		const key = createPrivateKey({ key: await readFile(p.keyDer), format: 'der', type: 'pkcs8' });
		assert.equal(key.asymmetricKeyType, 'rsa');
		assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
		assert.deepEqual(await readFile(p.caDer), await readFile(pki.paths.caDer));
	});

	it('reuses the CA and valid certificates on a second run, and replaces them with force', async () => {
		const caPem = await readFile(join(dir, 'ca', 'ca.pem'), 'utf8');
		const devPem = await readFile(join(dir, 'things', 'robot-1', 'cert.pem'), 'utf8');
		const again = await createDevPki(dir, { things: ['robot-1', 'robot-2'] });
		assert.equal(again.ca.certPem, caPem);
		assert.equal(again.things.get('robot-1')?.certPem, devPem);
		const forced = await createDevPki(dir, { things: ['robot-1'], force: true });
		assert.notEqual(forced.ca.certPem, caPem);
		assert.notEqual(forced.things.get('robot-1')?.certPem, devPem);
	});

	it('issues an expired device certificate on request, and refuses bad input', async () => {
		const pki = await createDevPki(dir);
		const old = await issueDevice(pki, 'robot-3', { notBefore: new Date(0), notAfter: new Date(1000) });
		assert.equal(new Date(new X509Certificate(old.certDer).validTo).getTime(), 1000);
		await assert.rejects(issueDevice(pki, 'robots/+'), RangeError);
		await assert.rejects(issueDevice(pki, 'x', { notBefore: new Date(2000), notAfter: new Date(1000) }), RangeError);
	});
});
