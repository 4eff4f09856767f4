/*
 * The robot's certificate signing request for renewal: PKCS#10 [RFC 2986] for its EXISTING
 * key (the public half read from its current certificate, identity/identity.ts), subject
 * CN = its thing name and nothing else (the cloud refuses any other subject, as the factory
 * does: tools/provision/provision.ts checkCsr), no attributes, signed sha256WithRSAEncryption
 * by the device key port (the key never leaves it).
 */
import type { DeviceKeyPort } from '../../ports';
import { derBitString, derEncode, derEncoded, derNull, derOid, derRaw, derSequence, derSet, derUnsigned, derUtf8Ascii, DER_TAG, OID } from '../crypto/der-writer';

export interface CsrInput {
	readonly thing: string;
	/** The key's public half (the current certificate's modulus and exponent). */
	readonly n: bigint;
	readonly e: bigint;
}

/** The CertificationRequest in DER, signed with `key`. */
export function buildCsr(input: CsrInput, key: DeviceKeyPort): Uint8Array {
	if (typeof input.thing !== 'string' || input.thing.length === 0 || input.thing.length > 128) throw new TypeError('"thing" expected a thing name, got ' + JSON.stringify(input.thing));
	if (input.n <= 0n || input.e <= 0n) throw new RangeError('"n" and "e" expected positive');
	const spki = derSequence(derSequence(derOid(OID.rsaEncryption), derNull()), derBitString(derEncode(derSequence(derUnsigned(input.n), derUnsigned(input.e)))));
	// version 0, subject, subjectPKInfo, attributes [0] empty [RFC 2986 §4.1]
	const info = derEncode(derSequence(derUnsigned(0n), derSequence(derSet(derSequence(derOid(OID.commonName), derUtf8Ascii(input.thing)))), spki, derRaw(DER_TAG.context0, new Uint8Array(0))));
	const signature = key.signSha256(info);
	return derEncode(derSequence(derEncoded(info), derSequence(derOid(OID.sha256WithRsa), derNull()), derBitString(signature)));
}
