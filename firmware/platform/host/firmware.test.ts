import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSigningIdentity, signImage } from '../../../cloud/ota/publish';
import { createFileSlots, hostCodeSigning } from './firmware';

describe('host firmware ports', () => {
	let dir: string;
	beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'slots-'))));
	afterEach(() => rmSync(dir, { recursive: true, force: true }));

	it('writes durably: a new instance (a power cycle) sees the bytes written', () => {
		const a = createFileSlots(dir, { factoryVersion: '1.0.0' });
		assert.deepEqual(a.running(), { version: '1.0.0', valid: true });
		assert.deepEqual(a.begin('1.1.0', 10), { ok: true });
		assert.deepEqual(a.write(0, new Uint8Array([1, 2, 3, 4])), { ok: true });
		assert.equal(a.write(2, new Uint8Array([9])).ok, false, 'writes are sequential');
		const b = createFileSlots(dir, { factoryVersion: '1.0.0' });
		assert.deepEqual(b.written(), { version: '1.1.0', size: 10, bytes: 4 });
		assert.deepEqual(b.write(4, new Uint8Array(6).fill(7)), { ok: true });
		assert.equal(b.write(10, new Uint8Array(1)).ok, false, 'not past the size');
		assert.deepEqual(b.read(2, 4), new Uint8Array([3, 4, 7, 7]));
	});

	it('boots an activated image on probation, keeps it when marked valid, abandons it otherwise', () => {
		let reboots = 0;
		const a = createFileSlots(dir, { factoryVersion: '1.0.0', onReboot: () => reboots++ });
		a.begin('1.1.0', 2);
		a.write(0, new Uint8Array(2));
		assert.deepEqual(a.activate(), { ok: true });
		a.reboot();
		assert.equal(reboots, 1);
		const b = createFileSlots(dir, { factoryVersion: '1.0.0' });
		assert.deepEqual(b.running(), { version: '1.1.0', valid: false });
		assert.deepEqual(b.previous(), { version: '1.0.0', valid: true });
		// no markValid: the next boot goes back
		const c = createFileSlots(dir, { factoryVersion: '1.0.0' });
		assert.deepEqual(c.running(), { version: '1.0.0', valid: true });
		// again, this time marked valid
		c.begin('1.2.0', 1);
		c.write(0, new Uint8Array(1));
		c.activate();
		const d = createFileSlots(dir, { factoryVersion: '1.0.0' });
		d.markValid();
		assert.deepEqual(createFileSlots(dir, { factoryVersion: '1.0.0' }).running(), { version: '1.2.0', valid: true });
		// an explicit rollback
		assert.deepEqual(d.rollback(), { ok: true });
		assert.deepEqual(createFileSlots(dir, { factoryVersion: '1.0.0' }).running(), { version: '1.0.0', valid: true });
	});

	it('verifies a tools/ota signature against the code-signing certificate', async () => {
		const id = await createSigningIdentity();
		const image = crypto.randomBytes(100_000);
		const signed = signImage(image, id.keyPem);
		const h = hostCodeSigning.sha256();
		for (let i = 0; i < image.length; i += 4096) h.update(image.subarray(i, i + 4096));
		const digest = h.digest();
		assert.equal(Buffer.from(digest).toString('hex'), signed.sha256);
		assert.equal(hostCodeSigning.verifyP256Sha256(id.certificateDer, digest, Buffer.from(signed.signature, 'base64')), true);
		const other = await createSigningIdentity();
		assert.equal(hostCodeSigning.verifyP256Sha256(other.certificateDer, digest, Buffer.from(signed.signature, 'base64')), false);
		assert.equal(hostCodeSigning.verifyP256Sha256(new Uint8Array(10), digest, Buffer.from(signed.signature, 'base64')), false);
		assert.throws(() => signImage(image, crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey), /P-256/);
	});
});
