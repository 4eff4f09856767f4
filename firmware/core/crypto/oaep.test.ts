/* RSAES-OAEP decryption [RFC 8017 §7.1.2] with SHA-256 and MGF1-SHA-256 over the portable device key. */
import type { DeviceKeyPort } from '../../ports';
import * as assert from '../testing/assert';
import { oaepDecrypt } from './oaep';
import { createPortableCrypto } from '../../platform/portable/crypto';
import { createRsaDeviceKey, modPow, parseRsaPrivateKey, toBigInt, toBytes, type RsaPrivateKey } from './rsa';
import { OAEP_VECTORS, TEST_KEY_PKCS8, testRandom } from './testdata';

const crypto = createPortableCrypto(testRandom());
const parsed = parseRsaPrivateKey(TEST_KEY_PKCS8);
if (!parsed.ok) throw new Error(parsed.error.reason);
const rsa: RsaPrivateKey = parsed.value;
const key: DeviceKeyPort = createRsaDeviceKey(rsa, { sha256: crypto.sha256, random: crypto.random });

/** Encrypts a raw EM block with the public key: lets a test build deliberately bad padding. */
const rawEncrypt = (em: Uint8Array) => toBytes(modPow(toBigInt(em), rsa.e, rsa.n), rsa.size);

/** OAEP-encodes `m` like RFC 8017 §7.1.1 step 2, with a hook to spoil one part. */
function encode(m: Uint8Array, spoil: (em: Uint8Array, db: Uint8Array) => void = () => {}): Uint8Array {
	const k = rsa.size;
	const db = new Uint8Array(k - 33);
	db.set(crypto.sha256(new Uint8Array(0)), 0);
	db[k - m.length - 34] = 0x01;
	db.set(m, k - m.length - 33);
	const em = new Uint8Array(k);
	spoil(em, db);
	const seed = testRandom(7)(32);
	const mgf = (s: Uint8Array, n: number) => {
		const out = new Uint8Array(n);
		for (let c = 0, at = 0; at < n; c++, at += 32) {
			const x = new Uint8Array(s.length + 4);
			x.set(s);
			new DataView(x.buffer).setUint32(s.length, c);
			out.set(crypto.sha256(x).subarray(0, Math.min(32, n - at)), at);
		}
		return out;
	};
	const dbMask = mgf(seed, db.length);
	const maskedDb = db.map((b, i) => b ^ (dbMask[i] as number));
	const seedMask = mgf(maskedDb, 32);
	const maskedSeed = seed.map((b, i) => b ^ (seedMask[i] as number));
	em.set(maskedSeed, 1);
	em.set(maskedDb, 33);
	return rawEncrypt(em);
}

describe('oaep', () => {
	for (const [message, ciphertext] of OAEP_VECTORS) {
		it('opens node:crypto publicEncrypt output, ' + message.length + '-byte message', () => {
			const r = oaepDecrypt(crypto, key, ciphertext);
			assert.deepEqual(r, { ok: true, value: message });
		});
	}
	it('opens our own encoding (the bad-padding cases below start from it)', () => {
		const m = testRandom(3)(32);
		assert.deepEqual(oaepDecrypt(crypto, key, encode(m)), { ok: true, value: m });
	});
	it('a wrong ciphertext length is its own error, with both lengths', () => {
		assert.deepEqual(oaepDecrypt(crypto, key, new Uint8Array(255)), { ok: false, error: { code: 'length', expected: 256, got: 255 } });
		assert.deepEqual(oaepDecrypt(crypto, key, new Uint8Array(0)), { ok: false, error: { code: 'length', expected: 256, got: 0 } });
	});
	describe('every padding fault gives the same generic error', () => {
		const generic = { ok: false, error: { code: 'decrypt' } } as const;
		const m = new Uint8Array(32).fill(7);
		const cases: readonly (readonly [string, Uint8Array])[] = [
			[
				'first byte Y not zero',
				encode(m, (em) => {
					em[0] = 1;
				}),
			],
			[
				'label hash differs',
				encode(m, (_em, db) => {
					db[5] = (db[5] as number) ^ 0x80;
				}),
			],
			[
				'no 0x01 separator',
				encode(m, (_em, db) => {
					db.fill(0, 32);
				}),
			],
			[
				'a nonzero byte in PS',
				encode(m, (_em, db) => {
					db[40] = 2;
				}),
			],
			[
				'separator 0x02 instead of 0x01',
				encode(m, (_em, db) => {
					db[db.length - 33] = 2;
				}),
			],
			['ciphertext not below n', new Uint8Array(256).fill(0xff)],
			[
				'a flipped ciphertext bit',
				(() => {
					const c = (OAEP_VECTORS[1] as readonly [Uint8Array, Uint8Array])[1].slice();
					c[100] = (c[100] as number) ^ 1;
					return c;
				})(),
			],
		];
		for (const [name, c] of cases) it(name, () => assert.deepEqual(oaepDecrypt(crypto, key, c), generic));
	});
	it('an empty message right after the separator at the very end', () => {
		assert.deepEqual(oaepDecrypt(crypto, key, encode(new Uint8Array(0))), { ok: true, value: new Uint8Array(0) });
	});
	it('a key too short for SHA-256 OAEP is a wiring error', () => {
		const tiny: DeviceKeyPort = { modulusBytes: 64, rsaPrivateRaw: (b) => b, signSha256: () => new Uint8Array(0) };
		assert.throws(() => oaepDecrypt(crypto, tiny, new Uint8Array(64)), /too short for OAEP/);
	});
});
