/* The renewal CSR and the DER writer under it: bytes the core's own reader takes back, a signature that verifies with the key's public half. Node and XS. */
import * as assert from '../testing/assert';
import { createPortableCrypto } from '../../platform/portable/crypto';
import { derElement } from '../crypto/der';
import { derEncode, derOid, derSequence, derUnsigned, derUtf8Ascii } from '../crypto/der-writer';
import { createRsaDeviceKey, emsaPkcs1Sha256, modPow, parseRsaPrivateKey, toBigInt } from '../crypto/rsa';
import { TEST_KEY_PKCS8, testRandom, toHex } from '../crypto/testdata';
import { buildCsr } from './csr';

const crypto = createPortableCrypto(testRandom());

function testKey() {
	const r = parseRsaPrivateKey(TEST_KEY_PKCS8);
	if (!r.ok) throw new Error(r.error.reason);
	return { k: r.value, port: createRsaDeviceKey(r.value, { sha256: crypto.sha256, random: crypto.random }) };
}

describe('der writer', () => {
	const rows: [string, Uint8Array, string][] = [
		['INTEGER 0', derEncode(derUnsigned(0n)), '020100'],
		['INTEGER 127', derEncode(derUnsigned(127n)), '02017f'],
		['INTEGER 128 keeps the sign bit clear', derEncode(derUnsigned(128n)), '02020080'],
		['INTEGER 65537', derEncode(derUnsigned(65537n)), '0203010001'],
		['OID sha256WithRSAEncryption', derEncode(derOid('1.2.840.113549.1.1.11')), '06092a864886f70d01010b'],
		['OID commonName', derEncode(derOid('2.5.4.3')), '0603550403'],
		['UTF8String', derEncode(derUtf8Ascii('robot-1')), '0c07726f626f742d31'],
		['empty SEQUENCE', derEncode(derSequence()), '3000'],
	];
	for (const [name, bytes, hex] of rows) it(name, () => assert.equal(toHex(bytes), hex));

	it('long lengths are minimal: 200 bytes in 81 c8, 300 in 82 01 2c; the reader takes them back', () => {
		// an OCTET STRING of 197 (header 3) and 296 (header 4) bytes: SEQUENCE bodies of 200 and 300
		for (const [n, inner, head] of [
			[200, new Uint8Array(197), '3081c8'],
			[300, new Uint8Array(296), '3082012c'],
		] as const) {
			assert.equal(n, 1 + (n < 256 ? 2 : 3) + inner.length);
			const der = derEncode(derSequence({ tag: 0x04, bytes: inner }));
			assert.equal(toHex(der.subarray(0, head.length / 2)), head);
			assert.equal(derElement(der, 0, 0x30).next, der.length);
		}
	});

	it('refuses what it cannot write, naming it', () => {
		assert.throws(() => derUnsigned(-1n), /"value" expected >= 0/);
		assert.throws(() => derOid('x.1'), /"oid" expected a dotted OID/);
		assert.throws(() => derUtf8Ascii('a\nb'), /printable ASCII/);
	});
});

describe('renewal CSR (PKCS#10 for the existing key)', () => {
	it('is CertificationRequest { info { 0, CN=thing, the key, [0] }, sha256WithRSA, signature } and the signature verifies with n, e', () => {
		const { k, port } = testKey();
		const csr = buildCsr({ thing: 'robot-7', n: k.n, e: k.e }, port);
		const outer = derElement(csr, 0, 0x30);
		assert.equal(outer.next, csr.length);
		const info = derElement(outer.body, 0, 0x30);
		const alg = derElement(outer.body, info.next, 0x30);
		const sig = derElement(outer.body, alg.next, 0x03);
		assert.equal(toHex(derElement(alg.body, 0, 0x06).body), '2a864886f70d01010b');
		// the info: version 0, subject with one CN, SPKI whose modulus is the key's, empty attributes
		const version = derElement(info.body, 0, 0x02);
		assert.equal(toHex(version.body), '00');
		const subject = derElement(info.body, version.next, 0x30);
		const cn = derElement(derElement(derElement(subject.body, 0, 0x31).body, 0, 0x30).body, 5, 0x0c);
		assert.equal(String.fromCharCode(...cn.body), 'robot-7');
		const spki = derElement(info.body, subject.next, 0x30);
		const bits = derElement(spki.body, derElement(spki.body, 0, 0x30).next, 0x03);
		const rsa = derElement(bits.body.subarray(1), 0, 0x30);
		assert.equal(toBigInt(derElement(rsa.body, 0, 0x02).body), k.n);
		const attrs = derElement(info.body, spki.next, 0xa0);
		assert.equal(attrs.body.length, 0);
		assert.equal(attrs.next, info.body.length);
		// RSASSA-PKCS1-v1_5 verification [RFC 8017 §8.2.2] over the info exactly as encoded
		const signed = outer.body.subarray(0, info.next);
		assert.equal(sig.body[0], 0);
		const em = modPow(toBigInt(sig.body.subarray(1)), k.e, k.n);
		assert.equal(em, toBigInt(emsaPkcs1Sha256(crypto.sha256(signed), k.size)));
	});

	it('refuses an empty thing name and a zero key', () => {
		const { k, port } = testKey();
		assert.throws(() => buildCsr({ thing: '', n: k.n, e: k.e }, port), /"thing" expected/);
		assert.throws(() => buildCsr({ thing: 'robot-7', n: 0n, e: k.e }, port), /positive/);
	});
});
