/*
 * Fake of the SDK's `x509` (modules/crypt/etc/x509.js), `decode` only, and of its answer only as
 * far as the firmware reads it: `spki.algo` (an OID whose toString() is its arcs joined by ",",
 * e.g. "1,2,840,10045,2,1" for an EC key), and for a named P-256 key `spki.curve` (orderSize 32)
 * and `spki.pub` (the point). What is not a DER SEQUENCE throws "x509: malformed input". The key is
 * found with the core's certificate scan (core/crypto/p256.ts publicKeyOfCertificate); any other
 * key is reported with the RSA OID (the SDK answers {modulus, exponent, algo} for RSA). The shape
 * was checked on the runtime (tools/sdk-facts.ts: the same certificate through the SDK's x509).
 */
import { publicKeyOfCertificate } from '../../../../core/crypto/p256';

const oid = (arcs: string) => ({ toString: () => arcs });

export interface FakePoint {
	readonly point: Uint8Array;
}

const X509 = {
	decode(buf: ArrayBuffer): { tbs: unknown; algo: unknown; sig: unknown; spki: { pub?: unknown; curve?: { orderSize?: number }; algo?: { toString(): string } } } {
		const der = new Uint8Array(buf);
		if (der[0] !== 0x30) throw new Error('x509: malformed input');
		const point = publicKeyOfCertificate(der);
		const spki = point ? { curve: { orderSize: 32, name: 'secp256r1' }, pub: { point } as FakePoint, algo: oid('1,2,840,10045,2,1') } : { algo: oid('1,2,840,113549,1,1,1') };
		return { tbs: undefined, algo: undefined, sig: undefined, spki };
	},
};
export default X509;
