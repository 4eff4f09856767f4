/*
 * Code signing and the OTA config on Moddable (../firmware.ts) inside XS over fakes of the SDK's
 * `crypt` Digest, `x509`, `ecdsa`, `Resource`, `mc/config` and lin's `file` (fakes/): SHA-256
 * streamed, ECDSA P-256 verification that answers false (never throws) for anything that is not
 * a good signature by the certificate's key, and moddableOta refusing a build it cannot run OTA on.
 */
import * as assert from '../../../core/testing/assert';
import { memoryLog, memoryStorage } from '../../../core/testing/fakes';
import { createPortableCrypto } from '../../portable/crypto';
import { parseSignature } from '../../../core/crypto/p256';
import { testRandom, toHex } from '../../../core/crypto/testdata';
import { utf8Encode } from '../../../core/util/utf8';
import type { HttpPort } from '../../../ports';
import { CODE_SIGNING_RESOURCE, moddableCodeSigning, moddableOta } from '../firmware';
import { fileFake } from './fakes/file';
import config from './fakes/mc-config';
import { resourceFake } from './fakes/Resource';
import { P256_CERT, P256_SIGNATURE, RSA_CERT, SIGNED_SHA256, SIGNED_TEXT } from './sdk-facts/code-signing';

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const raw = (r: bigint, s: bigint): Uint8Array => {
	const out = new Uint8Array(64);
	for (let i = 0; i < 32; i++) {
		out[31 - i] = Number((r >> BigInt(8 * i)) & 0xffn);
		out[63 - i] = Number((s >> BigInt(8 * i)) & 0xffn);
	}
	return out;
};
const http: HttpPort = { request: async () => ({ ok: false, error: 'not used' }) };
const fw = (v: Record<string, unknown>) => ((config as Record<string, unknown>).firmware = v);

describe('moddable code signing and OTA config over crypt, x509, ecdsa and Resource', () => {
	beforeEach(() => {
		resourceFake.reset();
		fileFake.reset();
		(config as { file: { root: string } }).file = { root: '/flash/' };
		fw({ version: '1.0.0', sources: 'https://firmware.example/' });
	});

	it('SHA-256 streamed in pieces (views) equals the digest of the whole; a stream is used once', () => {
		const data = utf8Encode(SIGNED_TEXT.repeat(50));
		const st = moddableCodeSigning.sha256();
		for (let at = 0; at < data.length; at += 33) st.update(data.subarray(at, at + 33));
		assert.equal(toHex(st.digest()), toHex(createPortableCrypto(testRandom()).sha256(data)));
		assert.throws(() => st.digest(), /already taken/);
		assert.throws(() => st.update(data), /already taken/);
		const one = moddableCodeSigning.sha256();
		one.update(utf8Encode(SIGNED_TEXT));
		assert.equal(toHex(one.digest()), toHex(SIGNED_SHA256));
	});

	it("verifies a good signature by the certificate's key, DER or raw r || s", () => {
		assert.equal(moddableCodeSigning.verifyP256Sha256(P256_CERT, SIGNED_SHA256, P256_SIGNATURE), true);
		const { r, s } = parseSignature(P256_SIGNATURE)!;
		assert.equal(moddableCodeSigning.verifyP256Sha256(P256_CERT, SIGNED_SHA256, raw(r, s)), true);
	});

	it('answers false, never throws, for another digest, a tampered signature, r or s out of range, a short digest', () => {
		const { r, s } = parseSignature(P256_SIGNATURE)!;
		const other = SIGNED_SHA256.slice();
		other[0] = other[0]! ^ 1;
		const v = (d: Uint8Array, sig: Uint8Array) => moddableCodeSigning.verifyP256Sha256(P256_CERT, d, sig);
		assert.equal(v(other, P256_SIGNATURE), false);
		assert.equal(v(SIGNED_SHA256, raw(r, (s + 1n) % N)), false);
		assert.equal(v(SIGNED_SHA256, raw(r, 0n)), false, 's = 0: the SDK would invert it');
		assert.equal(v(SIGNED_SHA256, raw(0n, s)), false);
		assert.equal(v(SIGNED_SHA256, raw(N, s)), false);
		assert.equal(v(SIGNED_SHA256, raw(r, N)), false);
		assert.equal(v(SIGNED_SHA256.subarray(1), P256_SIGNATURE), false);
		assert.equal(v(SIGNED_SHA256, new Uint8Array(5)), false);
	});

	it('answers false for a certificate without a P-256 key or one x509 cannot read', () => {
		assert.equal(moddableCodeSigning.verifyP256Sha256(RSA_CERT, SIGNED_SHA256, P256_SIGNATURE), false);
		assert.equal(moddableCodeSigning.verifyP256Sha256(Uint8Array.of(1, 2, 3), SIGNED_SHA256, P256_SIGNATURE), false);
	});

	it('moddableOta: the OTA config from the build (version, sources, the certificate resource) with the lin slots', () => {
		resourceFake.set(CODE_SIGNING_RESOURCE, P256_CERT);
		const ota = moddableOta({ http, log: memoryLog(), storage: memoryStorage(), onReboot: () => undefined });
		assert.ok(typeof ota !== 'string', String(ota));
		assert.deepEqual([...ota.certificate], [...P256_CERT]);
		assert.deepEqual(ota.slot.running(), { version: '1.0.0', valid: true });
		assert.equal(ota.signing, moddableCodeSigning);
		assert.equal(ota.selfTest?.deadlineMs, 60_000);
	});

	it('moddableOta says why there is no OTA: a bad version or self-test time, no certificate, a certificate without a P-256 key', () => {
		const make = () => moddableOta({ http, log: memoryLog(), storage: memoryStorage(), onReboot: () => undefined });
		fw({ version: '1.0', sources: 'https://firmware.example/' });
		assert.equal(make(), 'config.firmware.version expected X.Y.Z, got "1.0"');
		fw({ version: '1.0.0', selfTestMs: -1, sources: 'https://firmware.example/' });
		assert.ok(/config.firmware.selfTestMs/.test(String(make())));
		fw({ version: '1.0.0', sources: 'https://firmware.example/' });
		assert.equal(make(), 'no code-signing certificate (resource code-signing.der)');
		resourceFake.set(CODE_SIGNING_RESOURCE, RSA_CERT);
		assert.equal(make(), 'code-signing certificate (resource code-signing.der): not an EC P-256 key');
	});
});
