// Registers the company CA (tools/provision, key in the HSM) with AWS IoT and with cloud/local.
//
// AWS IoT: GetRegistrationCode, then a verification certificate whose CN is that code, signed
// by the CA key inside the token (proof of possession), then RegisterCACertificate.
// cloud/local: the CA's PEM goes to DATADIR/pki/registered-cas/, which the local broker trusts
// from its next start (startLocalCloud, or LocalCloud.stopBroker() + startBroker()).
import { createHash, webcrypto } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { GetRegistrationCodeCommand, RegisterCACertificateCommand, type IoTClient } from '@aws-sdk/client-iot';
import { REGISTERED_CAS_DIR } from '../../cloud/local/index';
import type { Provisioner } from '../provision/provision';

const SIGN_ALG = Object.freeze({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' });

export interface AwsRegistration {
	readonly certificateId: string;
	readonly certificateArn: string;
	readonly registrationCode: string;
	readonly verificationPem: string;
}

/** The verification certificate: CN = registration code, issued by the CA with its key in the token. */
export async function verificationCertificate(p: Pick<Provisioner, 'caCert' | 'caKey' | 'hsm'>, registrationCode: string): Promise<x509.X509Certificate> {
	if (!/^[A-Za-z0-9]{1,64}$/.test(registrationCode)) throw new Error('registration code expected alphanumerics, got ' + JSON.stringify(registrationCode));
	// the verification certificate's own key is throwaway: only the CA's signature over it matters
	const keys = (await webcrypto.subtle.generateKey({ ...SIGN_ALG, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
	const serial = webcrypto.getRandomValues(new Uint8Array(16));
	serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
	const now = Date.now();
	return x509.X509CertificateGenerator.create(
		{
			serialNumber: Buffer.from(serial).toString('hex'),
			subject: [{ CN: [registrationCode] }],
			issuer: p.caCert.subjectName,
			notBefore: new Date(now - 5 * 60 * 1000),
			notAfter: new Date(now + 24 * 60 * 60 * 1000),
			// as SPKI bytes: the token's provider cannot read a key object of node:crypto
			publicKey: new x509.PublicKey(await webcrypto.subtle.exportKey('spki', keys.publicKey)),
			signingKey: p.caKey,
			signingAlgorithm: SIGN_ALG,
			extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
		},
		p.hsm.crypto as unknown as typeof webcrypto,
	);
}

/** Registers the CA with AWS IoT and sets it ACTIVE. */
export async function registerCaWithAws(iot: IoTClient, p: Pick<Provisioner, 'caCert' | 'caKey' | 'hsm' | 'caPem'>, options: { allowAutoRegistration?: boolean } = {}): Promise<AwsRegistration> {
	const code = await iot.send(new GetRegistrationCodeCommand({}));
	if (!code.registrationCode) throw new Error('GetRegistrationCode returned no code');
	const verification = await verificationCertificate(p, code.registrationCode);
	const verificationPem = verification.toString('pem') + '\n';
	const out = await iot.send(
		new RegisterCACertificateCommand({
			caCertificate: p.caPem,
			verificationCertificate: verificationPem,
			setAsActive: true,
			allowAutoRegistration: options.allowAutoRegistration ?? false,
		}),
	);
	if (!out.certificateId || !out.certificateArn) throw new Error('RegisterCACertificate returned no certificate id');
	return { certificateId: out.certificateId, certificateArn: out.certificateArn, registrationCode: code.registrationCode, verificationPem };
}

/** Registers the CA with a local cloud in `dataDir`; returns the file written (named by the CA's SHA-256). */
export async function registerCaLocally(dataDir: string, caPem: string): Promise<string> {
	const cert = new x509.X509Certificate(caPem);
	const id = createHash('sha256').update(new Uint8Array(cert.rawData)).digest('hex');
	const dir = join(dataDir, 'pki', REGISTERED_CAS_DIR);
	await mkdir(dir, { recursive: true });
	const file = join(dir, id + '.pem');
	await writeFile(file + '.tmp', cert.toString('pem') + '\n');
	await rename(file + '.tmp', file);
	return file;
}
