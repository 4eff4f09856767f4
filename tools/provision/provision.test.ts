/* Factory provisioning against SoftHSM2: the CA key in the token, CSR checks, issuance, record. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { GetRegistrationCodeCommand, IoTClient, RegisterCACertificateCommand } from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { startLocalCloud } from '../../cloud/local/index';
import { createMemoryStorage, hostPorts, memoryLog, readCredentials } from '../../firmware/platform/host/index';
import { Link } from '../../firmware/core/link/link';
import { registerCaLocally, registerCaWithAws } from '../register-ca/register-ca';
import { BoardFormError, linPreferences, linValue, mergeLinPreferences, nvsCsv, parseNvsCsv, readLinPreferences } from './board';
import { ensureCaKeys, keyAttributes, openHsm, type Hsm } from './hsm';
import { checkCsr, openProvisioner, provisionBatch, provisionOne, ProvisionError, simulatorCsr, thingName, type Provisioner } from './provision';
import { createTestToken, SOFTHSM_MODULES, softHsmModule, type TestToken } from './softhsm';
import { cannotRun } from '../../test/support/skip';
import { createCa, issueDevice } from '../../cloud/local/dev-pki';

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]) };

async function csrWith(cn: string, keys: webcrypto.CryptoKeyPair, alg: object = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, extensions: x509.Extension[] = []): Promise<string> {
	return (await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ CN: [cn] }], keys, signingAlgorithm: alg, extensions }, webcrypto)).toString('pem');
}

const rsaKeys = async (bits: number) => (await webcrypto.subtle.generateKey({ ...RSA, modulusLength: bits }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;

describe('tools/provision with SoftHSM2', function () {
	this.timeout(60_000);
	let token: TestToken;
	let hsm: Hsm;
	let dir: string;
	let p: Provisioner;
	let robotKeys: webcrypto.CryptoKeyPair;

	before(async function () {
		// under CI=true a missing SoftHSM2 fails with the install command; elsewhere one loud line
		if (!softHsmModule())
			cannotRun(this, {
				untested: 'factory provisioning with the CA key in SoftHSM2 (tools/provision)',
				why: 'libsofthsm2.so not found in ' + SOFTHSM_MODULES.join(', '),
				install: 'sudo apt-get install -y softhsm2',
			});
		token = createTestToken('factory-ca', '4321');
		process.env['TEST_PROVISION_PIN'] = token.pin;
		hsm = openHsm({ module: token.module, tokenLabel: 'factory-ca', pinEnv: 'TEST_PROVISION_PIN' });
		dir = mkdtempSync(join(tmpdir(), 'provision-'));
		p = await openProvisioner(hsm, { dir });
		robotKeys = await rsaKeys(2048);
	});
	after(() => {
		hsm?.close();
		token?.close();
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	it('creates the CA key inside the token: a token object, sensitive, CKA_EXTRACTABLE false, export refused', async () => {
		const keys = await ensureCaKeys(hsm, 'robot-ca');
		assert.equal(keys.created, false, 'openProvisioner made it; this call finds it');
		assert.deepEqual(keyAttributes(keys.privateKey), { extractable: false, sensitive: true, token: true });
		await assert.rejects(hsm.crypto.subtle.exportKey('pkcs8', keys.privateKey as never));
		await assert.rejects(hsm.crypto.subtle.exportKey('jwk', keys.privateKey as never));
		assert.ok(p.caCert.subject.includes('Robot Company CA'));
		assert.ok(await p.caCert.verify({ signatureOnly: true }, webcrypto), 'self-signed in the token');
	});

	it('has no code path that exports a key from the token: only the public key (spki) is read from it', () => {
		for (const f of ['hsm.ts', 'provision.ts', 'cli.ts'].filter((f) => existsSync(join(import.meta.dirname, f)))) {
			const src = readFileSync(join(import.meta.dirname, f), 'utf8').replace(/^\s*\/\/.*$/gm, '');
			assert.doesNotMatch(src, /wrapKey|keyStorage\.(setItem|removeItem)|C_WrapKey|getAttribute\(\s*['"]value/i, f);
			for (const m of src.matchAll(/hsm\.crypto\.subtle\.exportKey\(\s*'(\w+)'/g)) assert.equal(m[1], 'spki', f);
			assert.doesNotMatch(src, /crypto\.subtle\.exportKey\(\s*'pkcs8'\s*,\s*(keys\.privateKey|p\.caKey|caKey)/, f);
		}
	});

	it('issues certificates that `openssl verify` accepts against the CA, with CN, clientAuth, key usage and unique serials', async () => {
		const result = await provisionBatch(p, [{ serial: 'SIM0001' }, { serial: 'SIM0002' }, { serial: 'SIM0003', csr: await csrWith('robot-SIM0003', robotKeys) }]);
		assert.equal(result.issued.length, 3);
		assert.deepEqual(result.failed, []);
		const caPem = join(dir, 'ca', 'ca.pem');
		const serials = new Set<string>();
		for (const r of result.issued) {
			const certPem = join(r.bundleDir, 'cert.pem');
			const out = execFileSync('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', caPem, certPem], { encoding: 'utf8' });
			assert.match(out, /: OK/);
			const text = execFileSync('openssl', ['x509', '-in', certPem, '-noout', '-text'], { encoding: 'utf8' });
			assert.match(text, new RegExp('Subject: CN\\s?=\\s?' + r.thing));
			assert.match(text, /TLS Web Client Authentication/);
			assert.match(text, /Digital Signature, Key Encipherment/);
			assert.match(text, /CA:FALSE/);
			serials.add(r.record.certSerial);
			// the board's forms are data for its Preference "cred": the CSV and the lin fragment hold the bundle's DER
			const nvs = parseNvsCsv(readFileSync(join(r.bundleDir, 'board', 'nvs.csv'), 'utf8')).get('cred');
			assert.deepEqual(nvs?.get('cert'), new Uint8Array(readFileSync(join(r.bundleDir, 'cert.der'))));
			assert.deepEqual(nvs?.get('ca'), p.caDer);
			const lin = (await readLinPreferences(join(r.bundleDir, 'board', 'modpreferences.json')))['cred'];
			assert.deepEqual(linValue(lin!['cert']!), nvs?.get('cert'));
			assert.equal(nvs?.has('key'), existsSync(join(r.bundleDir, 'key.der')));
		}
		assert.equal(serials.size, 3);
		// the simulator's bundle has its key; a board's (CSR given, key on the robot) does not
		assert.ok(existsSync(join(dir, 'things', 'robot-SIM0001', 'key.der')));
		assert.ok(!existsSync(join(dir, 'things', 'robot-SIM0003', 'key.der')));
		const lines = readFileSync(join(dir, 'issued.jsonl'), 'utf8').trim().split('\n');
		assert.deepEqual(
			lines.map((l) => JSON.parse(l).thing),
			['robot-SIM0001', 'robot-SIM0002', 'robot-SIM0003'],
		);
	});

	it('refuses a duplicate thing name, and a re-run of a batch skips what is done', async () => {
		await assert.rejects(provisionOne(p, { serial: 'SIM0001' }), (e: Error) => e instanceof ProvisionError && /duplicate thing name/.test(e.message));
		await assert.rejects(provisionBatch(p, [{ serial: 'SIM0009' }, { serial: 'SIM0009' }]), /duplicate thing name/);
		const again = await provisionBatch(p, [{ serial: 'SIM0001' }, { serial: 'SIM0002' }, { serial: 'SIM0004' }]);
		assert.deepEqual(again.skipped, ['SIM0001', 'SIM0002']);
		assert.deepEqual(
			again.issued.map((r) => r.thing),
			['robot-SIM0004'],
		);
		// a board re-run with its own CSR is skipped; a CSR of another key for the same thing is refused
		const same = await provisionBatch(p, [{ serial: 'SIM0003', csr: await csrWith('robot-SIM0003', robotKeys) }]);
		assert.deepEqual(same.skipped, ['SIM0003']);
		const other = await provisionBatch(p, [{ serial: 'SIM0003', csr: await csrWith('robot-SIM0003', await rsaKeys(2048)) }]);
		assert.deepEqual(other.skipped, []);
		assert.match(other.failed[0]?.error ?? '', /duplicate thing name/);
		// reopening finds the same CA key and certificate, and the record
		const reopened = await openProvisioner(hsm, { dir });
		assert.equal(reopened.caPem, p.caPem);
		assert.equal(reopened.issued.size, 4);
		// DIR's CA certificate is never replaced by a new key: a label the token lacks is refused, nothing made
		await assert.rejects(openProvisioner(hsm, { dir, keyLabel: 'another-ca' }), /ca\.pem exists but the token has no key pair labelled "another-ca"/);
		const labels = await Promise.all((await hsm.crypto.keyStorage.keys()).map(async (k) => ((await hsm.crypto.keyStorage.getItem(k)) as unknown as { algorithm: { label: string } }).algorithm.label));
		assert.deepEqual([...new Set(labels)], ['robot-ca']);
	});

	describe('refuses a bad CSR with a clear error, issuing and recording nothing', () => {
		const cases: [string, () => Promise<string>, RegExp][] = [
			[
				'a bad signature',
				async () => {
					const der = new Uint8Array(new x509.Pkcs10CertificateRequest(await csrWith('robot-BAD0001', robotKeys)).rawData);
					der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 1;
					return x509.PemConverter.encode(der, 'CERTIFICATE REQUEST');
				},
				/signature does not verify/,
			],
			[
				'an EC key',
				async () =>
					csrWith('robot-BAD0001', (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair, {
						name: 'ECDSA',
						hash: 'SHA-256',
					}),
				/expected RSA, got ec/,
			],
			['a 1024-bit key', async () => csrWith('robot-BAD0001', await rsaKeys(1024)), /expected RSA-2048, got 1024 bits/],
			['a CN that differs from the serial', async () => csrWith('robot-OTHER01', robotKeys), /CN expected "robot-BAD0001" \(from the serial\), got "robot-OTHER01"/],
			['control characters in the subject', async () => csrWith('robot-BAD0001\n', robotKeys), /control characters/],
			// the review: these were signed with the CA's fixed extensions as if not asked
			['a request for CA:TRUE', async () => csrWith('robot-BAD0001', robotKeys, undefined, [new x509.BasicConstraintsExtension(true, 0, true)]), /asks for CA:TRUE \(basicConstraints\); a robot certificate is never a CA/],
			[
				'a request for a subjectAltName',
				async () => csrWith('robot-BAD0001', robotKeys, undefined, [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'broker.example' }])]),
				/asks for a subjectAltName \(dns:broker.example\)/,
			],
		];
		for (const [what, make, message] of cases) {
			it(what, async () => {
				const before = readFileSync(join(dir, 'issued.jsonl'), 'utf8');
				const csr = await make();
				await assert.rejects(checkCsr(csr, 'BAD0001'), (e: Error) => e instanceof ProvisionError && message.test(e.message));
				await assert.rejects(provisionOne(p, { serial: 'BAD0001', csr }), message);
				const batch = await provisionBatch(p, [{ serial: 'BAD0001', csr }]);
				assert.equal(batch.issued.length, 0);
				assert.match(batch.failed[0]?.error ?? '', message);
				assert.equal(readFileSync(join(dir, 'issued.jsonl'), 'utf8'), before, 'nothing recorded');
				assert.ok(!readdirSync(join(dir, 'things')).includes('robot-BAD0001'), 'nothing written');
			});
		}
	});

	it('derives the thing name from a well-formed serial only', async () => {
		assert.equal(thingName('AB12CD34'), 'robot-AB12CD34');
		assert.throws(() => thingName('ab/../x'), ProvisionError);
		const { csrPem } = await simulatorCsr('SIM0100', robotKeys);
		assert.equal((await checkCsr(csrPem, 'SIM0100')).thing, 'robot-SIM0100');
	});

	it('register-ca: AWS IoT gets the CA and a verification certificate (CN = registration code) signed in the token', async () => {
		const iot = mockClient(IoTClient);
		let input: { caCertificate?: string; verificationCertificate?: string; setAsActive?: boolean } = {};
		iot.on(GetRegistrationCodeCommand).resolves({ registrationCode: 'a1b2c3d4e5' });
		iot.on(RegisterCACertificateCommand).callsFake((i) => {
			input = i;
			return { certificateId: 'ca-id', certificateArn: 'arn:aws:iot:eu-west-1:123456789012:cacert/ca-id' };
		});
		try {
			const r = await registerCaWithAws(new IoTClient({ region: 'eu-west-1' }), p);
			assert.equal(r.certificateId, 'ca-id');
			assert.equal(input.caCertificate, p.caPem);
			assert.equal(input.setAsActive, true);
			const v = new x509.X509Certificate(input.verificationCertificate ?? '');
			assert.equal(v.subject, 'CN=a1b2c3d4e5');
			assert.ok(await v.verify({ publicKey: p.caCert.publicKey, signatureOnly: true }, webcrypto));
		} finally {
			iot.restore();
		}
	});

	it('a provisioned simulator robot connects to cloud/local with its new identity once the CA and the certificate are registered there', async () => {
		const cloudDir = mkdtempSync(join(tmpdir(), 'provision-cloud-'));
		const cloud = await startLocalCloud({ dataDir: cloudDir, inMemory: true });
		let link: Link | undefined;
		try {
			// the bundle's ca.der is the broker's trust anchor: here the local cloud's dev CA
			const factory = await openProvisioner(hsm, { dir: join(dir, 'local'), serverCa: cloud.pki.ca.certPem });
			const [robot] = (await provisionBatch(factory, [{ serial: 'LOCAL0001' }])).issued;
			assert.ok(robot);
			await registerCaLocally(cloudDir, factory.caPem);
			await cloud.stopBroker();
			await cloud.startBroker();
			const tls = readCredentials(robot.bundleDir); // checks that key and certificate match
			// a certificate of a trusted CA is not enough: as on AWS IoT it must be registered, ACTIVE and
			// attached to its thing (what the registration worker does on first boot)
			const registry = cloud.registration.registry;
			const certPem = readFileSync(join(robot.bundleDir, 'cert.pem'), 'utf8');
			const id = createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex');
			assert.deepEqual(registry.admits(id, robot.thing), { ok: false, reason: 'certificate not registered' });
			registry.registerCa(factory.caPem);
			const { certificateArn } = await registry.registerCertificate(certPem, factory.caPem);
			await registry.createThing(robot.thing);
			await registry.attachThingPrincipal(robot.thing, certificateArn);
			const [host, port] = new URL(cloud.endpoints.mqtt.replace(/^mqtts?:/, 'http:')).host.split(':');
			link = new Link(hostPorts(createMemoryStorage(), memoryLog()), {
				endpoint: { host: host!, port: Number(port), tls: { ...tls, serverName: 'localhost' } },
				clientId: robot.thing,
				keepAlive: 30,
				connectTimeoutMs: 5000,
			});
			link.start();
			const t0 = Date.now();
			while (!cloud.broker.connectedThings().includes('robot-LOCAL0001')) {
				if (Date.now() - t0 > 8000) throw new Error('robot did not connect: ' + link.state.value);
				await new Promise((r) => setTimeout(r, 20));
			}
			assert.equal(link.state.value, 'connected');
		} finally {
			link?.stop();
			await cloud.close();
			rmSync(cloudDir, { recursive: true, force: true });
		}
	});
});

describe('tools/provision board forms: credentials as Preference data (NVS CSV for ESP32, modpreferences.json for lin)', () => {
	let creds: { ca: Uint8Array; cert: Uint8Array; key: Uint8Array };
	let dir: string;
	before(async () => {
		const ca = await createCa('Board Form CA');
		const device = await issueDevice(ca, 'robot-BOARD001');
		creds = { ca: ca.certDer, cert: device.certDer, key: device.keyDer };
		dir = mkdtempSync(join(tmpdir(), 'board-form-'));
	});
	after(() => rmSync(dir, { recursive: true, force: true }));

	it('writes the CSV nvs_partition_gen.py takes: header, namespace cred, one hex2bin blob per key, no spaces', () => {
		const csv = nvsCsv(creds);
		const lines = csv.trimEnd().split('\n');
		assert.deepEqual(lines.slice(0, 2), ['key,type,encoding,value', 'cred,namespace,,']);
		assert.deepEqual(
			lines.slice(2).map((l) => l.split(',').slice(0, 3).join(',')),
			['ca,data,hex2bin', 'cert,data,hex2bin', 'key,data,hex2bin'],
		);
		assert.ok(!/ /.test(csv));
	});

	it('the CSV parses back to the DER bytes', () => {
		const back = parseNvsCsv(nvsCsv(creds));
		assert.deepEqual([...back.keys()], ['cred']);
		assert.deepEqual(Object.fromEntries(back.get('cred')!), creds);
		// a robot that made its own key gets ca and cert only
		assert.deepEqual(
			[
				...parseNvsCsv(nvsCsv({ ca: creds.ca, cert: creds.cert }))
					.get('cred')!
					.keys(),
			],
			['ca', 'cert'],
		);
	});

	it("the lin form round-trips through the Preference file, next to the robot's own domain, which it keeps", async () => {
		const file = join(dir, 'modpreferences.json');
		// what lin preference.js wrote for the robot: a string and a buffer
		writeFileSync(file, JSON.stringify({ robot: { 'mis.n': '7', 'ob.1': { buffer: '1,2,3' } }, cred: { stale: 'x' } }));
		await mergeLinPreferences(file, linPreferences(creds));
		const prefs = await readLinPreferences(file);
		assert.deepEqual(prefs['robot'], { 'mis.n': '7', 'ob.1': { buffer: '1,2,3' } });
		assert.deepEqual(Object.keys(prefs['cred']!), ['ca', 'cert', 'key'], 'the domain is replaced whole');
		for (const k of ['ca', 'cert', 'key'] as const) assert.deepEqual(linValue(prefs['cred']![k]!), creds[k]);
		assert.equal(statSync(file).mode & 0o777, 0o600);
		// a second domain (another identity) beside the first
		await mergeLinPreferences(file, linPreferences({ ca: creds.ca, cert: creds.cert }, 'rogue'));
		assert.deepEqual(Object.keys(await readLinPreferences(file)), ['robot', 'cred', 'rogue']);
	});

	it('refuses bad input with a clear error and changes nothing', async () => {
		assert.throws(
			() => nvsCsv({ ...creds, cert: new TextEncoder().encode('-----BEGIN CERTIFICATE-----') }),
			(e: Error) => e instanceof BoardFormError && /"cert" expected DER .*PEM\? give DER/.test(e.message),
		);
		assert.throws(() => nvsCsv({ ...creds, key: creds.key.subarray(0, 100) }), /"key" expected one DER element of 100 bytes/);
		assert.throws(() => nvsCsv(creds, 'credentials-of-robot'), /namespace expected 1-15 characters/);
		assert.throws(() => parseNvsCsv('key,type,encoding,value\nca,data,hex2bin,3000\n'), /first entry must be a namespace/);
		assert.throws(() => parseNvsCsv('key,type,encoding,value\ncred,namespace,,\nca,data,string,x\n'), /expected data,hex2bin/);
		assert.throws(() => parseNvsCsv('key,type,encoding,value\ncred,namespace,,\nca,data,hex2bin,300\n'), /even number of hex digits/);
		const file = join(dir, 'not-prefs.json');
		writeFileSync(file, '[1,2]');
		await assert.rejects(mergeLinPreferences(file, linPreferences(creds)), (e: Error) => e instanceof BoardFormError && /not a lin Preference file, left as it is/.test(e.message));
		assert.equal(readFileSync(file, 'utf8'), '[1,2]');
		await assert.rejects(mergeLinPreferences(file, { cred: { ca: { buffer: '1,2,999' } } }), /over 255/);
	});
});
