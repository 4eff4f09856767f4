/*
 * crypto-kat: the Moddable crypto adapters (firmware/platform/moddable/crypto.ts) against
 * known answers, on the device. GCM: test case 16 of the GCM specification (McGrew and
 * Viega, AES-256 with AAD) and a series of seals under one key with sizes 4096 down to 0
 * (the scratch buffer is reused, larger than the data) whose outputs hash to what
 * node:crypto gives; SHA-256/512 ("abc", FIPS 180-2, and a 1000-byte pattern); HMAC-SHA-512
 * (RFC 4231 cases 2 and 6, the second with a key longer than the block); the device key
 * from the core's test key: every OAEP vector through the core's `oaepDecrypt`, and the
 * PKCS#1 v1.5 signature equal to ROBOT_SIGNATURE (and to the SDK's own pkcs1_5). Metrics:
 * the RSA private operation, and native AES-GCM / SHA-256 throughput.
 * The link is never started: nothing here needs the network.
 */
/// <reference path="../../../firmware/platform/moddable/moddable-crypto.d.ts" />
import Time from 'time';
import PKCS8 from 'pkcs8';
import PKCS1_5 from 'pkcs1_5';
import { Digest } from 'crypt';
import { oaepDecrypt } from '../../../firmware/core/crypto/oaep';
import { OAEP_VECTORS, ROBOT_SIGNATURE, TEST_KEY_PKCS8, hex, toHex } from '../../../firmware/core/crypto/testdata';
import { createModdableDeviceKey, moddableCrypto } from '../../../firmware/platform/moddable/crypto';
import type { Scenario } from './index';
import { text } from './bytes';

/** sha256 of ct|tag of every seal in the series, from node:crypto (createCipheriv aes-256-gcm). */
const GCM_SERIES_SHA256 = '7dad87bbd5732bf18ba74a84a24ffd2f647269e8f3625ac110ad461a4aebab5b';
const GCM_SERIES_SIZES = [4096, 0, 1, 15, 16, 17, 100, 4095];

const scenario: Scenario = {
	timeoutMs: 30_000,
	run(c) {
		const failures: string[] = [];
		const check = (ok: boolean, what: string, got?: string) => {
			trace((ok ? 'ok - ' : 'not ok - ') + what + (ok || got === undefined ? '' : ' (got ' + got + ')') + '\n');
			if (!ok) failures.push(what);
		};
		const crypto = moddableCrypto;

		// ---- AES-256-GCM ----------------------------------------------------------------
		{
			const k = crypto.aes256gcm(hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'));
			const p = hex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39');
			const out = new Uint8Array(p.length);
			const tag = k.seal(hex('cafebabefacedbaddecaf888'), hex('feedfacedeadbeeffeedfacedeadbeefabaddad2'), p, out);
			const ct = '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662';
			check(toHex(out) === ct, 'AES-256-GCM test case 16: ciphertext', toHex(out));
			check(toHex(tag) === '76fc6ece0f4e1768cddf8853bb2d551b', 'AES-256-GCM test case 16: tag', toHex(tag));
			// in place (out === data), as the Encryption SDK writer seals frames
			const again = p.slice();
			const tag2 = k.seal(hex('cafebabefacedbaddecaf888'), hex('feedfacedeadbeeffeedfacedeadbeefabaddad2'), again, again);
			check(toHex(again) === ct && toHex(tag2) === toHex(tag), 'AES-256-GCM in place (out === data)');
			k.dispose();
			let threw = false;
			try {
				k.seal(new Uint8Array(12), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0));
			} catch {
				threw = true;
			}
			check(threw, 'AeadKey refuses to seal after dispose()');
		}
		{
			const k = crypto.aes256gcm(Uint8Array.from({ length: 32 }, (_, i) => i));
			const all = new Digest('SHA256');
			GCM_SERIES_SIZES.forEach((n, i) => {
				const iv = new Uint8Array(12);
				new DataView(iv.buffer).setUint32(8, i + 1);
				const data = Uint8Array.from({ length: n }, (_, j) => (j * 7 + i) & 255);
				// a view into a larger buffer, at an offset, as frames are
				const frame = new Uint8Array(n + 20).subarray(4, 4 + n);
				const tag = k.seal(iv, text('aad-' + i), data, frame);
				if (n) all.write(frame.slice().buffer as ArrayBuffer);
				all.write(tag.slice().buffer as ArrayBuffer);
			});
			const got = toHex(new Uint8Array(all.close()));
			check(got === GCM_SERIES_SHA256, 'AES-256-GCM series of ' + GCM_SERIES_SIZES.length + ' seals (sizes ' + GCM_SERIES_SIZES.join('/') + ') == node:crypto', got);
			k.dispose();
		}

		// ---- SHA-2, HMAC ------------------------------------------------------------------
		const pattern = Uint8Array.from({ length: 1000 }, (_, j) => (j * 13 + 5) & 255);
		check(toHex(crypto.sha256(text('abc'))) === 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'SHA-256 "abc"');
		check(toHex(crypto.sha256(new Uint8Array(0))) === 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'SHA-256 empty');
		check(toHex(crypto.sha256(pattern.subarray(0))) === '7994e00959d889b2edd138584884b26ecd04053d86779cb88d89202dea18e599', 'SHA-256 1000-byte pattern');
		check(toHex(crypto.sha256(new Uint8Array(1010).fill(9).subarray(5, 1005).map((_, j) => (j * 13 + 5) & 255))) === '7994e00959d889b2edd138584884b26ecd04053d86779cb88d89202dea18e599', 'SHA-256 of a view');
		check(toHex(crypto.sha512(text('abc'))) === 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f', 'SHA-512 "abc"');
		check(toHex(crypto.sha512(pattern)) === 'f4ba19368b78c37d6be5c5ade6beaa2cfd73292e0cfcea4144165f391e91cc7b46ff2b03c3ba3d5b80b1f83cb30b454c212c2758b47607e97df251c406ffedfe', 'SHA-512 1000-byte pattern');
		check(
			toHex(crypto.hmacSha512(text('Jefe'), text('what do ya want for nothing?'))) ===
				'164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737',
			'HMAC-SHA-512 RFC 4231 case 2',
		);
		check(
			toHex(crypto.hmacSha512(new Uint8Array(131).fill(0xaa), text('Test Using Larger Than Block-Size Key - Hash Key First'))) ===
				'80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598',
			'HMAC-SHA-512 RFC 4231 case 6 (131-byte key)',
		);
		const r1 = crypto.random(32);
		const r2 = crypto.random(32);
		check(r1.length === 32 && toHex(r1) !== toHex(r2) && r1.some((b) => b !== 0), 'random(32): 32 bytes, two calls differ');

		// ---- the device key ---------------------------------------------------------------
		let t = Time.ticks;
		const key = createModdableDeviceKey(TEST_KEY_PKCS8);
		c.metric({ name: 'crypto.key_parse', ms: Time.ticks - t });
		check(key.modulusBytes === 256, 'device key: RSA-2048 (256-byte modulus)');
		OAEP_VECTORS.forEach(([message, ciphertext], i) => {
			t = Time.ticks;
			const r = oaepDecrypt(crypto, key, ciphertext);
			const ms = Time.ticks - t;
			check(r.ok && toHex(r.value) === toHex(message), 'OAEP vector ' + i + ' (' + message.length + ' bytes) through oaepDecrypt', r.ok ? toHex(r.value) : JSON.stringify(r.error));
			c.metric({ name: 'crypto.oaep_unwrap', vector: i, ms });
		});
		const bad = OAEP_VECTORS[1]![1].slice();
		bad[100] = (bad[100] as number) ^ 1;
		const refused = oaepDecrypt(crypto, key, bad);
		check(!refused.ok && refused.error.code === 'decrypt', 'OAEP: a flipped ciphertext bit is a decrypt error');
		t = Time.ticks;
		const sig = key.signSha256(text('robot'));
		c.metric({ name: 'crypto.sign_sha256', ms: Time.ticks - t });
		check(toHex(sig) === toHex(ROBOT_SIGNATURE), 'signSha256("robot") == ROBOT_SIGNATURE', toHex(sig).slice(0, 32) + '...');
		t = Time.ticks;
		const sdk = new PKCS1_5(PKCS8.parse(new Uint8Array(TEST_KEY_PKCS8)) as Record<string, bigint>, true, [2, 16, 840, 1, 101, 3, 4, 2, 1]);
		const sdkSig = new Uint8Array(sdk.sign(crypto.sha256(text('robot')).slice().buffer as ArrayBuffer));
		c.metric({ name: 'crypto.sdk_pkcs1_5_sign', ms: Time.ticks - t });
		check(toHex(sdkSig) === toHex(ROBOT_SIGNATURE), "the SDK's pkcs1_5 gives the same signature");

		// ---- native throughput ------------------------------------------------------------
		{
			const frame = new Uint8Array(4096);
			const k = crypto.aes256gcm(crypto.random(32));
			const iv = new Uint8Array(12);
			const aad = new Uint8Array(78);
			const frames = 64; // 256 KB
			t = Time.ticks;
			for (let i = 0; i < frames; i++) {
				new DataView(iv.buffer).setUint32(8, i + 1);
				k.seal(iv, aad, frame, frame);
			}
			const ms = Math.max(1, Time.ticks - t);
			k.dispose();
			c.metric({ name: 'crypto.native_gcm', bytes: frames * 4096, ms, kBps: Math.round((frames * 4096) / ms) });
			t = Time.ticks;
			for (let i = 0; i < frames * 8; i++) crypto.sha256(frame);
			const shaMs = Math.max(1, Time.ticks - t);
			c.metric({ name: 'crypto.native_sha256', bytes: frames * 8 * 4096, ms: shaMs, kBps: Math.round((frames * 8 * 4096) / shaMs) });
		}

		// ---- the portable path (@noble in JS on XS) on the same device, 64 KB ----------------
		// imported here only: loading it builds its tables in the chunk heap (about 640 KB on lin), which
		// every other scenario of this build (the map-upload heap peaks above all) must not carry
		const portableStep = ({ createPortableCrypto }: typeof import('./portable-crypto')) => {
			const portable = createPortableCrypto((n) => crypto.random(n));
			const kp = portable.aes256gcm(hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'));
			const p = hex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39');
			const out = new Uint8Array(p.length);
			const tag = kp.seal(hex('cafebabefacedbaddecaf888'), hex('feedfacedeadbeeffeedfacedeadbeefabaddad2'), p, out);
			check(toHex(tag) === '76fc6ece0f4e1768cddf8853bb2d551b', 'portable AES-256-GCM test case 16 on XS (tag)', toHex(tag));
			kp.dispose();
			const frame = new Uint8Array(4096);
			const k = portable.aes256gcm(crypto.random(32));
			const iv = new Uint8Array(12);
			const aad = new Uint8Array(78);
			const frames = 16; // 64 KB
			t = Time.ticks;
			for (let i = 0; i < frames; i++) {
				new DataView(iv.buffer).setUint32(8, i + 1);
				k.seal(iv, aad, frame, frame);
			}
			const ms = Math.max(1, Time.ticks - t);
			k.dispose();
			c.metric({ name: 'crypto.portable_gcm', bytes: frames * 4096, ms, kBps: Math.round((frames * 4096) / ms) });
			t = Time.ticks;
			for (let i = 0; i < frames; i++) portable.sha256(frame);
			const shaMs = Math.max(1, Time.ticks - t);
			c.metric({ name: 'crypto.portable_sha256', bytes: frames * 4096, ms: shaMs, kBps: Math.round((frames * 4096) / shaMs) });
		};

		import('./portable-crypto').then(portableStep).then(
			() => {
				if (failures.length) c.fail(failures.length + ' check(s) failed: ' + failures.join('; '));
				else c.pass();
			},
			(e: unknown) => c.fail('portable crypto: ' + String(e)),
		);
	},
};
export default scenario;
