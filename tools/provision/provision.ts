// Factory provisioning: the company CA in a PKCS#11 token signs each robot's certificate.
//
// Layout of the provisioning directory DIR:
//   DIR/ca/{ca.pem, ca.der}          the CA certificate (its key never leaves the token)
//   DIR/issued.jsonl                 append-only record, one JSON line per issued certificate
//   DIR/things/<thing>/              the simulator's credentials directory (readCredentials):
//                                    ca.der (the broker's trust anchor: `serverCa`, e.g. Amazon Root
//                                    CA 1), cert.der, cert.pem, key.der (only when the tool made the key)
//   DIR/things/<thing>/board/        the board's forms, data for its Preference store (board.ts), never
//                                    resources of the image: nvs.csv (ESP32: ESP-IDF's NVS partition
//                                    generator makes the image flashed at the nvs partition) and
//                                    modpreferences.json (lin: merged into config.file.root's file)
//
// A robot's CSR is checked before anything is signed: signature (sha256WithRSAEncryption),
// RSA-2048 with e = 65537, a subject that is exactly CN = thingName(serial) with no control
// characters. A refused CSR leaves nothing issued, written or recorded.
import { webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { linPreferences, nvsCsv } from './board';
import { CA_KEY_ALG, ensureCaKeys, type Hsm } from './hsm';
import { checkCsrFor, CsrRefused, issueCertificate, randomSerial } from '../../cloud/lib/robot-certificate';

export { checkCsrFor, CsrRefused, DEVICE_LIFETIME_MS, issueCertificate, type CertificateIssuer } from '../../cloud/lib/robot-certificate';

type CryptoKey = webcrypto.CryptoKey;
const nodeCrypto = webcrypto;
type Crypto = typeof webcrypto;

const SIGN_ALG = Object.freeze({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' });
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const CA_LIFETIME_MS = 20 * 365 * DAY_MS;

/** A robot's serial number as printed on its label. */
export const SERIAL = /^[A-Z0-9]{6,32}$/;

export class ProvisionError extends Error {
	override readonly name = 'ProvisionError';
}

/** The AWS IoT thing name (also the MQTT client id and the certificate's CN) of a serial. */
export function thingName(serial: string): string {
	if (typeof serial !== 'string' || !SERIAL.test(serial)) {
		throw new ProvisionError('serial expected 6-32 characters of [A-Z0-9], got ' + JSON.stringify(serial));
	}
	return 'robot-' + serial;
}

export interface IssuedRecord {
	readonly thing: string;
	readonly serial: string;
	/** The certificate's serial number, hex. */
	readonly certSerial: string;
	readonly notBefore: string;
	readonly notAfter: string;
	/** SHA-256 of the certificate DER, hex (AWS IoT's certificate id). */
	readonly fingerprint: string;
	readonly issuedAt: string;
}

export interface Provisioner {
	readonly dir: string;
	readonly caCert: x509.X509Certificate;
	readonly caPem: string;
	readonly caDer: Uint8Array;
	/** The broker's trust anchor written to bundles as ca.der. */
	readonly serverCaDer: Uint8Array;
	/** The CA's signing key, a handle to the key in the token. */
	readonly caKey: CryptoKey;
	readonly hsm: Hsm;
	readonly issued: ReadonlyMap<string, IssuedRecord>;
}

export interface OpenOptions {
	readonly dir: string;
	/** The CKA_LABEL of the CA key pair in the token (default "robot-ca"). */
	readonly keyLabel?: string;
	/** The CA certificate's CN when one is made (default "Robot Company CA"). */
	readonly caName?: string;
	/**
	 * The trust anchor for the broker's certificate that goes into each bundle as ca.der (DER or
	 * PEM): Amazon Root CA 1 for AWS IoT, the dev CA for cloud/local. Default: the company CA.
	 */
	readonly serverCa?: Uint8Array | string;
}

/**
 * Opens the provisioning state: the CA key pair in the token (made there if absent), the CA
 * certificate in DIR/ca (made, self-signed in the token, if absent; refused if it is not of the
 * token's key) and the record.
 */
export async function openProvisioner(hsm: Hsm, options: OpenOptions): Promise<Provisioner> {
	const dir = options.dir;
	const caPemPath = join(dir, 'ca', 'ca.pem');
	// with DIR's CA certificate present, its key must be in the token: never make a new one then
	const keys = await ensureCaKeys(hsm, options.keyLabel ?? 'robot-ca', !existsSync(caPemPath)).catch((e: Error) => {
		throw new ProvisionError(caPemPath + ' exists but ' + e.message);
	});
	const spki = new Uint8Array(await hsm.crypto.subtle.exportKey('spki', keys.publicKey as never));
	let caCert: x509.X509Certificate | undefined;
	if (existsSync(caPemPath)) {
		const cert = new x509.X509Certificate(await readFile(caPemPath, 'utf8'));
		// another key in the token than the one that made DIR's CA would orphan every certificate issued
		if (!equal(new Uint8Array(cert.publicKey.rawData), spki)) throw new ProvisionError(caPemPath + ' is not the certificate of the token key ' + JSON.stringify(options.keyLabel ?? 'robot-ca'));
		caCert = cert;
	}
	if (!caCert) {
		const notBefore = new Date(Date.now() - BACKDATE_MS);
		caCert = await x509.X509CertificateGenerator.createSelfSigned(
			{
				serialNumber: randomSerial(),
				name: [{ CN: [options.caName ?? 'Robot Company CA'] }],
				notBefore,
				notAfter: new Date(notBefore.getTime() + CA_LIFETIME_MS),
				keys: keys as unknown as webcrypto.CryptoKeyPair,
				signingAlgorithm: SIGN_ALG,
				extensions: [
					new x509.BasicConstraintsExtension(true, 0, true),
					new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
					await x509.SubjectKeyIdentifierExtension.create(spki, false, nodeCrypto),
					// Moddable's TLS client throws on a chain certificate without an AKI (dev-pki.ts)
					await x509.AuthorityKeyIdentifierExtension.create(spki, false, nodeCrypto),
				],
			},
			hsm.crypto as unknown as Crypto,
		);
		await mkdir(join(dir, 'ca'), { recursive: true });
		await atomicWrite(caPemPath, caCert.toString('pem') + '\n');
		await atomicWrite(join(dir, 'ca', 'ca.der'), new Uint8Array(caCert.rawData));
	}
	const issued = await readRecord(join(dir, 'issued.jsonl'));
	return {
		dir,
		caCert,
		caPem: caCert.toString('pem') + '\n',
		caDer: new Uint8Array(caCert.rawData),
		serverCaDer: options.serverCa === undefined ? new Uint8Array(caCert.rawData) : new Uint8Array(new x509.X509Certificate(typeof options.serverCa === 'string' ? options.serverCa : new Uint8Array(options.serverCa)).rawData),
		caKey: keys.privateKey,
		hsm,
		issued,
	};
}

export interface CheckedCsr {
	readonly thing: string;
	readonly serial: string;
	readonly csr: x509.Pkcs10CertificateRequest;
}

/** Checks a robot's CSR (PEM or DER) against its serial; throws a ProvisionError saying why not. */
export async function checkCsr(csrInput: string | Uint8Array, serial: string): Promise<CheckedCsr> {
	const thing = thingName(serial);
	try {
		return { thing, serial, csr: await checkCsrFor(csrInput, thing, serial) };
	} catch (e) {
		if (e instanceof CsrRefused) throw new ProvisionError(e.message);
		throw e;
	}
}

/** A robot key and CSR made here, for the simulator (a board makes its own). */
export async function simulatorCsr(serial: string, keys?: webcrypto.CryptoKeyPair): Promise<{ csrPem: string; keyDer: Uint8Array }> {
	const thing = thingName(serial);
	const pair = keys ?? ((await webcrypto.subtle.generateKey(CA_KEY_ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair);
	const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ CN: [thing] }], keys: pair, signingAlgorithm: SIGN_ALG }, nodeCrypto);
	const keyDer = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', pair.privateKey));
	return { csrPem: csr.toString('pem'), keyDer };
}

export interface ProvisionRequest {
	readonly serial: string;
	/** The robot's CSR; absent for a simulator robot (the tool makes its key). */
	readonly csr?: string | Uint8Array;
	/** With `csr`, the simulator's own key to put into the bundle (tests, bench). */
	readonly keyDer?: Uint8Array;
}

export interface Provisioned {
	readonly thing: string;
	readonly record: IssuedRecord;
	readonly bundleDir: string;
	readonly cert: x509.X509Certificate;
}

/** Checks, issues, writes the bundle and records one robot. Refuses a thing name already recorded. */
export async function provisionOne(p: Provisioner, request: ProvisionRequest): Promise<Provisioned> {
	const thing = thingName(request.serial);
	if (p.issued.has(thing)) throw new ProvisionError(request.serial + ': thing ' + thing + ' already has a certificate (duplicate thing name)');
	let csrInput = request.csr;
	let keyDer = request.keyDer;
	if (csrInput === undefined) ({ csrPem: csrInput, keyDer } = await simulatorCsr(request.serial));
	const checked = await checkCsr(csrInput, request.serial);

	const seenSerials = new Set([...p.issued.values()].map((r) => r.certSerial));
	let serialNumber = randomSerial();
	while (seenSerials.has(serialNumber)) serialNumber = randomSerial();
	const cert = await issueCertificate({ caCert: p.caCert, caKey: p.caKey, crypto: p.hsm.crypto as unknown as Crypto }, thing, checked.csr.publicKey, serialNumber);
	const certDer = new Uint8Array(cert.rawData);
	const bundleDir = await writeBundle(p, thing, certDer, cert.toString('pem') + '\n', keyDer);
	const record: IssuedRecord = {
		thing,
		serial: request.serial,
		certSerial: serialNumber,
		notBefore: cert.notBefore.toISOString(),
		notAfter: cert.notAfter.toISOString(),
		fingerprint: Buffer.from(await webcrypto.subtle.digest('SHA-256', certDer)).toString('hex'),
		issuedAt: new Date().toISOString(),
	};
	await appendFile(join(p.dir, 'issued.jsonl'), JSON.stringify(record) + '\n', { flag: 'a' });
	(p.issued as Map<string, IssuedRecord>).set(thing, record);
	return { thing, record, bundleDir, cert };
}

export interface BatchResult {
	readonly issued: Provisioned[];
	/** Serials already recorded with a bundle on disk: left as they are (re-run). */
	readonly skipped: string[];
	readonly failed: { serial: string; error: string }[];
	readonly seconds: number;
}

/**
 * Provisions many robots. Safe to re-run: a serial already recorded whose bundle is on disk is
 * skipped (when a CSR is given, only if its key is the issued certificate's; another key for the
 * same thing name is refused as a duplicate). A serial twice in the batch refuses the whole batch
 * before anything is issued.
 */
export async function provisionBatch(p: Provisioner, requests: readonly ProvisionRequest[], onProgress?: (done: number, total: number) => void): Promise<BatchResult> {
	const seen = new Set<string>();
	for (const r of requests) {
		const thing = thingName(r.serial);
		if (seen.has(thing)) throw new ProvisionError('batch names thing ' + thing + ' twice (duplicate thing name); nothing issued');
		seen.add(thing);
	}
	const t0 = performance.now();
	const issued: Provisioned[] = [];
	const skipped: string[] = [];
	const failed: { serial: string; error: string }[] = [];
	let done = 0;
	for (const r of requests) {
		const thing = thingName(r.serial);
		const certFile = join(p.dir, 'things', thing, 'cert.der');
		if (p.issued.has(thing) && existsSync(certFile)) {
			// a re-run: the same robot (its CSR's key is the certificate's) is skipped; another key is a duplicate
			if (r.csr === undefined || (await sameKey(r.csr, certFile))) skipped.push(r.serial);
			else failed.push({ serial: r.serial, error: r.serial + ': thing ' + thing + ' already has a certificate for another key (duplicate thing name)' });
		} else {
			try {
				issued.push(await provisionOne(p, r));
			} catch (e) {
				if (!(e instanceof ProvisionError)) throw e;
				failed.push({ serial: r.serial, error: e.message });
			}
		}
		onProgress?.(++done, requests.length);
	}
	return { issued, skipped, failed, seconds: (performance.now() - t0) / 1000 };
}

async function sameKey(csr: string | Uint8Array, certFile: string): Promise<boolean> {
	try {
		const req = new x509.Pkcs10CertificateRequest(typeof csr === 'string' ? csr : new Uint8Array(csr));
		const cert = new x509.X509Certificate(new Uint8Array(await readFile(certFile)));
		return equal(new Uint8Array(req.publicKey.rawData), new Uint8Array(cert.publicKey.rawData));
	} catch {
		return false;
	}
}

async function writeBundle(p: Provisioner, thing: string, certDer: Uint8Array, certPem: string, keyDer: Uint8Array | undefined): Promise<string> {
	const dir = join(p.dir, 'things', thing);
	const board = join(dir, 'board');
	await mkdir(board, { recursive: true });
	const files: [string, Uint8Array | string, number?][] = [
		['ca.der', p.serverCaDer],
		['cert.der', certDer],
		['cert.pem', certPem],
	];
	if (keyDer) files.push(['key.der', keyDer, 0o600]);
	for (const [name, data, mode] of files) await atomicWrite(join(dir, name), data, mode);
	// the board's Preference "cred" as data (board.ts); with the key in them only the owner reads them
	const creds = { ca: p.serverCaDer, cert: certDer, ...(keyDer ? { key: keyDer } : {}) };
	const mode = keyDer ? 0o600 : 0o644;
	await atomicWrite(join(board, 'nvs.csv'), nvsCsv(creds), mode);
	await atomicWrite(join(board, 'modpreferences.json'), JSON.stringify(linPreferences(creds)) + '\n', mode);
	return dir;
}

async function readRecord(file: string): Promise<Map<string, IssuedRecord>> {
	const map = new Map<string, IssuedRecord>();
	if (!existsSync(file)) return map;
	for (const line of (await readFile(file, 'utf8')).split('\n')) {
		if (!line.trim()) continue;
		const r = JSON.parse(line) as IssuedRecord;
		map.set(r.thing, r);
	}
	return map;
}

async function atomicWrite(file: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
	const tmp = file + '.tmp';
	await writeFile(tmp, data, { mode });
	await rename(tmp, file);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
	return a.length === b.length && a.every((x, i) => x === b[i]);
}
