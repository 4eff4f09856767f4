/*
 * RSAES-OAEP decryption [RFC 8017 §7.1.2] with SHA-256, MGF1-SHA-256 and the empty
 * label: how the cloud wraps a map's data key to the device certificate key
 * (design.md, "Key choices"). The device has only its raw private operation
 * (DeviceKeyPort.rsaPrivateRaw); the padding is undone here, once for every platform.
 *
 * Every check after the private operation is folded into one flag without an early
 * exit, and all of them fail with the same `decrypt` error: an attacker who can tell
 * "first byte not zero" from "label hash differs" has Manger's oracle [RFC 8017 §7.1.2
 * note]. Only the ciphertext length, which is public, gets its own error.
 */
import type { CryptoPort, DeviceKeyPort } from '../../ports';
import { err, ok, type Result } from '../util/result';

const HASH_BYTES = 32;

export type OaepError = { readonly code: 'length'; readonly expected: number; readonly got: number } | { readonly code: 'decrypt' };

/** MGF1 with SHA-256 [RFC 8017 B.2.1]: `length` bytes of Hash(seed | counter) blocks, XORed into `target`. */
function xorMgf1(sha256: CryptoPort['sha256'], seed: Uint8Array, target: Uint8Array): void {
	const input = new Uint8Array(seed.length + 4);
	input.set(seed, 0);
	const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
	for (let counter = 0, at = 0; at < target.length; counter++, at += HASH_BYTES) {
		view.setUint32(seed.length, counter);
		const block = sha256(input);
		const n = Math.min(HASH_BYTES, target.length - at);
		for (let i = 0; i < n; i++) target[at + i] = (target[at + i] as number) ^ (block[i] as number);
		block.fill(0);
	}
	input.fill(0);
}

/**
 * Decrypts one OAEP ciphertext of exactly `key.modulusBytes` bytes. Answers the message,
 * or `length` for a ciphertext of the wrong size, or `decrypt` for anything else.
 */
export function oaepDecrypt(crypto: CryptoPort, key: DeviceKeyPort, ciphertext: Uint8Array): Result<Uint8Array, OaepError> {
	if (!(ciphertext instanceof Uint8Array)) throw new TypeError('"ciphertext" expected Uint8Array, got ' + typeof ciphertext);
	const k = key.modulusBytes;
	// k >= 2 hLen + 2 [RFC 8017 §7.1.2 step 1.c]: a key too small for SHA-256 OAEP is a wiring error
	if (k < 2 * HASH_BYTES + 2) throw new RangeError('"key" modulus of ' + k + ' bytes is too short for OAEP with SHA-256');
	if (ciphertext.length !== k) return err({ code: 'length', expected: k, got: ciphertext.length }); // step 1.b

	// RSADP [step 2]; a representative >= n is a decryption error like any other
	let em: Uint8Array;
	try {
		em = key.rsaPrivateRaw(ciphertext);
	} catch {
		return err({ code: 'decrypt' });
	}
	if (em.length !== k) {
		em.fill(0);
		return err({ code: 'decrypt' });
	}

	// EM = Y | maskedSeed | maskedDB [step 3.b]; unmask in place [steps 3.c-3.f]
	const seed = em.subarray(1, 1 + HASH_BYTES);
	const db = em.subarray(1 + HASH_BYTES);
	xorMgf1(crypto.sha256, db, seed);
	xorMgf1(crypto.sha256, seed, db);

	// DB = lHash' | PS (zeros) | 0x01 | M [step 3.g], checked without data-dependent branches
	const lHash = crypto.sha256(new Uint8Array(0)); // the empty label [step 3.a]
	let bad = em[0] as number; // Y must be 0
	for (let i = 0; i < HASH_BYTES; i++) bad |= (db[i] as number) ^ (lHash[i] as number);
	let found = 0; // becomes 1 at the 0x01 separator and stays
	let start = 0; // index in DB of M
	for (let i = HASH_BYTES; i < db.length; i++) {
		const b = db[i] as number;
		const isOne = ((b ^ 1) - 1) >>> 31; // 1 when b == 1
		const isZero = (b - 1) >>> 31; // 1 when b == 0
		const first = isOne & (found ^ 1);
		start |= -first & (i + 1);
		bad |= (found ^ 1) & ((isOne | isZero) ^ 1); // before the separator only zeros may appear
		found |= isOne;
	}
	bad |= found ^ 1;

	if (bad !== 0) {
		em.fill(0);
		return err({ code: 'decrypt' });
	}
	const message = db.slice(start);
	em.fill(0);
	return ok(message);
}
