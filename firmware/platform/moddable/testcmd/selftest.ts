/*
 * The platform's known-answer checks, run on request in a test build (the
 * test-control `self-test` command): the native crypto the robot relies on (AES-256-GCM,
 * SHA-2, HMAC, the RSA device key's OAEP unwrap and PKCS#1 v1.5 signature, randomness)
 * against published vectors, with the timings of the expensive ones. What was a separate
 * crypto scenario wiring of its own is now a check of the shipped firmware.
 *
 * Vectors: GCM test case 16 (McGrew and Viega, AES-256 with AAD); SHA-256/512 "abc" (FIPS
 * 180-2); HMAC-SHA-512 RFC 4231 cases 2 and 6; the core's RSA test key with its OAEP vectors
 * and signature (core/crypto/testdata.ts, also checked on Node and in XS).
 */
/// <reference path="../moddable-crypto.d.ts" />
import Time from 'time';
import { oaepDecrypt } from '../../../core/crypto/oaep';
import { OAEP_VECTORS, ROBOT_SIGNATURE, TEST_KEY_PKCS8, hex, toHex } from '../../../core/crypto/testdata';
import { utf8Encode } from '../../../core/util/utf8';
import { createModdableDeviceKey, moddableCrypto } from '../crypto';

export interface SelfTestResult {
	readonly passed: number;
	readonly failed: readonly string[];
	/** Milliseconds of the timed operations, and native AES-GCM throughput in kB/s. */
	readonly timings: Readonly<Record<string, number>>;
}

export function runSelfTest(): SelfTestResult {
	const crypto = moddableCrypto;
	const failed: string[] = [];
	let passed = 0;
	const check = (ok: boolean, what: string) => (ok ? passed++ : failed.push(what));
	const timings: Record<string, number> = {};
	const text = utf8Encode;

	const gcm = crypto.aes256gcm(hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'));
	const p = hex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39');
	const iv = hex('cafebabefacedbaddecaf888');
	const aad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
	const out = new Uint8Array(p.length);
	const tag = gcm.seal(iv, aad, p, out);
	const ct = '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662';
	check(toHex(out) === ct && toHex(tag) === '76fc6ece0f4e1768cddf8853bb2d551b', 'AES-256-GCM test case 16');
	// in place (out === data), as the Encryption SDK writer seals frames
	const again = p.slice();
	check(toHex(gcm.seal(iv, aad, again, again)) === toHex(tag) && toHex(again) === ct, 'AES-256-GCM in place');
	gcm.dispose();

	check(toHex(crypto.sha256(text('abc'))) === 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'SHA-256 "abc"');
	check(toHex(crypto.sha256(new Uint8Array(0))) === 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'SHA-256 empty');
	check(toHex(crypto.sha512(text('abc'))) === 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f', 'SHA-512 "abc"');
	check(
		toHex(crypto.hmacSha512(text('Jefe'), text('what do ya want for nothing?'))) === '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737',
		'HMAC-SHA-512 RFC 4231 case 2',
	);
	check(
		toHex(crypto.hmacSha512(new Uint8Array(131).fill(0xaa), text('Test Using Larger Than Block-Size Key - Hash Key First'))) ===
			'80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598',
		'HMAC-SHA-512 RFC 4231 case 6 (131-byte key)',
	);
	const r1 = crypto.random(32);
	const r2 = crypto.random(32);
	check(r1.length === 32 && toHex(r1) !== toHex(r2) && r1.some((b) => b !== 0), 'random: 32 bytes, two calls differ');

	let t = Time.ticks;
	const key = createModdableDeviceKey(TEST_KEY_PKCS8);
	timings.keyParseMs = Time.ticks - t;
	check(key.modulusBytes === 256, 'device key: RSA-2048');
	OAEP_VECTORS.forEach(([message, ciphertext], i) => {
		t = Time.ticks;
		const r = oaepDecrypt(crypto, key, ciphertext);
		timings.oaepUnwrapMs = Math.max(timings.oaepUnwrapMs ?? 0, Time.ticks - t);
		check(r.ok && toHex(r.value) === toHex(message), 'OAEP vector ' + i);
	});
	const bad = OAEP_VECTORS[1]![1].slice();
	bad[100] = (bad[100] as number) ^ 1;
	const refused = oaepDecrypt(crypto, key, bad);
	check(!refused.ok && refused.error.code === 'decrypt', 'OAEP: a flipped ciphertext bit is refused');
	t = Time.ticks;
	check(toHex(key.signSha256(text('robot'))) === toHex(ROBOT_SIGNATURE), 'PKCS#1 v1.5 signature of "robot"');
	timings.signMs = Time.ticks - t;

	const frame = new Uint8Array(4096);
	const k = crypto.aes256gcm(crypto.random(32));
	const frames = 64;
	t = Time.ticks;
	for (let i = 0; i < frames; i++) k.seal(hex('000000000000000000000000'), new Uint8Array(78), frame, frame);
	timings.gcmKBps = Math.round((frames * 4096) / Math.max(1, Time.ticks - t));
	k.dispose();
	return { passed, failed, timings };
}
