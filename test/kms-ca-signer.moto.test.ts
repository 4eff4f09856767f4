/*
 * The CA key in KMS (cloud/lib/kms-ca-signer.ts) against moto_server's KMS, which implements
 * CreateKey (RSA_2048, SIGN_VERIFY), GetPublicKey and Sign with real RSA (the local cloud's KMS
 * has symmetric keys only): a robot certificate issued by issueCertificate through KMS Sign
 * verifies with the CA certificate's public key, and a key that is not the CA's is refused
 * before anything is signed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { CreateKeyCommand, GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateThingCommand, IoTClient } from '@aws-sdk/client-iot';
import { awsRenewRegistry } from '../cloud/functions/cert-renew/registry';
import { kmsIssuer } from '../cloud/lib/kms-ca-signer';
import { issueCertificate } from '../cloud/lib/robot-certificate';
import { cannotRun } from './support/skip';

const MOTO_INSTALL = "pip install 'moto[server]==5.2.1'";
const ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

async function startMoto(): Promise<{ endpoint: string; stop(): void } | undefined> {
	if (spawnSync('moto_server', ['--help'], { stdio: 'ignore' }).error) return undefined;
	const port = await new Promise<number>((resolve, reject) => {
		const srv = createServer();
		srv.once('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address() as AddressInfo;
			srv.close(() => resolve(port));
		});
	});
	const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
	let err = '';
	child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
	const endpoint = 'http://127.0.0.1:' + port;
	for (let i = 0; ; i++) {
		if (child.exitCode !== null) throw new Error('moto_server exited ' + child.exitCode + ':\n' + err);
		if (
			await fetch(endpoint + '/moto-api/').then(
				(r) => r.ok,
				() => false,
			)
		)
			break;
		if (i > 150) {
			child.kill('SIGTERM');
			throw new Error('moto_server did not answer within 30 s:\n' + err);
		}
		await new Promise((r) => setTimeout(r, 200));
	}
	return { endpoint, stop: () => void child.kill('SIGTERM') };
}

/** A CA certificate for `spki` (the KMS key's public half), signed by a throwaway key: the issuer only compares public keys. */
async function caCertFor(spki: Uint8Array): Promise<x509.X509Certificate> {
	const throwaway = await webcrypto.subtle.generateKey({ ...ALG, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, true, ['sign', 'verify']);
	const publicKey = await webcrypto.subtle.importKey('spki', spki, ALG, true, ['verify']);
	return x509.X509CertificateGenerator.create({
		serialNumber: '01',
		subject: 'CN=Robot CA (KMS)',
		issuer: 'CN=Robot CA (KMS)',
		notBefore: new Date(Date.now() - 60_000),
		notAfter: new Date(Date.now() + 86_400_000),
		publicKey,
		signingKey: throwaway.privateKey,
		signingAlgorithm: ALG,
		extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
	});
}

describe('the CA key in KMS (kms-ca-signer) against moto_server', function () {
	this.timeout(60_000);
	let moto: { endpoint: string; stop(): void } | undefined;
	let kms: KMSClient;
	before(async function () {
		moto = await startMoto();
		if (!moto) cannotRun(this, { untested: 'certificate signing with the CA key in KMS', why: 'moto_server is not on PATH', install: MOTO_INSTALL });
		kms = new KMSClient({ region: 'eu-west-1', endpoint: moto!.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
	});
	after(() => moto?.stop());

	const newKey = async () => {
		const k = await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Description: 'robot CA' }));
		const pub = await kms.send(new GetPublicKeyCommand({ KeyId: k.KeyMetadata!.KeyId! }));
		return { id: k.KeyMetadata!.Arn!, spki: pub.PublicKey! };
	};

	it('issues a robot certificate whose signature verifies with the CA certificate', async () => {
		const key = await newKey();
		const caCert = await caCertFor(key.spki);
		const issuer = await kmsIssuer(kms, key.id, caCert);
		const robot = await webcrypto.subtle.generateKey({ ...ALG, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, true, ['sign', 'verify']);
		const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', robot.publicKey));
		const cert = await issueCertificate(issuer, 'robot-7', new x509.PublicKey(spki), undefined, 365 * 86_400_000);
		assert.equal(cert.subject, 'CN=robot-7');
		assert.equal(cert.issuer, caCert.subject);
		assert.equal(await cert.verify({ publicKey: caCert.publicKey, signatureOnly: true }, webcrypto), true);
		// and not with another key: the signature is the CA key's
		const other = await caCertFor((await newKey()).spki);
		assert.equal(await cert.verify({ publicKey: other.publicKey, signatureOnly: true }, webcrypto), false);
	});

	it("refuses a KMS key that is not the CA certificate's, and a key that cannot sign", async () => {
		const [a, b] = [await newKey(), await newKey()];
		await assert.rejects(kmsIssuer(kms, a.id, await caCertFor(b.spki)), /is not the key of the CA certificate/);
		const sym = await kms.send(new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' }));
		await assert.rejects(kmsIssuer(kms, sym.KeyMetadata!.KeyId!, await caCertFor(a.spki)), /must be an RSA SIGN_VERIFY key|UnsupportedOperation|InvalidKeyUsage/);
		await assert.rejects(kmsIssuer(kms, '', await caCertFor(a.spki)), /"keyId" expected/);
	});

	it("the renewal registry on AWS IoT (awsRenewRegistry): a registered certificate described with its PEM and ARN, the thing's principals listed, an unknown one undefined", async () => {
		const iot = new IoTClient({ region: 'eu-west-1', endpoint: moto!.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
		const key = await newKey();
		const caCert = await caCertFor(key.spki);
		const issuer = await kmsIssuer(kms, key.id, caCert);
		const robot = await webcrypto.subtle.generateKey({ ...ALG, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, true, ['sign', 'verify']);
		const cert = await issueCertificate(issuer, 'robot-8', new x509.PublicKey(new Uint8Array(await webcrypto.subtle.exportKey('spki', robot.publicKey))));
		const registry = awsRenewRegistry(iot);
		await iot.send(new CreateThingCommand({ thingName: 'robot-8' }));
		const r = await registry.registerCertificate(cert.toString('pem'), caCert.toString('pem'));
		await registry.attachThingPrincipal('robot-8', r.certificateArn);
		const d = await registry.describeCertificate(r.certificateId);
		assert.equal(d?.status, 'ACTIVE');
		assert.equal(d?.arn, r.certificateArn);
		assert.equal(new x509.X509Certificate(d!.pem).subject, 'CN=robot-8');
		assert.deepEqual(await registry.thingPrincipals('robot-8'), [r.certificateArn]);
		assert.equal(await registry.describeCertificate('f'.repeat(64)), undefined);
	});
});
