/*
 * The crypto ports on Moddable, over the SDK's native `crypt` modules (C: AES, CTR,
 * GHASH, SHA-2) and its BigInt modular arithmetic (arith/modular.c, mont.c). Thin by
 * rule: the formats (OAEP, HKDF, the Encryption SDK message) live in the core and are
 * the same on every platform.
 *
 * Differences from Node that shape this file (all seen on 8.2.3, lin):
 * - The native calls want ArrayBuffers, not views: Mode.encrypt writes its result from
 *   the start of an ArrayBuffer `result`, GHASH reads `h` and `aad` as ArrayBuffers,
 *   BigInt.fromArrayBuffer refuses a view (and an empty buffer). Inputs that are views
 *   are copied into scratch ArrayBuffers; digests accept views as they are.
 * - The SDK's `gcm` module is not used: `GCM.encrypt(data, buf)` hashes the whole `buf`,
 *   so with a reusable scratch larger than the frame the tag covers bytes that are not
 *   the ciphertext, and `process` allocates ciphertext | tag for every frame. The same
 *   native parts (BlockCipher AES, Mode CTR, GHASH) are composed here instead: GCM
 *   with a 96-bit IV, J0 = IV | 0^31 | 1 [SP 800-38D §7.1].
 * - The SDK's `rng` is RC4 seeded with c_rand(): strong bytes come from entropy.c
 *   (getrandom on lin, the hardware RNG on ESP32).
 * - The SDK's `rsa` (and so `pkcs1_5`) does CRT without blinding or a result check, and
 *   asks for Montgomery's sliding window as `Mont.SW`, which is only on the prototype, so
 *   it gets left-to-right anyway. The device key here does CRT with Mont per prime,
 *   blinding with Modular mod n, and checks m^e before anything leaves.
 */
/// <reference path="./moddable-crypto.d.ts" />
import { BlockCipher, Digest, GHASH, Mode } from 'crypt';
import HMAC from 'hmac';
import Modular from 'modular';
import Mont from 'mont';
import entropy from './entropy';
import type { AeadKey, CryptoPort, DeviceKeyPort } from '../../ports';
import { emsaPkcs1Sha256, parseRsaPrivateKey, type RsaPrivateKey } from '../../core/crypto/rsa';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const BLOCK = 16;

function bytesArg(name: string, v: unknown, length?: number): asserts v is Uint8Array {
	if (!(v instanceof Uint8Array)) throw new TypeError('"' + name + '" expected Uint8Array, got ' + typeof v);
	if (length !== undefined && v.length !== length) throw new RangeError('"' + name + '" expected ' + length + ' bytes, got ' + v.length);
}

/** An ArrayBuffer holding exactly these bytes (the view's own buffer when it spans all of it). */
function exact(b: Uint8Array): ArrayBuffer {
	if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) return b.buffer;
	return b.slice().buffer as ArrayBuffer;
}

function aeadKey(key: Uint8Array): AeadKey {
	bytesArg('key', key, KEY_BYTES);
	const keyCopy = key.slice();
	let aes: BlockCipher | undefined = new BlockCipher('AES', keyCopy.buffer as ArrayBuffer);
	keyCopy.fill(0); // the cipher keeps its own schedule in C
	const ctr = new Mode('CTR', aes);
	// H = E(K, 0^128) [SP 800-38D §6.4]
	let h: Uint8Array | undefined = new Uint8Array(aes.encrypt(new ArrayBuffer(BLOCK)));
	const counter = new Uint8Array(BLOCK);
	const ek0 = new ArrayBuffer(BLOCK);
	let scratch = new ArrayBuffer(0);
	return {
		seal(iv, aad, data, out) {
			if (!aes || !h) throw new TypeError('AeadKey used after dispose()');
			bytesArg('iv', iv, IV_BYTES);
			bytesArg('aad', aad);
			bytesArg('data', data);
			bytesArg('out', out, data.length);
			// J0 = IV | 00000001; the tag mask is E(K, J0), the keystream starts at inc32(J0)
			counter.set(iv, 0);
			counter[12] = 0;
			counter[13] = 0;
			counter[14] = 0;
			counter[15] = 1;
			aes.encrypt(counter.buffer as ArrayBuffer, ek0); // BlockCipher reads an ArrayBuffer only
			counter[15] = 2;
			ctr.setIV(counter.buffer as ArrayBuffer);
			const ghash = aad.length ? new GHASH(h.buffer as ArrayBuffer, exact(aad)) : new GHASH(h.buffer as ArrayBuffer);
			const n = data.length;
			if (n) {
				if (scratch.byteLength < n) scratch = new ArrayBuffer(n);
				ctr.encrypt(data, scratch);
				const ct = new Uint8Array(scratch, 0, n);
				ghash.write(ct);
				out.set(ct); // after reading `data`: `out` may be the same array
			}
			// GHASH.close() appends len(A) | len(C) and finishes [SP 800-38D §7.1 step 5]
			const s = new Uint8Array(ghash.close());
			const mask = new Uint8Array(ek0);
			const tag = new Uint8Array(BLOCK);
			for (let i = 0; i < BLOCK; i++) tag[i] = (s[i] as number) ^ (mask[i] as number);
			return tag;
		},
		dispose() {
			h?.fill(0);
			h = undefined;
			aes = undefined; // the native schedule goes with the object
			counter.fill(0);
			new Uint8Array(ek0).fill(0);
			new Uint8Array(scratch).fill(0);
		},
	};
}

function digest(type: 'SHA256' | 'SHA512', data: Uint8Array): Uint8Array {
	bytesArg('data', data);
	const d = new Digest(type);
	if (data.length) d.write(data as unknown as ArrayBuffer); // a view is fine: xsmcGetBufferReadable
	return new Uint8Array(d.close());
}

/** Strong random bytes: the kernel's (lin) or the hardware RNG (ESP32), never the SDK's RC4 `rng`. */
export function strongRandom(n: number): Uint8Array {
	if (!Number.isInteger(n) || n < 0) throw new RangeError('"n" expected a non-negative integer, got ' + n);
	return n === 0 ? new Uint8Array(0) : new Uint8Array(entropy(n));
}

export const moddableCrypto: CryptoPort = Object.freeze({
	aes256gcm: aeadKey,
	sha256: (data: Uint8Array) => digest('SHA256', data),
	sha512: (data: Uint8Array) => digest('SHA512', data),
	hmacSha512(key: Uint8Array, data: Uint8Array): Uint8Array {
		bytesArg('key', key);
		bytesArg('data', data);
		// the SDK's HMAC copies the key into its pads (hashing it first when longer than a block)
		return new Uint8Array(new HMAC(new Digest('SHA512'), key).process(data));
	},
	random: strongRandom,
});

// ---- the device key ------------------------------------------------------------------

/** Big-endian unsigned bytes to a BigInt (natively: BigInt.fromArrayBuffer wants a non-empty ArrayBuffer). */
function os2ip(b: Uint8Array): bigint {
	return b.length ? BigInt.fromArrayBuffer(exact(b)) : 0n;
}

/** A BigInt to exactly `size` big-endian bytes [RFC 8017 §4.1]. */
function i2osp(x: bigint, size: number): Uint8Array {
	// fromBigInt pads to at least `size`; longer means it does not fit
	const b = new Uint8Array((ArrayBuffer as unknown as { fromBigInt(v: bigint, size: number): ArrayBuffer }).fromBigInt(x, size));
	if (b.length !== size) throw new RangeError('integer too large for ' + size + ' bytes');
	return b;
}

/**
 * The DeviceKeyPort over the key parsed from its PKCS#8 DER (the core's parser): RSADP
 * with the CRT, each half by native Montgomery exponentiation, blinded mod n with a fresh
 * r each time, and checked (m'^e = c') before the result leaves [RFC 8017 §5.1.2].
 */
export function createModdableDeviceKey(pkcs8: Uint8Array, random: (n: number) => Uint8Array = strongRandom): DeviceKeyPort {
	const parsed = parseRsaPrivateKey(pkcs8);
	if (!parsed.ok) throw new TypeError('device key: ' + parsed.error.reason);
	return deviceKeyFrom(parsed.value, random);
}

export function deviceKeyFrom(key: RsaPrivateKey, random: (n: number) => Uint8Array): DeviceKeyPort {
	const { n, e, p, q, dp, dq, qinv, size } = key;
	const modN = new Modular(n);
	const modP = new Mont({ m: p });
	const modQ = new Mont({ m: q });

	function privateOp(c: bigint): bigint {
		// blinding factor r in [2, n-1], invertible mod n (all but a negligible few are)
		let r = 0n;
		let rInv = 0n;
		for (;;) {
			const bytes = random(size);
			r = os2ip(bytes) % n;
			bytes.fill(0);
			if (r < 2n) continue;
			rInv = modN.mulinv(r);
			if (rInv > 0n && modN.mul(r, rInv) === 1n) break;
		}
		const blinded = modN.mul(c, modN.exp(r, e));
		const m1 = modP.exp(blinded % p, dp);
		const m2 = modQ.exp(blinded % q, dq);
		// h = qinv (m1 - m2) mod p; m = m2 + h q [RFC 8017 §5.1.2 2.b]
		let d = (m1 - m2) % p;
		if (d < 0n) d += p;
		const m = m2 + ((qinv * d) % p) * q;
		// a faulty CRT half would leak a factor of n through gcd(m^e - c, n)
		if (modN.exp(m, e) !== blinded) throw new Error('RSA private operation failed its check');
		return modN.mul(m, rInv);
	}

	return Object.freeze({
		modulusBytes: size,
		rsaPrivateRaw(block: Uint8Array): Uint8Array {
			bytesArg('block', block, size);
			const c = os2ip(block);
			if (c >= n) throw new RangeError('"block" expected a value below the modulus');
			return i2osp(privateOp(c), size);
		},
		signSha256(data: Uint8Array): Uint8Array {
			bytesArg('data', data);
			return i2osp(privateOp(os2ip(emsaPkcs1Sha256(digest('SHA256', data), size))), size);
		},
	});
}
