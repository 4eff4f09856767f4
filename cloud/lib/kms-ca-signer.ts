/*
 * The company CA's key in AWS KMS (an asymmetric RSA_2048 SIGN_VERIFY key, generated in KMS's
 * HSMs and never exportable): a CertificateIssuer whose signing goes through KMS Sign, so
 * issueCertificate (cloud/lib/robot-certificate.ts) signs on AWS exactly as it does with the
 * factory's PKCS#11 token (SoftHSM2 here). The issuer's `crypto` is node's WebCrypto with only
 * `subtle.sign` routed to KMS for the CA key; everything else (hashing the key identifiers,
 * verifying) is local.
 *
 * KMS Sign with MessageType RAW hashes the message itself (at most 4096 bytes; a robot's
 * TBSCertificate is about 1 KB) with SigningAlgorithm RSASSA_PKCS1_V1_5_SHA_256: the signature
 * the certificate's sha256WithRSAEncryption names.
 */
import { createPublicKey, webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { CertificateIssuer } from './robot-certificate';

type CryptoKey = webcrypto.CryptoKey;
type SubtleCrypto = typeof webcrypto.subtle;
type Alg = Parameters<SubtleCrypto['sign']>[0];
type Data = Parameters<SubtleCrypto['sign']>[2];

const KMS_KEY = Symbol('kms key id');
/** KMS RAW messages are at most 4096 bytes (KMS API reference, Sign: Message). */
const MAX_RAW = 4096;

/**
 * An issuer signing with KMS key `keyId` (id, ARN or alias) for `caCert`. Checks once that the
 * key's public half is the certificate's, so a wrong key id fails here and not as robots whose
 * new certificate does not verify.
 */
export async function kmsIssuer(kms: KMSClient, keyId: string, caCert: x509.X509Certificate): Promise<CertificateIssuer> {
	if (typeof keyId !== 'string' || keyId === '') throw new TypeError('"keyId" expected the KMS key id or ARN of the CA key');
	const pub = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
	if (pub.KeyUsage !== 'SIGN_VERIFY' || !pub.SigningAlgorithms?.includes('RSASSA_PKCS1_V1_5_SHA_256'))
		throw new Error(`KMS key ${keyId} is ${pub.KeySpec} ${pub.KeyUsage}: the CA key must be an RSA SIGN_VERIFY key with RSASSA_PKCS1_V1_5_SHA_256`);
	const kmsSpki = createPublicKey({ key: Buffer.from(pub.PublicKey ?? new Uint8Array()), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'der' });
	if (!kmsSpki.equals(Buffer.from(caCert.publicKey.rawData))) throw new Error(`KMS key ${keyId} is not the key of the CA certificate ${caCert.subject}`);
	// a handle, not key material: only this issuer's subtle.sign knows what to do with it
	const caKey = Object.freeze({
		type: 'private',
		extractable: false,
		algorithm: { name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } },
		usages: ['sign'],
		[KMS_KEY]: keyId,
	}) as unknown as CryptoKey;
	const local = webcrypto.subtle;
	const subtle = Object.create(local, {
		sign: {
			value: async (alg: Alg, key: CryptoKey, data: Data): Promise<ArrayBuffer> => {
				if (key !== caKey) return local.sign(alg, key, data);
				const name = typeof alg === 'string' ? alg : alg.name;
				const algHash = typeof alg === 'object' ? (alg as { hash?: unknown }).hash : undefined;
				const hash = algHash ? (typeof algHash === 'string' ? algHash : (algHash as { name: string }).name) : 'SHA-256';
				if (name !== 'RSASSA-PKCS1-v1_5' || hash !== 'SHA-256') throw new Error(`the KMS CA key signs RSASSA-PKCS1-v1_5 with SHA-256, asked ${name} ${hash}`);
				const message = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array((data as ArrayBufferView).buffer, (data as ArrayBufferView).byteOffset, (data as ArrayBufferView).byteLength);
				if (message.length > MAX_RAW) throw new RangeError(`a ${message.length}-byte message is over KMS Sign's ${MAX_RAW}-byte RAW limit`);
				const out = await kms.send(new SignCommand({ KeyId: keyId, Message: message, MessageType: 'RAW', SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' }));
				if (!out.Signature) throw new Error('KMS Sign returned no signature');
				return out.Signature.slice().buffer as ArrayBuffer;
			},
		},
	}) as SubtleCrypto;
	const crypto = Object.create(webcrypto, { subtle: { value: subtle } }) as typeof webcrypto;
	return { caCert, caKey, crypto };
}
