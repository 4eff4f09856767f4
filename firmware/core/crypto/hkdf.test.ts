/* HKDF [RFC 5869]: the RFC's SHA-256 vectors, and SHA-512 vectors from node:crypto hkdfSync. */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import * as assert from '../testing/assert';
import { hkdf, hkdfExpand, hkdfExtract, hmacSha512, type Hmac } from './hkdf';
import { createPortableCrypto } from '../../platform/portable/crypto';
import { hex, testRandom, toHex } from './testdata';

const hmacSha256: Hmac = { outputLen: 32, mac: (k, d) => hmac(sha256, k, d) };
const sha512Hmac = hmacSha512(createPortableCrypto(testRandom()));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const run = (from: number, to: number) => new Uint8Array(range(from, to));

/** [name, IKM, salt, info, L, PRK, OKM] from RFC 5869 Appendix A.1-A.3 (SHA-256). */
const RFC5869: readonly (readonly [string, Uint8Array, Uint8Array, Uint8Array, number, string, string])[] = [
	['A.1 basic', new Uint8Array(22).fill(0x0b), run(0, 13), run(0xf0, 0xfa), 42, '077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5', '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865'],
	[
		'A.2 longer inputs and outputs',
		run(0, 0x50),
		run(0x60, 0xb0),
		run(0xb0, 0x100),
		82,
		'06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244',
		'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87',
	],
	[
		'A.3 empty salt and info',
		new Uint8Array(22).fill(0x0b),
		new Uint8Array(0),
		new Uint8Array(0),
		42,
		'19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04',
		'8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
	],
];

/** [name, IKM, salt, info, L, OKM] computed with node:crypto hkdfSync('sha512', ...). */
const SHA512: readonly (readonly [string, Uint8Array, Uint8Array, Uint8Array, number, string])[] = [
	['A.1 inputs', new Uint8Array(22).fill(0x0b), run(0, 13), run(0xf0, 0xfa), 42, '832390086cda71fb47625bb5ceb168e4c8e26a1a16ed34d9fc7fe92c1481579338da362cb8d9f925d7cb'],
	[
		'A.2 inputs (two blocks)',
		run(0, 0x50),
		run(0x60, 0xb0),
		run(0xb0, 0x100),
		82,
		'ce6c97192805b346e6161e821ed165673b84f400a2b514b2fe23d84cd189ddf1b695b48cbd1c8388441137b3ce28f16aa64ba33ba466b24df6cfcb021ecff235f6a2056ce3af1de44d572097a8505d9e7a93',
	],
	['A.3 inputs (empty salt and info)', new Uint8Array(22).fill(0x0b), new Uint8Array(0), new Uint8Array(0), 42, 'f5fa02b18298a72a8c23898a8703472c6eb179dc204c03425c970e3b164bf90fff22d04836d0e2343bac'],
	['ESDK data key: suite 0478 | DERIVEKEY', run(0, 32), run(32, 64), hex('04784445524956454b4559'), 32, '30f891fcd92a8abe67342e11f1cfacffa92994861fca7075fb36a21f9edbf6ae'],
	['ESDK commit key: COMMITKEY', run(0, 32), run(32, 64), hex('434f4d4d49544b4559'), 32, '16bbdf5f77e52a6d45b8cad7f30e0bbf69b304b0d51de9d153b822934fd32d47'],
];

describe('hkdf', () => {
	for (const [name, ikm, salt, info, length, prk, okm] of RFC5869) {
		it('RFC 5869 ' + name + ' (SHA-256): PRK and OKM', () => {
			assert.equal(toHex(hkdfExtract(hmacSha256, salt, ikm)), prk);
			assert.equal(toHex(hkdfExpand(hmacSha256, hex(prk), info, length)), okm);
			assert.equal(toHex(hkdf(hmacSha256, ikm, salt, info, length)), okm);
		});
	}
	for (const [name, ikm, salt, info, length, okm] of SHA512) {
		it('SHA-512 over the crypto port, ' + name, () => {
			assert.equal(toHex(hkdf(sha512Hmac, ikm, salt, info, length)), okm);
		});
	}
	it('SHA-512 at the largest length, 255 * 64 bytes (prefix agrees with a short expand)', () => {
		const prk = hkdfExtract(sha512Hmac, new Uint8Array(0), new Uint8Array(1));
		const long = hkdfExpand(sha512Hmac, prk, new Uint8Array(0), 255 * 64);
		assert.equal(long.length, 16320);
		assert.deepEqual(long.subarray(0, 100), hkdfExpand(sha512Hmac, prk, new Uint8Array(0), 100));
	});
	it('refuses a length over 255 * HashLen, a negative length and a short PRK [RFC 5869 §2.3]', () => {
		const prk = new Uint8Array(64);
		assert.throws(() => hkdfExpand(sha512Hmac, prk, new Uint8Array(0), 255 * 64 + 1), /"length" expected an integer from 0 to 16320/);
		assert.throws(() => hkdfExpand(sha512Hmac, prk, new Uint8Array(0), -1), /"length"/);
		assert.throws(() => hkdfExpand(sha512Hmac, new Uint8Array(63), new Uint8Array(0), 32), /"prk" expected >= 64 bytes, got 63/);
	});
	it('zero-length output is empty', () => {
		assert.equal(hkdfExpand(sha512Hmac, new Uint8Array(64), new Uint8Array(0), 0).length, 0);
	});
});
