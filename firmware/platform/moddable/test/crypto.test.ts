/*
 * The crypto adapters (../crypto.ts) inside XS over the fakes of `crypt`, `hmac`, `modular`,
 * `mont` and our native entropy (fakes/): every result equal to the portable crypto port
 * (platform/portable/crypto.ts, @noble) and the core's RSA, for inputs that are views into larger
 * buffers at odd offsets, which is where the SDK's ArrayBuffer-only native arguments bite
 * (the fakes throw as modCrypt.c's xsmcToArrayBuffer does).
 */
import * as assert from '../../../core/testing/assert';
import { createPortableCrypto } from '../../portable/crypto';
import { createRsaDeviceKey, modPow, parseRsaPrivateKey, toBigInt, toBytes } from '../../../core/crypto/rsa';
import { TEST_KEY_PKCS8, hex, testRandom, toHex } from '../../../core/crypto/testdata';
import { createModdableDeviceKey, moddableCrypto } from '../crypto';
import { entropyFake } from './fakes/entropy';

const portable = createPortableCrypto(testRandom());

/** `bytes` as a view into a larger buffer at an odd offset (so its buffer is not just these bytes). */
function offsetView(bytes: Uint8Array, offset = 3): Uint8Array {
	const backing = new Uint8Array(bytes.length + offset + 5).fill(0xee);
	backing.set(bytes, offset);
	return backing.subarray(offset, offset + bytes.length);
}
const pattern = (n: number, k = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * k + 11) & 0xff);

function seal(port: typeof moddableCrypto, key: Uint8Array, iv: Uint8Array, aad: Uint8Array, data: Uint8Array): string {
	const k = port.aes256gcm(key);
	const out = new Uint8Array(data.length);
	const tag = k.seal(iv, aad, data, out);
	k.dispose();
	return toHex(out) + '|' + toHex(tag);
}

describe('moddable crypto adapter over crypt / hmac / modular / mont', () => {
	beforeEach(() => entropyFake.reset());

	it('AES-256-GCM answers the NIST vector (SP 800-38D test case 16: 256-bit key, 60 bytes, 20 of AAD)', () => {
		const key = hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308');
		const iv = hex('cafebabefacedbaddecaf888');
		const pt = hex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39');
		const aad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
		assert.equal(seal(moddableCrypto, key, iv, aad, pt), '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662|76fc6ece0f4e1768cddf8853bb2d551b');
	});

	it('AES-256-GCM equals the portable port for every length around the block, views at offsets, with and without AAD', () => {
		const key = pattern(32, 7);
		const iv = pattern(12, 3);
		for (const n of [0, 1, 15, 16, 17, 31, 32, 33, 100, 4096 + 5]) {
			for (const a of [0, 5, 16, 33]) {
				const data = pattern(n, 5);
				const aad = pattern(a, 9);
				const want = seal(portable, key, iv, aad, data);
				assert.equal(seal(moddableCrypto, offsetView(key), offsetView(iv), offsetView(aad), offsetView(data)), want, 'n=' + n + ' aad=' + a);
			}
		}
	});

	it('one key seals many frames (the counter and GHASH start afresh each time), in place when out is data', () => {
		const key = pattern(32, 3);
		const m = moddableCrypto.aes256gcm(key);
		const p = portable.aes256gcm(key);
		for (let i = 0; i < 5; i++) {
			const iv = pattern(12, i + 1);
			const data = pattern(50 + i * 40, i + 2);
			const want = new Uint8Array(data.length);
			const wantTag = p.seal(iv, new Uint8Array(0), data, want);
			const inPlace = data.slice();
			const tag = m.seal(iv, new Uint8Array(0), inPlace, inPlace);
			assert.equal(toHex(inPlace) + toHex(tag), toHex(want) + toHex(wantTag), 'frame ' + i);
		}
		m.dispose();
		assert.throws(() => m.seal(pattern(12), new Uint8Array(0), new Uint8Array(1), new Uint8Array(1)), /after dispose/);
	});

	it("refuses bad arguments with the port's errors", () => {
		assert.throws(() => moddableCrypto.aes256gcm(new Uint8Array(16)), /"key" expected 32 bytes/);
		const k = moddableCrypto.aes256gcm(new Uint8Array(32));
		assert.throws(() => k.seal(new Uint8Array(8), new Uint8Array(0), new Uint8Array(1), new Uint8Array(1)), /"iv" expected 12 bytes/);
		assert.throws(() => k.seal(new Uint8Array(12), new Uint8Array(0), new Uint8Array(4), new Uint8Array(3)), /"out" expected 4 bytes/);
		assert.throws(() => moddableCrypto.sha256([1, 2] as unknown as Uint8Array), /expected Uint8Array/);
	});

	it('SHA-256, SHA-512 and HMAC-SHA-512 equal the portable port, on views at offsets, empty and long keys', () => {
		for (const n of [0, 1, 55, 56, 64, 127, 128, 1000]) {
			const data = pattern(n, 3);
			assert.equal(toHex(moddableCrypto.sha256(offsetView(data))), toHex(portable.sha256(data)), 'sha256 ' + n);
			assert.equal(toHex(moddableCrypto.sha512(offsetView(data))), toHex(portable.sha512(data)), 'sha512 ' + n);
		}
		for (const k of [0, 20, 128, 129, 300]) {
			const key = pattern(k, 13);
			const data = pattern(77, 2);
			assert.equal(toHex(moddableCrypto.hmacSha512(offsetView(key), offsetView(data))), toHex(portable.hmacSha512(key, data)), 'hmac key ' + k);
		}
	});

	it('random bytes come from the native entropy source, not Math.random', () => {
		const r = moddableCrypto.random(16);
		assert.equal(r.length, 16);
		assert.deepEqual(entropyFake.calls, [16]);
		assert.equal(moddableCrypto.random(0).length, 0);
		assert.deepEqual(entropyFake.calls, [16], 'no native call for 0 bytes');
		assert.throws(() => moddableCrypto.random(-1), /non-negative integer/);
		assert.throws(() => moddableCrypto.random(1.5), /non-negative integer/);
	});

	it("the device key signs exactly as the core's RSA (PKCS#1 v1.5 is deterministic), blinded with fresh entropy each time", () => {
		const parsed = parseRsaPrivateKey(TEST_KEY_PKCS8);
		assert.ok(parsed.ok);
		const reference = createRsaDeviceKey(parsed.value, { sha256: portable.sha256, random: testRandom(7) });
		const key = createModdableDeviceKey(offsetView(TEST_KEY_PKCS8));
		assert.equal(key.modulusBytes, 256);
		for (const msg of [new Uint8Array(0), pattern(1), pattern(1000, 3)]) {
			assert.equal(toHex(key.signSha256(offsetView(msg))), toHex(reference.signSha256(msg)));
		}
		assert.equal(entropyFake.calls.length, 3, 'one blinding factor per signature');
		assert.ok(entropyFake.calls.every((n) => n === 256));
	});

	it('the raw private operation is c^d mod n, and refuses a block that is not below the modulus or not the modulus length', () => {
		const parsed = parseRsaPrivateKey(TEST_KEY_PKCS8);
		assert.ok(parsed.ok);
		const { n, d, size } = parsed.value as typeof parsed.value & { d: bigint };
		const key = createModdableDeviceKey(TEST_KEY_PKCS8);
		const c = toBytes(0x1234567890abcdefn * 0x1000000000001n, size);
		assert.equal(toHex(key.rsaPrivateRaw(offsetView(c))), toHex(toBytes(modPow(toBigInt(c), d, n), size)));
		assert.throws(() => key.rsaPrivateRaw(toBytes(n, size)), /below the modulus/);
		assert.throws(() => key.rsaPrivateRaw(new Uint8Array(size - 1)), /expected 256 bytes/);
		// a leading zero block: BigInt.fromArrayBuffer is given the whole block, never an empty one
		assert.equal(toHex(key.rsaPrivateRaw(new Uint8Array(size))), toHex(new Uint8Array(size)));
	});

	it("refuses a key that is not PKCS#8 RSA with the parser's reason", () => {
		assert.throws(() => createModdableDeviceKey(pattern(40)), /device key: /);
	});
});
