/*
 * ECDSA P-256 signature verification over a SHA-256 digest (FIPS 186-4), in plain
 * BigInt so it runs in XS as well as on Node: the host's node:crypto cannot verify a
 * digest it did not compute itself, and the device's native `crypt` ECDSA is the
 * fast path there. Verification only: no secret is involved, so constant time does
 * not matter. Jacobian coordinates with a = -3; one verification is two 256-bit
 * scalar multiplications (~ 600 point operations).
 */

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

type Jac = readonly [bigint, bigint, bigint]; // z = 0 is the point at infinity

const mod = (a: bigint, m: bigint): bigint => {
	const r = a % m;
	return r < 0n ? r + m : r;
};

function inverse(a: bigint, m: bigint): bigint {
	let [r0, r1] = [mod(a, m), m];
	let [s0, s1] = [1n, 0n];
	while (r1 !== 0n) {
		const q = r0 / r1;
		[r0, r1] = [r1, r0 - q * r1];
		[s0, s1] = [s1, s0 - q * s1];
	}
	if (r0 !== 1n) throw new RangeError('not invertible');
	return mod(s0, m);
}

function double([x, y, z]: Jac): Jac {
	if (z === 0n || y === 0n) return [0n, 1n, 0n];
	const zz = (z * z) % P;
	const m = (3n * (x - zz) * (x + zz)) % P; // a = -3
	const yy = (y * y) % P;
	const s = (4n * x * yy) % P;
	const x3 = mod(m * m - 2n * s, P);
	const y3 = mod(m * (s - x3) - 8n * yy * yy, P);
	const z3 = mod(2n * y * z, P);
	return [x3, y3, z3];
}

function add(a: Jac, b: Jac): Jac {
	if (a[2] === 0n) return b;
	if (b[2] === 0n) return a;
	const z1z1 = (a[2] * a[2]) % P;
	const z2z2 = (b[2] * b[2]) % P;
	const u1 = (a[0] * z2z2) % P;
	const u2 = (b[0] * z1z1) % P;
	const s1 = (a[1] * b[2] * z2z2) % P;
	const s2 = (b[1] * a[2] * z1z1) % P;
	if (u1 === u2) return s1 === s2 ? double(a) : [0n, 1n, 0n];
	const h = mod(u2 - u1, P);
	const r = mod(s2 - s1, P);
	const hh = (h * h) % P;
	const hhh = (h * hh) % P;
	const v = (u1 * hh) % P;
	const x3 = mod(r * r - hhh - 2n * v, P);
	const y3 = mod(r * (v - x3) - s1 * hhh, P);
	const z3 = (a[2] * b[2] * h) % P;
	return [x3, y3, z3];
}

/** u1*G + u2*Q in one pass (Shamir's trick). */
function twoMul(u1: bigint, u2: bigint, q: Jac): Jac {
	const g: Jac = [GX, GY, 1n];
	const gq = add(g, q);
	let acc: Jac = [0n, 1n, 0n];
	const bits = Math.max(u1.toString(2).length, u2.toString(2).length);
	for (let i = bits - 1; i >= 0; i--) {
		acc = double(acc);
		const bit = BigInt(i);
		const b1 = (u1 >> bit) & 1n;
		const b2 = (u2 >> bit) & 1n;
		if (b1 && b2) acc = add(acc, gq);
		else if (b1) acc = add(acc, g);
		else if (b2) acc = add(acc, q);
	}
	return acc;
}

function toBig(bytes: Uint8Array): bigint {
	let x = 0n;
	for (let i = 0; i < bytes.length; i++) x = (x << 8n) | BigInt(bytes[i]!);
	return x;
}

/** r and s from DER (SEQUENCE of two INTEGERs) or raw r||s; undefined when malformed. */
export function parseSignature(sig: Uint8Array): { r: bigint; s: bigint } | undefined {
	if (sig.length === 64) return { r: toBig(sig.subarray(0, 32)), s: toBig(sig.subarray(32)) };
	if (sig.length < 8 || sig[0] !== 0x30 || sig[1] !== sig.length - 2) return undefined;
	let at = 2;
	const ints: bigint[] = [];
	for (let k = 0; k < 2; k++) {
		if (sig[at] !== 0x02) return undefined;
		const len = sig[at + 1]!;
		if (len < 1 || len > 33 || at + 2 + len > sig.length) return undefined;
		ints.push(toBig(sig.subarray(at + 2, at + 2 + len)));
		at += 2 + len;
	}
	return at === sig.length ? { r: ints[0]!, s: ints[1]! } : undefined;
}

/** An uncompressed SEC1 point (0x04 || x || y) on the curve, or undefined. */
export function parsePublicKey(point: Uint8Array): { x: bigint; y: bigint } | undefined {
	if (point.length !== 65 || point[0] !== 0x04) return undefined;
	const x = toBig(point.subarray(1, 33));
	const y = toBig(point.subarray(33));
	if (x >= P || y >= P) return undefined;
	if (mod(y * y - (x * x * x - 3n * x + B), P) !== 0n) return undefined;
	return { x, y };
}

/** ECDSA P-256 verification of `signature` over a 32-byte SHA-256 `digest` with an uncompressed public key. */
export function verifyP256(publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean {
	if (digest.length !== 32) return false;
	const q = parsePublicKey(publicKey);
	const sig = parseSignature(signature);
	if (!q || !sig) return false;
	const { r, s } = sig;
	if (r < 1n || r >= N || s < 1n || s >= N) return false;
	const w = inverse(s, N);
	const e = toBig(digest);
	const pt = twoMul(mod(e * w, N), mod(r * w, N), [q.x, q.y, 1n]);
	if (pt[2] === 0n) return false;
	const zi = inverse(pt[2], P);
	const x = (pt[0] * zi * zi) % P;
	return mod(x, N) === r;
}

/**
 * The EC public key of a DER X.509 certificate: the BIT STRING after the
 * id-ecPublicKey / prime256v1 AlgorithmIdentifier. A scan rather than a full parse:
 * the certificate is the device's own build-time trust anchor, not network input.
 */
export function publicKeyOfCertificate(cert: Uint8Array): Uint8Array | undefined {
	// OID 1.2.840.10045.2.1 then OID 1.2.840.10045.3.1.7, then BIT STRING (66 bytes: 0 unused bits + point)
	const marker = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00];
	outer: for (let i = 0; i + marker.length + 65 <= cert.length; i++) {
		for (let j = 0; j < marker.length; j++) if (cert[i + j] !== marker[j]) continue outer;
		return cert.slice(i + marker.length, i + marker.length + 65);
	}
	return undefined;
}
