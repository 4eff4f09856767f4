/*
 * A robot's certificate, one way for the factory (tools/provision) and for renewal
 * (cloud/functions/cert-renew): the CSR rules a robot's request must pass, and how the company
 * CA signs it (CN = thing, the request's key, clientAuth, not a CA). The CA key is wherever the
 * issuer's crypto holds it: a PKCS#11 token (SoftHSM2 here, the HSM in production) at the
 * factory and in the cloud, a WebCrypto key for the local cloud's dev CA.
 */
import { createPublicKey, webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type Crypto = typeof webcrypto;
const nodeCrypto = webcrypto;

const SIGN_ALG = Object.freeze({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' });
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
/** The factory's lifetime of a robot certificate. */
export const DEVICE_LIFETIME_MS = 20 * 365 * DAY_MS;

/** A CSR refused for what it is; the message says why. */
export class CsrRefused extends Error {
	override readonly name = 'CsrRefused';
}

/**
 * The factory's CSR checks for a robot named `thing` (`label` starts each refusal: the serial at
 * the factory, the thing at renewal, cloud/functions/cert-renew): one set of rules for both.
 */
export async function checkCsrFor(csrInput: string | Uint8Array, thing: string, label: string): Promise<x509.Pkcs10CertificateRequest> {
	const serial = label;
	let csr: x509.Pkcs10CertificateRequest;
	try {
		csr = new x509.Pkcs10CertificateRequest(typeof csrInput === 'string' ? csrInput : new Uint8Array(csrInput));
	} catch (e) {
		throw new CsrRefused(serial + ': CSR is not a PKCS#10 request (' + (e as Error).message + ')');
	}
	const spki = new Uint8Array(csr.publicKey.rawData);
	let key;
	try {
		key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
	} catch (e) {
		throw new CsrRefused(serial + ': CSR public key is unreadable (' + (e as Error).message + ')');
	}
	if (key.asymmetricKeyType !== 'rsa') throw new CsrRefused(serial + ': CSR key expected RSA, got ' + key.asymmetricKeyType);
	const bits = key.asymmetricKeyDetails?.modulusLength;
	if (bits !== 2048) throw new CsrRefused(serial + ': CSR key expected RSA-2048, got ' + bits + ' bits');
	if (key.asymmetricKeyDetails?.publicExponent !== 65537n) throw new CsrRefused(serial + ': CSR key expected exponent 65537');
	const sigAlg = csrSignatureOid(csr);
	if (sigAlg !== SHA256_WITH_RSA) throw new CsrRefused(serial + ': CSR signature expected sha256WithRSAEncryption, got ' + sigAlg);
	let valid = false;
	try {
		valid = await csr.verify(nodeCrypto);
	} catch {
		valid = false;
	}
	if (!valid) throw new CsrRefused(serial + ': CSR signature does not verify');

	const subject = csr.subjectName.toJSON();
	for (const rdn of subject) {
		for (const [type, values] of Object.entries(rdn)) {
			for (const v of values) {
				if (/[\u0000-\u001f\u007f-\u009f]/.test(v)) throw new CsrRefused(serial + ': CSR subject ' + type + ' has control characters: ' + JSON.stringify(v));
			}
		}
	}
	const rdnTypes = subject.flatMap((rdn) => Object.keys(rdn));
	const cn = subject.flatMap((rdn) => rdn['CN'] ?? []);
	if (rdnTypes.length !== 1 || cn.length !== 1) throw new CsrRefused(serial + ': CSR subject expected exactly CN=' + thing + ', got ' + JSON.stringify(csr.subject));
	if (cn[0] !== thing) throw new CsrRefused(serial + ': CSR CN expected ' + JSON.stringify(thing) + ' (from the serial), got ' + JSON.stringify(cn[0]));
	// the certificate's extensions are this CA's (clientAuth, not a CA, no SAN): a CSR that asks
	// for more is refused with what it asked, not signed as if it had not asked
	for (const ext of csr.extensions) {
		if (ext.type === '2.5.29.19' && new x509.BasicConstraintsExtension(ext.rawData).ca) throw new CsrRefused(serial + ': CSR asks for CA:TRUE (basicConstraints); a robot certificate is never a CA');
		if (ext.type === '2.5.29.17')
			throw new CsrRefused(
				serial +
					': CSR asks for a subjectAltName (' +
					new x509.SubjectAlternativeNameExtension(ext.rawData).names
						.toJSON()
						.map((n) => n.type + ':' + n.value)
						.join(', ') +
					'); a robot is named by its CN only',
			);
	}
	return csr;
}

function csrSignatureOid(csr: x509.Pkcs10CertificateRequest): string {
	// the outer signatureAlgorithm of the CertificationRequest, read from the DER: the OID that follows the CertificationRequestInfo
	const der = new Uint8Array(csr.rawData);
	const outer = readTlv(der, 0);
	const info = readTlv(der, outer.start);
	const algSeq = readTlv(der, info.end);
	const oid = readTlv(der, algSeq.start);
	return decodeOid(der.subarray(oid.start, oid.end));
}

function readTlv(der: Uint8Array, at: number): { start: number; end: number } {
	let i = at + 1;
	let len = der[i++] ?? 0;
	if (len & 0x80) {
		const n = len & 0x7f;
		len = 0;
		for (let k = 0; k < n; k++) len = len * 256 + (der[i++] ?? 0);
	}
	return { start: i, end: i + len };
}

function decodeOid(b: Uint8Array): string {
	const parts: number[] = [];
	let v = 0;
	for (const x of b) {
		v = v * 128 + (x & 0x7f);
		if (!(x & 0x80)) {
			parts.push(v);
			v = 0;
		}
	}
	const first = parts.shift() ?? 0;
	return [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40)), ...parts].join('.');
}

/** Who signs: the CA certificate and its key, with the crypto that holds the key (the token's at the factory). */
export interface CertificateIssuer {
	readonly caCert: x509.X509Certificate;
	readonly caKey: CryptoKey;
	readonly crypto: Crypto;
}

/**
 * A robot certificate: CN = thing, the given public key, clientAuth, not a CA; the one way the
 * company CA signs a robot's certificate, at the factory (provisionOne) and at renewal
 * (cloud/functions/cert-renew). Backdated 5 minutes (Moddable needs notBefore strictly past).
 */
export async function issueCertificate(issuer: CertificateIssuer, thing: string, publicKey: x509.PublicKey, serialNumber = randomSerial(), lifetimeMs = DEVICE_LIFETIME_MS, now = Date.now()): Promise<x509.X509Certificate> {
	const notBefore = new Date(now - BACKDATE_MS);
	const spki = new Uint8Array(publicKey.rawData);
	return x509.X509CertificateGenerator.create(
		{
			serialNumber,
			subject: [{ CN: [thing] }],
			issuer: issuer.caCert.subjectName,
			notBefore,
			notAfter: new Date(notBefore.getTime() + lifetimeMs),
			publicKey,
			signingKey: issuer.caKey,
			signingAlgorithm: SIGN_ALG,
			extensions: [
				new x509.BasicConstraintsExtension(false, undefined, true),
				new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
				new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
				await x509.SubjectKeyIdentifierExtension.create(spki, false, nodeCrypto),
				await x509.AuthorityKeyIdentifierExtension.create(new Uint8Array(issuer.caCert.publicKey.rawData), false, nodeCrypto),
			],
		},
		issuer.crypto,
	);
}

/** 16 random bytes, a positive minimal INTEGER. */
export function randomSerial(): string {
	const b = webcrypto.getRandomValues(new Uint8Array(16));
	b[0] = ((b[0] ?? 0) & 0x7f) | 0x40;
	return Buffer.from(b).toString('hex');
}
