/* The DER reader's tables: the object identifiers the core names, as X.690 encodes them, and the test that compares them. Node and XS. */
import * as assert from '../testing/assert';
import { DerError, OID, derElement, isOid, oidContents } from './der';
import { toHex } from './testdata';

describe('der: object identifiers', () => {
	// contents octets as the certificates and keys carry them [X.690 §8.19]
	const rows: [keyof typeof OID, string][] = [
		['rsaEncryption', '2a864886f70d010101'],
		['sha256WithRsa', '2a864886f70d01010b'],
		['commonName', '550403'],
	];
	for (const [name, hex] of rows) it(name + ' encodes as ' + hex, () => assert.equal(toHex(oidContents(OID[name])), hex));

	it('an arc of several base-128 octets (840 = 0x86 0x48)', () => assert.equal(toHex(oidContents('1.2.840')), '2a8648'));

	it('isOid: the same contents only', () => {
		assert.equal(isOid(oidContents(OID.rsaEncryption), OID.rsaEncryption), true);
		assert.equal(isOid(oidContents(OID.sha256WithRsa), OID.rsaEncryption), false, 'last arc differs');
		assert.equal(isOid(oidContents(OID.commonName), OID.rsaEncryption), false, 'length differs');
		assert.equal(isOid(new Uint8Array(0), OID.commonName), false);
	});

	it('refuses a dotted form that is not an OID', () => {
		for (const bad of ['x.1', '3.1', '1', '1..2', '']) assert.throws(() => oidContents(bad), /"oid" expected a dotted OID/);
	});
});

describe('der: elements', () => {
	it('reads a short and a long length, refuses a truncated or non-minimal one', () => {
		const e = derElement(new Uint8Array([0x04, 0x02, 0xaa, 0xbb, 0x05, 0x00]), 0, 0x04);
		assert.equal(toHex(e.body), 'aabb');
		assert.equal(e.next, 4);
		const long = new Uint8Array(3 + 200);
		long.set([0x04, 0x81, 200]);
		assert.equal(derElement(long, 0).body.length, 200);
		assert.throws(() => derElement(new Uint8Array([0x04, 0x81, 0x05, 1, 2, 3, 4, 5]), 0), /non-minimal length/);
		assert.throws(() => derElement(new Uint8Array([0x04, 0x03, 1]), 0), /runs past the end/);
		assert.throws(() => derElement(new Uint8Array([0x04, 0x00]), 0, 0x30), /expected tag 0x30/);
		assert.ok(new DerError('x') instanceof Error);
	});
});
