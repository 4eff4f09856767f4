/* The portable device key: PKCS#8 parsing, RSADP with CRT and blinding, PKCS#1 v1.5 signatures. */
import * as assert from '../testing/assert';
import { createPortableCrypto } from '../../platform/portable/crypto';
import { createRsaDeviceKey, modInverse, modPow, parseRsaPrivateKey, toBigInt, toBytes } from './rsa';
import { ROBOT_SIGNATURE, TEST_KEY_PKCS8, testRandom } from './testdata';

const crypto = createPortableCrypto(testRandom());

function parsed() {
	const r = parseRsaPrivateKey(TEST_KEY_PKCS8);
	if (!r.ok) throw new Error(r.error.reason);
	return r.value;
}

describe('rsa', () => {
	it('parses the PKCS#8 test key: 2048 bits, e = 65537', () => {
		const k = parsed();
		assert.equal(k.size, 256);
		assert.equal(k.e, 65537n);
		assert.equal(k.p * k.q, k.n);
	});
	it('modPow and modInverse on small numbers', () => {
		assert.equal(modPow(4n, 13n, 497n), 445n);
		assert.equal(modPow(7n, 0n, 13n), 1n);
		assert.equal(modInverse(3n, 11n), 4n);
		assert.equal(modInverse(6n, 9n), undefined);
	});
	it('toBytes is I2OSP: left-padded, refuses what does not fit', () => {
		assert.deepEqual(toBytes(0x0102n, 4), new Uint8Array([0, 0, 1, 2]));
		assert.equal(toBigInt(toBytes(0xabcdefn, 3)), 0xabcdefn);
		assert.throws(() => toBytes(0x10000n, 2), /too large/);
	});
	it('the raw private operation inverts the public one (blinded, CRT)', () => {
		const k = parsed();
		const key = createRsaDeviceKey(k, { sha256: crypto.sha256, random: crypto.random });
		const m = 0x1234567890abcdefn;
		const c = toBytes(modPow(m, k.e, k.n), 256);
		assert.equal(toBigInt(key.rsaPrivateRaw(c)), m);
		assert.equal(toBigInt(key.rsaPrivateRaw(c)), m, 'again, with a fresh blinding factor');
	});
	it('signs "robot" exactly as node:crypto does (PKCS#1 v1.5 is deterministic)', () => {
		const key = createRsaDeviceKey(parsed(), { sha256: crypto.sha256, random: crypto.random });
		assert.deepEqual(key.signSha256(new TextEncoder().encode('robot')), ROBOT_SIGNATURE);
	});
	it('refuses a block of the wrong size or not below n', () => {
		const k = parsed();
		const key = createRsaDeviceKey(k, { sha256: crypto.sha256, random: crypto.random });
		assert.throws(() => key.rsaPrivateRaw(new Uint8Array(255)), /"block" expected 256 bytes, got 255/);
		assert.throws(() => key.rsaPrivateRaw(new Uint8Array(256).fill(0xff)), /below the modulus/);
	});
	describe('bad DER is a value, not a throw', () => {
		const cases: readonly (readonly [string, Uint8Array, RegExp])[] = [
			['empty', new Uint8Array(0), /truncated/],
			['not a SEQUENCE', new Uint8Array([0x02, 0x01, 0x00]), /expected tag 0x30/],
			['truncated', TEST_KEY_PKCS8.subarray(0, 100), /runs past the end/],
			['trailing byte', new Uint8Array([...TEST_KEY_PKCS8, 0]), /trailing bytes/],
			[
				'another algorithm',
				(() => {
					const b = TEST_KEY_PKCS8.slice();
					b[17] = 0x02;
					return b;
				})(),
				/not an rsaEncryption key/,
			],
			[
				'a modulus byte changed',
				(() => {
					const b = TEST_KEY_PKCS8.slice();
					b[40] = (b[40] as number) ^ 1;
					return b;
				})(),
				/p \* q does not equal n/,
			],
		];
		for (const [name, der, why] of cases) {
			it(name, () => {
				const r = parseRsaPrivateKey(der);
				assert.ok(!r.ok, 'expected a failure');
				if (!r.ok) assert.ok(why.test(r.error.reason), r.error.reason);
			});
		}
	});
});
