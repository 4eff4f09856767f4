/* The portable CryptoPort against published vectors (FIPS 180-2, RFC 4231, GCM test case 16). */
import * as assert from '../../core/testing/assert';
import { createPortableCrypto } from './crypto';
import { hex, testRandom, toHex } from '../../core/crypto/testdata';

const crypto = createPortableCrypto(testRandom());
const abc = new Uint8Array([0x61, 0x62, 0x63]);

describe('portable crypto', () => {
	it('SHA-256("abc") [FIPS 180-2 B.1]', () => {
		assert.equal(toHex(crypto.sha256(abc)), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
	});
	it('SHA-512("abc") [FIPS 180-2 C.1]', () => {
		assert.equal(toHex(crypto.sha512(abc)), 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f');
	});
	it('HMAC-SHA-512 [RFC 4231 test case 2]', () => {
		const key = new TextEncoder().encode('Jefe');
		const data = new TextEncoder().encode('what do ya want for nothing?');
		assert.equal(toHex(crypto.hmacSha512(key, data)), '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737');
	});
	describe('AES-256-GCM [McGrew-Viega test case 16]', () => {
		const key = hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308');
		const iv = hex('cafebabefacedbaddecaf888');
		const aad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
		const plain = hex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39');
		const cipher = '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662';
		const tag = '76fc6ece0f4e1768cddf8853bb2d551b';
		it('seals into a separate output', () => {
			const out = new Uint8Array(plain.length);
			const k = crypto.aes256gcm(key);
			assert.equal(toHex(k.seal(iv, aad, plain, out)), tag);
			assert.equal(toHex(out), cipher);
		});
		it('seals in place, and the key may be wiped by the caller at once', () => {
			const mine = key.slice();
			const k = crypto.aes256gcm(mine);
			mine.fill(0);
			const data = plain.slice();
			assert.equal(toHex(k.seal(iv, aad, data, data)), tag);
			assert.equal(toHex(data), cipher);
		});
		it('refuses use after dispose and bad sizes', () => {
			const k = crypto.aes256gcm(key);
			assert.throws(() => k.seal(new Uint8Array(8), aad, plain, new Uint8Array(plain.length)), /"iv" expected 12 bytes, got 8/);
			assert.throws(() => k.seal(iv, aad, plain, new Uint8Array(3)), /"out" expected 60 bytes, got 3/);
			k.dispose();
			assert.throws(() => k.seal(iv, aad, plain, new Uint8Array(plain.length)), /after dispose/);
			assert.throws(() => crypto.aes256gcm(new Uint8Array(16)), /"key" expected 32 bytes, got 16/);
		});
	});
	it('random comes from the given source, checked for length', () => {
		assert.deepEqual(crypto.random(5), testRandom()(5));
		const liar = createPortableCrypto(() => new Uint8Array(1));
		assert.throws(() => liar.random(4), /random source gave 1 bytes, expected 4 bytes/);
	});
});
