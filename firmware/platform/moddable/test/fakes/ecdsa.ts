/*
 * Fake of the SDK's `ecdsa` (modules/crypt/etc/ecdsa.js), verify only, by the core's P-256
 * verification (core/crypto/p256.ts): `new ECDSA(spki.pub, spki.curve)`, `verify(H, sig, asn1)`
 * with H the digest (an ArrayBuffer: BigInt.fromArrayBuffer) and, for asn1 false, sig the raw
 * r || s of orderSize bytes each. ecdsa.js inverts s with Mont.mulinv before anything else and
 * checks neither r nor s: s = 0 is refused here with a throw, so a caller that does not range-check
 * its signature fails a test (on the SDK it would answer nonsense or throw, never a clean false).
 */
import { verifyP256 } from '../../../../core/crypto/p256';
import type { FakePoint } from './x509';

export default class ECDSA {
	readonly #point: Uint8Array;
	readonly #size: number;
	constructor(key: unknown, curve: unknown) {
		const p = (key as FakePoint | undefined)?.point;
		if (!(p instanceof Uint8Array)) throw new TypeError('ECDSA: key is not a point from x509');
		this.#point = p;
		this.#size = (curve as { orderSize?: number }).orderSize ?? 32;
	}
	verify(H: ArrayBuffer, sig: ArrayBuffer, asn1: boolean): boolean {
		if (!(H instanceof ArrayBuffer)) throw new TypeError('BigInt.fromArrayBuffer: argument is no ArrayBuffer instance');
		const s = new Uint8Array(sig);
		if (!asn1) {
			if (s.subarray(this.#size, 2 * this.#size).every((b) => b === 0)) throw new Error('fake ecdsa: s = 0 has no inverse (the SDK does not answer false)');
		}
		return verifyP256(this.#point, new Uint8Array(H), s);
	}
}
