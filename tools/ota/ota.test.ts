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

/** The CLI in this process: its exit code and what it printed on stdout and stderr. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
	const out: string[] = [];
	const err: string[] = [];
	const code = await main(
		argv,
		(l) => out.push(l),
		(l) => err.push(l),
	);
	return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('tools/ota: the code-signing key in a PKCS#11 token', function () {
	this.timeout(60_000);
	let token: TestToken;
	let dir: string;

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

describe('tools/ota stage: bad arguments are refused before anything is created (exit 2)', () => {
	// a plan that would pass, to break one option at a time; no cloud listens on port 9 and nothing reaches it
	const good = [
		'stage',
		'--dev-key',
		'unused.pem',
		'--image',
		'unused.bin',
		'--version',
		'2.0.0',
		'--name',
		'fw-2',
		'--canary',
		'robot-1',
		'--rest',
		'robot-2',
		'--failure-percent',
		'20',
		'--local',
		'--iot',
		'http://127.0.0.1:9',
		'--s3',
		'http://127.0.0.1:9',
	];
	const without = (name: string, n = 1) => {
		const i = good.indexOf(name);
		return [...good.slice(0, i), ...good.slice(i + 1 + n)];
	};
	for (const [what, argv, message] of [
		['no --name', without('--name'), /stage needs --name N, --canary THING\.\.\., --rest THING\.\.\. and --failure-percent P/],
		['no --failure-percent', without('--failure-percent'), /stage needs --name N/],
		['no canary', without('--canary'), /--canary and --rest expected at least one robot each/],
		['no rest', without('--rest'), /--canary and --rest expected at least one robot each/],
		['a robot in both', [...good, '--rest', 'robot-1'], /a robot is in both --canary and --rest: robot-1/],
		['a name AWS would refuse', [...without('--name'), '--name', 'fw 2'], /--name expected 1-50 of \[a-zA-Z0-9_-\], got "fw 2"/],
		['a failure threshold over 100', [...without('--failure-percent'), '--failure-percent', '150'], /--failure-percent expected 0-100 with at most two decimals, got 150/],
		['a failure threshold that is not a number', [...without('--failure-percent'), '--failure-percent', 'ten'], /--failure-percent expected a number >= 0, got "ten"/],
		['a minimum of 0 finished', [...good, '--canary-min', '0'], /--canary-min expected an integer >= 1, got "0"/],
		['a rate factor AWS would refuse', [...good, '--rate-factor', '7'], /--rate-factor expected 1.1-5 with one decimal, got 7/],
		['no signing key', without('--dev-key'), /stage needs the signing key: --module and --token \(PKCS#11\), or --dev-key PEM \(development\)/],
		['both clouds', [...good, '--aws'], /stage needs one of --local and --aws/],
		['--thing instead of groups', [...good, '--thing', 'robot-3'], /stage takes --canary and --rest \(not --thing\)/],
		['an unknown option', [...good, '--canaries', 'robot-3'], /Unknown option '--canaries'/],
		['an unknown command', ['rollout', ...good.slice(1)], /unknown command "rollout": expected keygen, publish or stage/],
	] as const) {
		it(what, async () => {
			const r = await run(...argv);
			assert.equal(r.code, 2, r.err);
			assert.match(r.err, message);
			assert.match(r.err, /tools\/ota\/ota\.ts stage KEY RELEASE/);
			assert.equal(r.out, '', 'no result line');
		});
	}
});
