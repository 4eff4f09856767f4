/*
 * The portable CryptoPort: pure TypeScript over @noble/ciphers (AES-GCM) and
 * @noble/hashes (SHA-2, HMAC), for engines without native primitives (bare XS in
 * CI, the simulator). Only randomness cannot be portable: the platform hands in its
 * strong RNG. Moddable builds use the native `crypt` modules instead; this is the
 * fallback and the reference the native adapters are tested against.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import type { AeadKey, CryptoPort } from '../../ports';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A strong random source: `n` bytes from the platform's CSPRNG. */
export type RandomBytes = (n: number) => Uint8Array;

function bytesArg(name: string, v: unknown, length?: number): asserts v is Uint8Array {
	if (!(v instanceof Uint8Array)) throw new TypeError('"' + name + '" expected Uint8Array, got ' + typeof v);
	if (length !== undefined && v.length !== length) throw new RangeError('"' + name + '" expected ' + length + ' bytes, got ' + v.length);
}

function aeadKey(key: Uint8Array): AeadKey {
	bytesArg('key', key, KEY_BYTES);
	// our own copy, so dispose() wipes what we hold and the caller may wipe theirs now
	const k = key.slice();
	let disposed = false;
	return {
		seal(iv, aad, data, out) {
			if (disposed) throw new TypeError('AeadKey used after dispose()');
			bytesArg('iv', iv, IV_BYTES);
			bytesArg('aad', aad);
			bytesArg('data', data);
			bytesArg('out', out, data.length);
			// noble's GCM writes ciphertext | tag into a fresh array; the copy into `out` is
			// what the port's "may be the same array" needs, at one frame of garbage per call
			const sealed = gcm(k, iv, aad).encrypt(data);
			out.set(sealed.subarray(0, data.length));
			const tag = sealed.slice(data.length, data.length + TAG_BYTES);
			sealed.fill(0);
			return tag;
		},
		dispose() {
			k.fill(0);
			disposed = true;
		},
	};
}

/** A CryptoPort in pure TS; `random` is the platform's strong RNG (checked on every call). */
export function createPortableCrypto(random: RandomBytes): CryptoPort {
	if (typeof random !== 'function') throw new TypeError('"random" expected a function, got ' + typeof random);
	return Object.freeze({
		aes256gcm: aeadKey,
		sha256(data: Uint8Array) {
			bytesArg('data', data);
			return sha256(data);
		},
		sha512(data: Uint8Array) {
			bytesArg('data', data);
			return sha512(data);
		},
		hmacSha512(key: Uint8Array, data: Uint8Array) {
			bytesArg('key', key);
			bytesArg('data', data);
			return hmac(sha512, key, data);
		},
		random(n: number) {
			if (!Number.isInteger(n) || n < 0) throw new RangeError('"n" expected a non-negative integer, got ' + n);
			const r = random(n);
			if (!(r instanceof Uint8Array) || r.length !== n) throw new TypeError('random source gave ' + (r instanceof Uint8Array ? r.length + ' bytes' : typeof r) + ', expected ' + n + ' bytes');
			return r;
		},
	});
}
