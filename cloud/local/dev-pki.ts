// Development PKI: a dev CA standing in for the company CA (whose key lives in an HSM in
// production), a broker server certificate and RSA device certificates.
//
// Everything is RSA-2048 signed with SHA-256: Moddable's TLS client parses only RSA PKCS#8
// keys and signs CertificateVerify only under RSA/ECDHE_RSA (design.md, "Key choices"), and
// the broker certificate must be RSA for ECDHE_RSA to be negotiated at all.
//
// Files (see `createDevPki`):
//   DIR/ca/{ca.pem, ca.der, ca-key.pem}
//   DIR/server/{cert.pem, key.pem}
//   DIR/things/<thing>/{cert.pem, key.pem, cert.der, key.der, ca.der}
// key.der is an unencrypted PKCS#8 PrivateKeyInfo (rsaEncryption), which is what
// Moddable's `clientKey` resource expects.

import { webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
// @peculiar/x509 2.x needs a Reflect metadata polyfill loaded before it (its README).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { isThingName } from '../../firmware/core/contracts/thing';

// the lib is ES2023 without DOM: WebCrypto types come from node:crypto
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;

const RSA_ALG = Object.freeze({
	name: 'RSASSA-PKCS1-v1_5',
	hash: 'SHA-256',
	modulusLength: 2048,
	publicExponent: new Uint8Array([1, 0, 1]),
});

/** Moddable accepts a certificate only when notBefore is strictly earlier than its clock. */
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const CA_LIFETIME_MS = 10 * 365 * DAY_MS;
const LEAF_LIFETIME_MS = 825 * DAY_MS;

export interface Validity {
	notBefore?: Date;
	notAfter?: Date;
}

/** A certificate and its private key, in PEM (Node) and DER (device) forms. */
export interface Identity {
	readonly certPem: string;
	readonly keyPem: string;
	readonly certDer: Uint8Array;
	/** Unencrypted PKCS#8 PrivateKeyInfo, RSA. */
	readonly keyDer: Uint8Array;
	readonly cert: x509.X509Certificate;
}

export interface Ca extends Identity {
	readonly name: string;
	readonly signingKey: CryptoKey;
}

export interface DeviceIdentity extends Identity {
	readonly thing: string;
	/** DER of the CA that issued the device certificate (the device's trust anchor for the broker). */
	readonly caDer: Uint8Array;
	readonly caPem: string;
}

export interface ThingPaths {
	dir: string;
	certPem: string;
	keyPem: string;
	certDer: string;
	keyDer: string;
	caDer: string;
}

export interface DevPki {
	readonly dir: string;
	readonly ca: Ca;
	readonly server: Identity;
	readonly things: ReadonlyMap<string, DeviceIdentity>;
	readonly paths: {
		readonly caPem: string;
		readonly caDer: string;
		readonly caKeyPem: string;
		readonly serverCertPem: string;
		readonly serverKeyPem: string;
		thing(thing: string): ThingPaths;
	};
}

export interface DevPkiOptions {
	things?: readonly string[];
	/** Make a new CA (and so new certificates) even if DIR already has one. */
	force?: boolean;
	caName?: string;
}

/** Creates a self-signed RSA-2048 CA (basicConstraints CA, keyCertSign). */
export async function createCa(name: string, validity: Validity = {}): Promise<Ca> {
	if (typeof name !== 'string' || name.length === 0) {
		throw new TypeError('"name" expected a non-empty string, got ' + JSON.stringify(name));
	}
	const keys = (await crypto.subtle.generateKey(RSA_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
	const { notBefore, notAfter } = window(validity, CA_LIFETIME_MS);
	const cert = await x509.X509CertificateGenerator.createSelfSigned(
		{
			serialNumber: randomSerial(),
			name: [{ CN: [name] }],
			notBefore,
			notAfter,
			keys,
			signingAlgorithm: RSA_ALG,
			extensions: [
				new x509.BasicConstraintsExtension(true, 0, true),
				new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
				await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
				// as `openssl req -x509` does: Moddable's TLS client (ssl_cert.js, X509.decodeAKI) throws
				// on a chain certificate without one, and Node's server sends the root in the chain
				await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey, false, crypto),
			],
		},
		crypto,
	);
	const keyDer = new Uint8Array(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
	return { name, signingKey: keys.privateKey, cert, ...forms(cert, keyDer) };
}

/** Loads a CA written by `createDevPki` (ca.pem and ca-key.pem). */
export async function loadCa(certPem: string, keyPem: string): Promise<Ca> {
	const cert = new x509.X509Certificate(certPem);
	const keyDer = new Uint8Array(x509.PemConverter.decodeFirst(keyPem));
	const signingKey = await crypto.subtle.importKey('pkcs8', keyDer, RSA_ALG, true, ['sign']);
	const cn = cert.subjectName.getField('CN')[0] ?? cert.subject;
	return { name: cn, signingKey, cert, ...forms(cert, keyDer) };
}

/** Issues the broker certificate: serverAuth, SAN DNS `localhost` and IP 127.0.0.1 by default. */
export async function issueServer(ca: Ca, options: Validity & { dnsNames?: readonly string[]; ips?: readonly string[] } = {}): Promise<Identity> {
	const dnsNames = options.dnsNames ?? ['localhost'];
	const ips = options.ips ?? ['127.0.0.1'];
	const san = new x509.SubjectAlternativeNameExtension([...dnsNames.map((value) => ({ type: 'dns' as const, value })), ...ips.map((value) => ({ type: 'ip' as const, value }))]);
	return issueLeaf(ca, dnsNames[0] ?? 'localhost', x509.ExtendedKeyUsage.serverAuth, [san], options);
}

/**
 * Issues a device certificate: CN = thing name, clientAuth, digitalSignature+keyEncipherment.
 * `issuer` is a CA or a PKI (its CA). Pass a past `notAfter` to make an expired certificate.
 */
export async function issueDevice(issuer: Ca | DevPki, thing: string, validity: Validity = {}): Promise<DeviceIdentity> {
	checkThing(thing);
	const ca = 'ca' in issuer ? issuer.ca : issuer;
	const leaf = await issueLeaf(ca, thing, x509.ExtendedKeyUsage.clientAuth, [], validity);
	return { ...leaf, thing, caDer: ca.certDer, caPem: ca.certPem };
}

/**
 * Creates (or reuses) the dev PKI in `dir`. An existing CA is kept unless `force`; the server
 * certificate and each thing's certificate are kept when they exist, were issued by this CA and
 * have not expired, otherwise they are issued again.
 */
export async function createDevPki(dir: string, options: DevPkiOptions = {}): Promise<DevPki> {
	if (typeof dir !== 'string' || dir.length === 0) {
		throw new TypeError('"dir" expected a non-empty path, got ' + JSON.stringify(dir));
	}
	const things = options.things ?? [];
	for (const thing of things) checkThing(thing);
	const paths = pkiPaths(dir);

	let ca: Ca;
	if (!options.force && existsSync(paths.caPem) && existsSync(paths.caKeyPem)) {
		ca = await loadCa(await readFile(paths.caPem, 'utf8'), await readFile(paths.caKeyPem, 'utf8'));
	} else {
		ca = await createCa(options.caName ?? 'Robot Dev CA');
		await mkdir(join(dir, 'ca'), { recursive: true });
		await writeFile(paths.caPem, ca.certPem);
		await writeFile(paths.caDer, ca.certDer);
		await writeFile(paths.caKeyPem, ca.keyPem, { mode: 0o600 });
	}

	let server = await reuse(ca, paths.serverCertPem, paths.serverKeyPem);
	if (!server) {
		server = await issueServer(ca);
		await mkdir(join(dir, 'server'), { recursive: true });
		await writeFile(paths.serverCertPem, server.certPem);
		await writeFile(paths.serverKeyPem, server.keyPem, { mode: 0o600 });
	}

	const issued = new Map<string, DeviceIdentity>();
	for (const thing of things) {
		const p = paths.thing(thing);
		const old = await reuse(ca, p.certPem, p.keyPem);
		const device = old ? { ...old, thing, caDer: ca.certDer, caPem: ca.certPem } : await issueDevice(ca, thing);
		if (!old) await writeDevice(dir, device);
		issued.set(thing, device);
	}
	return { dir, ca, server, things: issued, paths };
}

/** Writes a device identity in the `DIR/things/<thing>/` layout and returns the file paths. */
export async function writeDevice(dir: string, device: DeviceIdentity): Promise<ThingPaths> {
	const p = pkiPaths(dir).thing(device.thing);
	await mkdir(p.dir, { recursive: true });
	await writeFile(p.certPem, device.certPem);
	await writeFile(p.keyPem, device.keyPem, { mode: 0o600 });
	await writeFile(p.certDer, device.certDer);
	await writeFile(p.keyDer, device.keyDer, { mode: 0o600 });
	await writeFile(p.caDer, device.caDer);
	return p;
}

function pkiPaths(dir: string): DevPki['paths'] {
	return {
		caPem: join(dir, 'ca', 'ca.pem'),
		caDer: join(dir, 'ca', 'ca.der'),
		caKeyPem: join(dir, 'ca', 'ca-key.pem'),
		serverCertPem: join(dir, 'server', 'cert.pem'),
		serverKeyPem: join(dir, 'server', 'key.pem'),
		thing(thing: string): ThingPaths {
			checkThing(thing);
			const d = join(dir, 'things', thing);
			return {
				dir: d,
				certPem: join(d, 'cert.pem'),
				keyPem: join(d, 'key.pem'),
				certDer: join(d, 'cert.der'),
				keyDer: join(d, 'key.der'),
				caDer: join(d, 'ca.der'),
			};
		},
	};
}

async function issueLeaf(ca: Ca, cn: string, usage: x509.ExtendedKeyUsage, extra: x509.Extension[], validity: Validity): Promise<Identity> {
	const keys = (await crypto.subtle.generateKey(RSA_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
	const { notBefore, notAfter } = window(validity, LEAF_LIFETIME_MS);
	const cert = await x509.X509CertificateGenerator.create(
		{
			serialNumber: randomSerial(),
			subject: [{ CN: [cn] }],
			issuer: ca.cert.subjectName,
			notBefore,
			notAfter,
			publicKey: keys.publicKey,
			signingKey: ca.signingKey,
			signingAlgorithm: RSA_ALG,
			extensions: [
				new x509.BasicConstraintsExtension(false, undefined, true),
				new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
				new x509.ExtendedKeyUsageExtension([usage]),
				await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
				await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey, false, crypto),
				...extra,
			],
		},
		crypto,
	);
	const keyDer = new Uint8Array(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
	return { cert, ...forms(cert, keyDer) };
}

/** An existing identity on disk, if it was issued by `ca` and is currently valid. */
async function reuse(ca: Ca, certPath: string, keyPath: string): Promise<Identity | undefined> {
	if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
	const cert = new x509.X509Certificate(await readFile(certPath, 'utf8'));
	const now = Date.now();
	if (cert.notAfter.getTime() <= now || cert.notBefore.getTime() >= now) return undefined;
	if (!(await cert.verify({ publicKey: ca.cert.publicKey, signatureOnly: true }, crypto))) return undefined;
	const keyDer = new Uint8Array(x509.PemConverter.decodeFirst(await readFile(keyPath, 'utf8')));
	return { cert, ...forms(cert, keyDer) };
}

function forms(cert: x509.X509Certificate, keyDer: Uint8Array) {
	return {
		certPem: cert.toString('pem') + '\n',
		certDer: new Uint8Array(cert.rawData),
		keyDer,
		keyPem: x509.PemConverter.encode(keyDer, 'PRIVATE KEY') + '\n',
	};
}

function window(validity: Validity, lifetimeMs: number): { notBefore: Date; notAfter: Date } {
	const notBefore = validity.notBefore ?? new Date(Date.now() - BACKDATE_MS);
	const notAfter = validity.notAfter ?? new Date(notBefore.getTime() + lifetimeMs);
	if (!(notAfter.getTime() > notBefore.getTime())) {
		throw new RangeError('"notAfter" expected later than notBefore, got ' + notAfter.toISOString());
	}
	return { notBefore, notAfter };
}

/** 16 random bytes, first bit clear (a positive INTEGER) and first byte non-zero (minimal DER). */
function randomSerial(): string {
	const b = crypto.getRandomValues(new Uint8Array(16));
	b[0] = ((b[0] ?? 0) & 0x7f) | 0x40;
	return Array.from(b, (x: number) => x.toString(16).padStart(2, '0')).join('');
}

function checkThing(thing: string): void {
	if (!isThingName(thing)) {
		throw new RangeError('"thing" expected 1-128 characters of [A-Za-z0-9:_-], got ' + JSON.stringify(thing));
	}
}
