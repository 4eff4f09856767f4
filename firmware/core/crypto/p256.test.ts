import * as assert from '../testing/assert';
import { base64Decode } from '../util/base64';
import { hex, IMAGE_SHA256, IMAGE_SIGNATURE, OTHER_SIGNATURE, SIGNER_POINT, SIGNER_SPKI } from '../ota/testdata';
import { parseSignature, publicKeyOfCertificate, verifyP256 } from './p256';

describe('p256', () => {
	const digest = hex(IMAGE_SHA256);
	const der = base64Decode(IMAGE_SIGNATURE)!;

	it('verifies a node:crypto signature (DER and raw r||s)', () => {
		assert.ok(verifyP256(SIGNER_POINT, digest, der));
		const { r, s } = parseSignature(der)!;
		const raw = hex(r.toString(16).padStart(64, '0') + s.toString(16).padStart(64, '0'));
		assert.ok(verifyP256(SIGNER_POINT, digest, raw));
	});

	it('refuses another digest, another signature, a tampered signature, a bad key', () => {
		const d2 = digest.slice();
		d2[31] = d2[31]! ^ 1;
		assert.equal(verifyP256(SIGNER_POINT, d2, der), false);
		assert.equal(verifyP256(SIGNER_POINT, digest, base64Decode(OTHER_SIGNATURE)!), false);
		const t = der.slice();
		t[10] = t[10]! ^ 0x40;
		assert.equal(verifyP256(SIGNER_POINT, digest, t), false);
		const k = SIGNER_POINT.slice();
		k[40] = k[40]! ^ 1; // off the curve
		assert.equal(verifyP256(k, digest, der), false);
		assert.equal(verifyP256(SIGNER_POINT, digest, new Uint8Array(8)), false);
		assert.equal(verifyP256(SIGNER_POINT, digest.subarray(1), der), false);
	});

	it('finds the EC key in a SubjectPublicKeyInfo or certificate', () => {
		assert.deepEqual(publicKeyOfCertificate(SIGNER_SPKI), SIGNER_POINT);
		assert.equal(publicKeyOfCertificate(new Uint8Array(100)), undefined);
	});
});
