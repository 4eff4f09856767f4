/*
 * The device's RSA key in portable code: a minimal DER reader for an unencrypted
 * PKCS#8 PrivateKeyInfo holding an RSAPrivateKey [RFC 5208 §5, RFC 8017 A.1.2], and a
 * DeviceKeyPort over BigInt with the CRT [RFC 8017 §5.1.2 2.b]. It serves bare XS (the
 * core's tests unwrap data keys with it) and the simulator; on the robot the Moddable
 * adapter does the private operation with the native `Modular`/`Mont` instead.
 *
 * BigInt arithmetic is not constant time, so every private operation is blinded
 * (c' = c * r^e, m = m' / r, fresh r each time) and checked (m'^e = c') before any
 * result leaves, which also stops the CRT fault attack on signatures.
 */
import type { DeviceKeyPort } from '../../ports';
import { err, ok, type Result } from '../util/result';
import { DER_TAG, DerError, OID, derElement, isOid } from './der';

export interface RsaPrivateKey {
	readonly n: bigint;
	readonly e: bigint;
	readonly d: bigint;
	readonly p: bigint;
	readonly q: bigint;
	readonly dp: bigint;
	readonly dq: bigint;
	readonly qinv: bigint;
	/** Modulus length in bytes. */
	readonly size: number;
}

export type KeyError = { readonly code: 'der'; readonly reason: string };

// DigestInfo prefix for SHA-256 [RFC 8017 §9.2 note 1]
const SHA256_DIGEST_INFO = Object.freeze([0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20]);
/** Keys the device can hold: RSA-1024 (tests) to RSA-4096. */
const MIN_BITS = 1024;
const MAX_BITS = 4096;

/** A non-negative INTEGER; DER forbids a redundant leading zero [X.690 §8.3.2]. */
function unsigned(der: Uint8Array, at: number): { value: bigint; next: number } {
	const { body, next } = derElement(der, at, DER_TAG.integer);
	if (body.length === 0) throw new DerError('empty INTEGER at ' + at);
	if ((body[0] as number) & 0x80) throw new DerError('negative INTEGER at ' + at);
	if (body.length > 1 && body[0] === 0 && !((body[1] as number) & 0x80)) throw new DerError('non-minimal INTEGER at ' + at);
	return { value: toBigInt(body), next };
}

/** Big-endian unsigned bytes to a BigInt. */
export function toBigInt(bytes: Uint8Array): bigint {
	let hex = '0x0';
	for (let i = 0; i < bytes.length; i++) hex += ((bytes[i] as number) < 16 ? '0' : '') + (bytes[i] as number).toString(16);
	return BigInt(hex);
}

/** A BigInt to exactly `size` big-endian bytes (I2OSP [RFC 8017 §4.1]); it must fit. */
export function toBytes(x: bigint, size: number): Uint8Array {
	const hex = x.toString(16);
	if (x < 0n || hex.length > size * 2) throw new RangeError('integer too large for ' + size + ' bytes');
	const out = new Uint8Array(size);
	for (let i = hex.length, at = size - 1; i > 0; i -= 2, at--) out[at] = parseInt(hex.slice(Math.max(0, i - 2), i), 16);
	return out;
}

function bitLength(x: bigint): number {
	return x === 0n ? 0 : x.toString(2).length;
}

/**
 * Reads PrivateKeyInfo { version 0, AlgorithmIdentifier rsaEncryption NULL, OCTET STRING
 * RSAPrivateKey, [0] attributes OPTIONAL } [RFC 5208 §5] and the two-prime RSAPrivateKey
 * inside it [RFC 8017 A.1.2]; checks that the parts agree (n = p q, d p/q halves, qinv).
 */
export function parseRsaPrivateKey(der: Uint8Array): Result<RsaPrivateKey, KeyError> {
	if (!(der instanceof Uint8Array)) throw new TypeError('"der" expected Uint8Array, got ' + typeof der);
	try {
		const outer = derElement(der, 0, DER_TAG.sequence);
		if (outer.next !== der.length) throw new DerError('trailing bytes after PrivateKeyInfo');
		const info = outer.body;
		const version = unsigned(info, 0);
		if (version.value !== 0n) throw new DerError('PrivateKeyInfo version ' + version.value + ', expected 0');
		const algorithm = derElement(info, version.next, DER_TAG.sequence);
		const oid = derElement(algorithm.body, 0, DER_TAG.oid);
		if (!isOid(oid.body, OID.rsaEncryption)) throw new DerError('not an rsaEncryption key');
		if (oid.next !== algorithm.body.length) {
			const params = derElement(algorithm.body, oid.next, DER_TAG.null);
			if (params.body.length !== 0 || params.next !== algorithm.body.length) throw new DerError('rsaEncryption parameters must be NULL');
		}
		const privateKey = derElement(info, algorithm.next, DER_TAG.octetString);
		// attributes [0] may follow; nothing of ours is in them

		const rsa = derElement(privateKey.body, 0, DER_TAG.sequence);
		if (rsa.next !== privateKey.body.length) throw new DerError('trailing bytes after RSAPrivateKey');
		const body = rsa.body;
		let at = 0;
		const next = (): bigint => {
			const r = unsigned(body, at);
			at = r.next;
			return r.value;
		};
		const rsaVersion = next();
		if (rsaVersion !== 0n) throw new DerError('RSAPrivateKey version ' + rsaVersion + ': only two-prime keys (0) are supported');
		const n = next(),
			e = next(),
			d = next(),
			p = next(),
			q = next(),
			dp = next(),
			dq = next(),
			qinv = next();
		if (at !== body.length) throw new DerError('trailing fields in RSAPrivateKey');

		const bits = bitLength(n);
		if (bits < MIN_BITS || bits > MAX_BITS) throw new DerError('modulus of ' + bits + ' bits, expected ' + MIN_BITS + ' to ' + MAX_BITS);
		if (e < 3n || (e & 1n) === 0n) throw new DerError('public exponent must be odd and >= 3');
		if (p * q !== n || p <= 1n || q <= 1n) throw new DerError('p * q does not equal n');
		if (dp !== d % (p - 1n) || dq !== d % (q - 1n)) throw new DerError('CRT exponents do not match d');
		if ((q * qinv) % p !== 1n) throw new DerError('qinv is not q^-1 mod p');
		return ok(Object.freeze({ n, e, d, p, q, dp, dq, qinv, size: (bits + 7) >> 3 }));
	} catch (e) {
		if (e instanceof DerError) return err({ code: 'der', reason: e.message });
		throw e;
	}
}

/** base^exp mod m, left to right in 4-bit windows (exp >= 0, m > 1). */
export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
	base %= m;
	const table: bigint[] = [1n, base];
	for (let i = 2; i < 16; i++) table.push(((table[i - 1] as bigint) * base) % m);
	const hex = exp.toString(16);
	let r = 1n;
	for (let i = 0; i < hex.length; i++) {
		if (i > 0) for (let s = 0; s < 4; s++) r = (r * r) % m;
		const w = parseInt(hex[i] as string, 16);
		if (w) r = (r * (table[w] as bigint)) % m;
	}
	return r;
}

/** a^-1 mod m by the extended Euclidean algorithm; undefined when gcd(a, m) != 1. */
export function modInverse(a: bigint, m: bigint): bigint | undefined {
	let [r0, r1] = [a % m, m];
	let [s0, s1] = [1n, 0n];
	while (r1 !== 0n) {
		const k = r0 / r1;
		[r0, r1] = [r1, r0 - k * r1];
		[s0, s1] = [s1, s0 - k * s1];
	}
	if (r0 !== 1n) return undefined;
	return ((s0 % m) + m) % m;
}

export interface RsaDeviceKeyOptions {
	/** SHA-256 for signatures (the crypto port's). */
	readonly sha256: (data: Uint8Array) => Uint8Array;
	/** Strong random bytes, for blinding. */
	readonly random: (n: number) => Uint8Array;
}

/** The DeviceKeyPort over a parsed key: RSADP with CRT and blinding, RSASSA-PKCS1-v1_5 SHA-256. */
export function createRsaDeviceKey(key: RsaPrivateKey, options: RsaDeviceKeyOptions): DeviceKeyPort {
	const { n, e, p, q, dp, dq, qinv, size } = key;
	const { sha256, random } = options;

	/** A blinding factor r in [2, n-1] with r invertible mod n, and r^e. */
	function blinding(): { r: bigint; re: bigint; rInv: bigint } {
		for (;;) {
			const bytes = random(size);
			const r = toBigInt(bytes) % n;
			bytes.fill(0);
			const rInv = r > 1n ? modInverse(r, n) : undefined;
			if (rInv !== undefined) return { r, re: modPow(r, e, n), rInv };
		}
	}

	/** m = c^d mod n [RFC 8017 §5.1.2], for 0 <= c < n. */
	function privateOp(c: bigint): bigint {
		const { re, rInv } = blinding();
		const blinded = (c * re) % n;
		const m1 = modPow(blinded, dp, p);
		const m2 = modPow(blinded, dq, q);
		const h = (qinv * (((m1 - m2) % p) + p)) % p;
		const m = m2 + h * q;
		// a faulty CRT half would leak a factor of n through gcd(m^e - c, n): check first
		if (modPow(m, e, n) !== blinded) throw new Error('RSA private operation failed its check');
		return (m * rInv) % n;
	}

	return Object.freeze({
		modulusBytes: size,
		rsaPrivateRaw(block: Uint8Array): Uint8Array {
			if (!(block instanceof Uint8Array)) throw new TypeError('"block" expected Uint8Array, got ' + typeof block);
			if (block.length !== size) throw new RangeError('"block" expected ' + size + ' bytes, got ' + block.length);
			const c = toBigInt(block);
			if (c >= n) throw new RangeError('"block" expected a value below the modulus');
			return toBytes(privateOp(c), size);
		},
		signSha256(data: Uint8Array): Uint8Array {
			return toBytes(privateOp(toBigInt(emsaPkcs1Sha256(sha256(data), size))), size);
		},
	});
}

/** EMSA-PKCS1-v1_5 encoding of a SHA-256 digest for a `size`-byte modulus: 00 01 FF..FF 00 DigestInfo H [RFC 8017 §9.2]. */
export function emsaPkcs1Sha256(hash: Uint8Array, size: number): Uint8Array {
	const t = SHA256_DIGEST_INFO.length + hash.length;
	if (size < t + 11) throw new RangeError('modulus too short for a SHA-256 signature');
	const em = new Uint8Array(size).fill(0xff);
	em[0] = 0x00;
	em[1] = 0x01;
	em[size - t - 1] = 0x00;
	em.set(SHA256_DIGEST_INFO, size - t);
	em.set(hash, size - hash.length);
	return em;
}
