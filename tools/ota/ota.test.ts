// tools/ota signs firmware manifests with a code-signing key kept in a PKCS#11 token (SoftHSM2
// here), as tools/provision keeps the CA key; a PEM key is taken only behind --dev-key.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkJobDocument, PRODUCT } from '../../firmware/core/ota/document';
import { portableCodeSigning } from '../../firmware/platform/portable/code-signing';
import { keyAttributes, openHsm, CODE_SIGNING_KEY_ALG, ensureCaKeys, type Hsm } from '../provision/hsm';
import { createTestToken, SOFTHSM_MODULES, softHsmModule, type TestToken } from '../provision/softhsm';
import { cannotRun } from '../../test/support/skip';
import { createSigningIdentity, firmwareDocument, main, signManifest } from './ota';
import { derSignature, hsmSigner } from './signer';

describe('tools/ota: the code-signing key in a PKCS#11 token', function () {
	this.timeout(60_000);
	let token: TestToken;
	let dir: string;
	const run = async (...argv: string[]) => {
		const out: string[] = [];
		const err: string[] = [];
		const code = await main(
			argv,
			(l) => out.push(l),
			(l) => err.push(l),
		);
		return { code, out: out.join('\n'), err: err.join('\n') };
	};

	before(function () {
		if (!softHsmModule())
			cannotRun(this, {
				untested: 'firmware signing with the key in SoftHSM2 (tools/ota)',
				why: 'libsofthsm2.so not found in ' + SOFTHSM_MODULES.join(', '),
				install: 'sudo apt-get install -y softhsm2',
			});
		token = createTestToken('ota-signing', '2468');
		process.env['TEST_OTA_PIN'] = token.pin;
		dir = mkdtempSync(join(tmpdir(), 'ota-'));
	});
	after(() => {
		token?.close();
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	it('keygen makes the P-256 key inside the token (not extractable) and writes only its certificate', async () => {
		const r = await run('keygen', '--module', token.module, '--token', 'ota-signing', '--pin-env', 'TEST_OTA_PIN', '--out', dir);
		assert.equal(r.code, 0, r.err);
		assert.equal(JSON.parse(r.out).created, true);
		assert.ok(readFileSync(join(dir, 'signing-cert.der')).length > 100);
		assert.throws(() => readFileSync(join(dir, 'signing-key.pem')), /ENOENT/);
		const hsm = openHsm({ module: token.module, tokenLabel: 'ota-signing', pinEnv: 'TEST_OTA_PIN' });
		try {
			const keys = await ensureCaKeys(hsm, 'robot-firmware-signing', false, CODE_SIGNING_KEY_ALG);
			assert.deepEqual(keyAttributes(keys.privateKey), { extractable: false, sensitive: true, token: true });
			await assert.rejects(hsm.crypto.subtle.exportKey('pkcs8', keys.privateKey as never));
		} finally {
			hsm.close();
		}
	});

	it('a manifest signed in the token verifies on the robot with the certificate keygen wrote', async () => {
		const hsm: Hsm = openHsm({ module: token.module, tokenLabel: 'ota-signing', pinEnv: 'TEST_OTA_PIN' });
		try {
			const image = new Uint8Array(5000).map((_, i) => i & 255);
			const signed = await signManifest(image, { version: '2.3.4', counter: 7 }, await hsmSigner(hsm));
			const doc = { ...firmwareDocument(signed, 'firmware', 'firmware/2.3.4/robot.bin'), url: 'https://fw.example.com/firmware/2.3.4/robot.bin' };
			const certificate = new Uint8Array(readFileSync(join(dir, 'signing-cert.der')));
			const r = checkJobDocument(doc, { certificate, signing: portableCodeSigning, product: PRODUCT, sources: ['https://fw.example.com/firmware/'] });
			assert.ok(r.ok, JSON.stringify(r));
			assert.deepEqual([r.value.version, r.value.size, r.value.counter], ['2.3.4', 5000, 7]);
			// another key's signature does not pass for this certificate
			const other = await createSigningIdentity();
			const forged = await signManifest(image, { version: '2.3.4', counter: 7 }, { where: 'x', sign: async (d) => new Uint8Array((await import('node:crypto')).sign('sha256', d, other.keyPem)) });
			const refused = checkJobDocument({ ...doc, signature: forged.signature }, { certificate, signing: portableCodeSigning, product: PRODUCT, sources: ['https://fw.example.com/firmware/'] });
			assert.ok(!refused.ok && /manifest signature does not verify/.test(refused.error));
		} finally {
			hsm.close();
		}
	});

	it('publish refuses a PEM key unless it is named --dev-key, and a publish without any key', async () => {
		const pem = join(dir, 'dev.pem');
		writeFileSync(pem, (await createSigningIdentity()).keyPem);
		const withKey = await run('publish', '--key', pem, '--image', pem, '--version', '1.0.0', '--thing', 'robot-1', '--local');
		assert.equal(withKey.code, 2);
		assert.match(withKey.err, /--key \(a PEM file\) is refused: the code-signing key belongs in a PKCS#11 token/);
		const none = await run('publish', '--image', pem, '--version', '1.0.0', '--thing', 'robot-1', '--local');
		assert.equal(none.code, 2);
		assert.match(none.err, /--module and --token \(PKCS#11\), or --dev-key PEM \(development\)/);
	});

	it('encodes WebCrypto r||s signatures as DER', () => {
		const raw = new Uint8Array(64);
		raw[0] = 0x80;
		raw[63] = 1;
		const der = derSignature(raw);
		assert.deepEqual([...der.subarray(0, 4)], [0x30, der.length - 2, 0x02, 33]);
		assert.throws(() => derSignature(new Uint8Array(63)));
	});
});
