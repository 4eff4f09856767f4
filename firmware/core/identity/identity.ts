/*
 * The device identity: the certificate and private key provisioning wrote (tools/provision).
 * Parses the X.509 certificate just enough to know who the robot is (thing name = subject CN)
 * and for how long (validity), and checks that the key is the certificate's: the RSA modulus
 * and exponent of the PKCS#8 key equal those of the certificate's SubjectPublicKeyInfo.
 * A robot refuses to start with a key that does not match its certificate: the broker would
 * reject every handshake, and the robot would only retry forever.
 * Platform-free: a small DER reader [X.690], no Node, no Moddable.
 */
import { DER_TAG, DerError, OID, derElement, isOid, type DerElement } from '../crypto/der';
import { parseRsaPrivateKey, toBigInt } from '../crypto/rsa';
import { err, ok, type Result } from '../util/result';
import type { StoragePort } from '../../ports';

export interface DeviceIdentity {
	/** The AWS IoT thing name: the certificate's subject CN. */
	readonly thing: string;
	/** Validity, ms since the epoch. */
	readonly notBefore: number;
	readonly notAfter: number;
	/** The certificate's serial number, hex. */
	readonly serial: string;
}

/** Why the robot cannot use its identity; every code carries the same data, so one shape serves. */
export interface IdentityError {
	readonly code: 'missing' | 'certificate' | 'key' | 'mismatch' | 'expired' | 'not_yet_valid';
	readonly reason: string;
}

export interface ParsedCertificate extends DeviceIdentity {
	readonly n: bigint;
	readonly e: bigint;
}

/** Storage keys of the credentials (as the host's file storage and the Moddable preferences hold them). */
export const CERT_KEY = 'cert.der';
export const PRIVATE_KEY_KEY = 'key.der';

function hex(b: Uint8Array): string {
	let s = '';
	for (let i = 0; i < b.length; i++) s += ((b[i] as number) < 16 ? '0' : '') + (b[i] as number).toString(16);
	return s;
}

/** UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ [RFC 5280 §4.1.2.5]. */
function time(e: DerElement): number {
	let s = '';
	for (let i = 0; i < e.body.length; i++) s += String.fromCharCode(e.body[i] as number);
	const m = (e.tag === DER_TAG.utcTime ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/ : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/).exec(s);
	if (!m || (e.tag !== DER_TAG.utcTime && e.tag !== DER_TAG.generalizedTime)) throw new DerError('bad time ' + JSON.stringify(s));
	let year = Number(m[1]);
	if (e.tag === DER_TAG.utcTime) year += year >= 50 ? 1900 : 2000;
	return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

function unsigned(body: Uint8Array): bigint {
	if (body.length === 0 || (body[0] as number) & 0x80) throw new DerError('expected a positive INTEGER');
	return toBigInt(body);
}

/** The subject CN, the validity, the serial and the RSA public key of a DER certificate. */
export function parseCertificate(der: Uint8Array): Result<ParsedCertificate, IdentityError> {
	try {
		const cert = derElement(der, 0, DER_TAG.sequence);
		const tbs = derElement(cert.body, 0, DER_TAG.sequence).body;
		let at = 0;
		if (tbs[0] === DER_TAG.context0) at = derElement(tbs, 0).next; // version
		const serial = derElement(tbs, at, DER_TAG.integer);
		const sigAlg = derElement(tbs, serial.next, DER_TAG.sequence);
		const issuer = derElement(tbs, sigAlg.next, DER_TAG.sequence);
		const validity = derElement(tbs, issuer.next, DER_TAG.sequence);
		const notBefore = derElement(validity.body, 0);
		const notAfter = derElement(validity.body, notBefore.next);
		const subject = derElement(tbs, validity.next, DER_TAG.sequence);
		const spki = derElement(tbs, subject.next, DER_TAG.sequence);

		let thing: string | undefined;
		for (let r = 0; r < subject.body.length;) {
			const rdn = derElement(subject.body, r, DER_TAG.set);
			for (let a = 0; a < rdn.body.length;) {
				const atv = derElement(rdn.body, a, DER_TAG.sequence);
				const oid = derElement(atv.body, 0, DER_TAG.oid);
				if (isOid(oid.body, OID.commonName)) {
					const v = derElement(atv.body, oid.next);
					if (v.tag !== DER_TAG.utf8 && v.tag !== DER_TAG.printable && v.tag !== DER_TAG.ia5) throw new DerError('CN of an unsupported string type 0x' + v.tag.toString(16));
					if (thing !== undefined) throw new DerError('more than one CN');
					thing = '';
					for (let i = 0; i < v.body.length; i++) {
						const c = v.body[i] as number;
						if (c < 0x21 || c > 0x7e) throw new DerError('CN has a byte outside printable ASCII');
						thing += String.fromCharCode(c);
					}
				}
				a = atv.next;
			}
			r = rdn.next;
		}
		if (thing === undefined || thing.length === 0) throw new DerError('no subject CN');

		const alg = derElement(spki.body, 0, DER_TAG.sequence);
		const algOid = derElement(alg.body, 0, DER_TAG.oid);
		if (!isOid(algOid.body, OID.rsaEncryption)) throw new DerError('public key is not rsaEncryption');
		const bits = derElement(spki.body, alg.next, DER_TAG.bitString);
		if (bits.body[0] !== 0) throw new DerError('public key BIT STRING has unused bits');
		const rsa = derElement(bits.body.subarray(1), 0, DER_TAG.sequence);
		const n = derElement(rsa.body, 0, DER_TAG.integer);
		const e = derElement(rsa.body, n.next, DER_TAG.integer);
		return ok(Object.freeze({ thing, notBefore: time(notBefore), notAfter: time(notAfter), serial: hex(serial.body), n: unsigned(n.body), e: unsigned(e.body) }));
	} catch (e) {
		if (e instanceof DerError) return err({ code: 'certificate', reason: e.message });
		throw e;
	}
}

/**
 * Checks the credentials: the certificate parses, the key is an RSA PKCS#8 key whose public half
 * is the certificate's, and, when the clock is known (`now`, ms), the certificate is in its validity.
 */
export function checkIdentity(certDer: Uint8Array, keyDer: Uint8Array, now?: number): Result<DeviceIdentity, IdentityError> {
	const cert = parseCertificate(certDer);
	if (!cert.ok) return cert;
	const key = parseRsaPrivateKey(keyDer);
	if (!key.ok) return err({ code: 'key', reason: key.error.reason });
	if (key.value.n !== cert.value.n || key.value.e !== cert.value.e) {
		return err({ code: 'mismatch', reason: 'the private key does not match the certificate of ' + cert.value.thing });
	}
	const { thing, notBefore, notAfter, serial } = cert.value;
	if (now !== undefined && now >= notAfter) return err({ code: 'expired', reason: 'certificate of ' + thing + ' expired at ' + new Date(notAfter).toISOString() });
	if (now !== undefined && now < notBefore) return err({ code: 'not_yet_valid', reason: 'certificate of ' + thing + ' is valid from ' + new Date(notBefore).toISOString() });
	return ok(Object.freeze({ thing, notBefore, notAfter, serial }));
}

/** Loads the credentials from storage (`cert.der`, `key.der`) and checks them (`checkIdentity`). */
export function loadIdentity(storage: StoragePort, now?: number): Result<DeviceIdentity & { readonly cert: Uint8Array; readonly key: Uint8Array }, IdentityError> {
	const cert = storage.read(CERT_KEY);
	const key = storage.read(PRIVATE_KEY_KEY);
	if (!cert || !key) return err({ code: 'missing', reason: 'no ' + (!cert ? CERT_KEY : PRIVATE_KEY_KEY) + ' in storage' });
	const r = checkIdentity(cert, key, now);
	return r.ok ? ok({ ...r.value, cert, key }) : r;
}
