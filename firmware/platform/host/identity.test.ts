/* The device identity (firmware/core/identity) on credentials the dev PKI issues, and readCredentials' refusal. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueDevice, writeDevice, type Ca, type DeviceIdentity } from '../../../cloud/local/dev-pki';
import { checkIdentity, loadIdentity, parseCertificate } from '../../core/identity/identity';
import { createMemoryStorage, readCredentials } from './index';

describe('device identity', function () {
	this.timeout(20_000);
	let ca: Ca;
	let a: DeviceIdentity;
	let b: DeviceIdentity;
	before(async () => {
		ca = await createCa('Identity Test CA');
		a = await issueDevice(ca, 'robot-ID0001', { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2050-06-01T12:00:00Z') });
		b = await issueDevice(ca, 'robot-ID0002');
	});

	it('parses the thing name from the CN, the validity (UTCTime and GeneralizedTime) and the serial', () => {
		const r = parseCertificate(a.certDer);
		assert.ok(r.ok);
		assert.equal(r.value.thing, 'robot-ID0001');
		assert.equal(r.value.notBefore, Date.parse('2026-01-01T00:00:00Z'));
		assert.equal(r.value.notAfter, Date.parse('2050-06-01T12:00:00Z'));
		assert.equal(r.value.serial, a.cert.serialNumber.toLowerCase());
	});

	it('accepts the matching key and refuses another key, a garbage certificate, and (with a clock) an expired one', () => {
		const good = checkIdentity(a.certDer, a.keyDer, Date.now());
		assert.ok(good.ok);
		assert.equal(good.value.thing, 'robot-ID0001');
		const wrong = checkIdentity(a.certDer, b.keyDer);
		assert.ok(!wrong.ok);
		assert.equal(wrong.error.code, 'mismatch');
		const garbage = checkIdentity(a.certDer.subarray(0, 100), a.keyDer);
		assert.ok(!garbage.ok);
		assert.equal(garbage.error.code, 'certificate');
		const badKey = checkIdentity(a.certDer, a.certDer);
		assert.ok(!badKey.ok && badKey.error.code === 'key');
		const late = checkIdentity(a.certDer, a.keyDer, Date.parse('2051-01-01T00:00:00Z'));
		assert.ok(!late.ok && late.error.code === 'expired');
		const early = checkIdentity(a.certDer, a.keyDer, Date.parse('2025-01-01T00:00:00Z'));
		assert.ok(!early.ok && early.error.code === 'not_yet_valid');
	});

	it('loads from storage', () => {
		const storage = createMemoryStorage();
		assert.equal(loadIdentity(storage).ok, false);
		storage.write('cert.der', b.certDer);
		storage.write('key.der', b.keyDer);
		const r = loadIdentity(storage);
		assert.ok(r.ok && r.value.thing === 'robot-ID0002');
	});

	it('readCredentials refuses to start with a key that does not match the certificate', async () => {
		const dir = mkdtempSync(join(tmpdir(), 'identity-'));
		try {
			const p = await writeDevice(dir, a);
			assert.equal(readCredentials(p.dir).key.length, a.keyDer.length);
			writeFileSync(p.keyDer, b.keyDer);
			assert.throws(() => readCredentials(p.dir), /mismatch: the private key does not match the certificate of robot-ID0001/);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});
