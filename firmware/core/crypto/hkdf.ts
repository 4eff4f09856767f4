/*
 * HKDF, the HMAC-based extract-and-expand key derivation function [RFC 5869], over
 * an HMAC the caller supplies. The Encryption SDK message (core/maps/esdk.ts) uses
 * it with HMAC-SHA-512 from the crypto port; the tests also run the RFC's own
 * SHA-256 vectors through it, which is why the hash is a parameter.
 */
import type { CryptoPort } from '../../ports';

/** A keyed MAC and its output length in bytes (HashLen of RFC 5869 §2.1). */
export interface Hmac {
	readonly outputLen: number;
	mac(key: Uint8Array, data: Uint8Array): Uint8Array;
}

/** HMAC-SHA-512 of the crypto port. */
export function hmacSha512(crypto: CryptoPort): Hmac {
	return Object.freeze({ outputLen: 64, mac: (key: Uint8Array, data: Uint8Array) => crypto.hmacSha512(key, data) });
}

/** PRK = HMAC-Hash(salt, IKM); an empty salt stands for HashLen zero bytes [RFC 5869 §2.2]. */
export function hkdfExtract(hmac: Hmac, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
	const key = salt.length === 0 ? new Uint8Array(hmac.outputLen) : salt;
	return hmac.mac(key, ikm);
}

/**
 * OKM = first L bytes of T(1) | T(2) | ..., T(i) = HMAC-Hash(PRK, T(i-1) | info | i)
 * [RFC 5869 §2.3]. L is at most 255 * HashLen; PRK is at least HashLen bytes.
 */
export function hkdfExpand(hmac: Hmac, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
	const hashLen = hmac.outputLen;
	if (!Number.isInteger(length) || length < 0 || length > 255 * hashLen) {
		throw new RangeError('"length" expected an integer from 0 to ' + 255 * hashLen + ', got ' + length);
	}
	if (prk.length < hashLen) throw new RangeError('"prk" expected >= ' + hashLen + ' bytes, got ' + prk.length);
	const okm = new Uint8Array(length);
	// one input buffer for every round: T(i-1) (absent in round 1) | info | counter
	const input = new Uint8Array(hashLen + info.length + 1);
	let previous = 0;
	for (let i = 1, at = 0; at < length; i++) {
		input.set(info, hashLen);
		input[hashLen + info.length] = i;
		const t = hmac.mac(prk, input.subarray(hashLen - previous));
		okm.set(t.subarray(0, Math.min(hashLen, length - at)), at);
		input.set(t, 0);
		t.fill(0);
		previous = hashLen;
		at += hashLen;
	}
	input.fill(0);
	return okm;
}

/** Extract then expand [RFC 5869 §2]. */
export function hkdf(hmac: Hmac, ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
	const prk = hkdfExtract(hmac, salt, ikm);
	try {
		return hkdfExpand(hmac, prk, info, length);
	} finally {
		prk.fill(0);
	}
}
