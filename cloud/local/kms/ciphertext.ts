/*
 * The local KMS ciphertext blob. AWS's format is private; ours says which key
 * sealed it, so Decrypt needs no KeyId, and binds the encryption context:
 *   0  1 byte    version (1)
 *   1  16 bytes  key id (the UUID's bytes)
 *   17 12 bytes  IV
 *   29 n bytes   AES-256-GCM ciphertext of the plaintext, then its 16-byte tag
 * The GCM additional data is the key id followed by the canonical encoding of
 * the encryption context, so a blob opens only under the context it was made with.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const BLOB_VERSION = 1;
const ID_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + ID_BYTES + IV_BYTES;

export type EncryptionContext = Readonly<Record<string, string>>;

/**
 * Pairs sorted by key bytes, each as uint16 length + UTF-8 bytes, after a uint16
 * count: the encoding the AWS Encryption SDK uses for its context, so equal
 * contexts always give equal bytes whatever the order they were written in.
 */
export function encodeContext(context: EncryptionContext): Uint8Array {
	const pairs = Object.entries(context)
		.map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const)
		.sort((a, b) => Buffer.compare(a[0], b[0]));
	const parts: Buffer[] = [u16(pairs.length)];
	for (const [k, v] of pairs) parts.push(u16(k.length), k, u16(v.length), v);
	return Buffer.concat(parts);
}

function u16(n: number): Buffer {
	if (n > 0xffff) throw new RangeError('"encryption context" expected entries < 65536 bytes, got ' + n);
	const b = Buffer.alloc(2);
	b.writeUInt16BE(n);
	return b;
}

export const uuidBytes = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex');

export function uuidFromBytes(b: Uint8Array): string {
	const h = Buffer.from(b).toString('hex');
	return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join('-');
}

function aad(keyId: string, context: EncryptionContext): Buffer {
	return Buffer.concat([uuidBytes(keyId), encodeContext(context)]);
}

export function seal(keyId: string, material: Uint8Array, plaintext: Uint8Array, context: EncryptionContext): Buffer {
	const iv = randomBytes(IV_BYTES);
	const cipher = createCipheriv('aes-256-gcm', material, iv);
	cipher.setAAD(aad(keyId, context));
	const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
	return Buffer.concat([Buffer.from([BLOB_VERSION]), uuidBytes(keyId), iv, body, cipher.getAuthTag()]);
}

/** The key id a blob names, or undefined when it is not one of ours. */
export function blobKeyId(blob: Uint8Array): string | undefined {
	if (blob.length < HEADER_BYTES + TAG_BYTES || blob[0] !== BLOB_VERSION) return undefined;
	return uuidFromBytes(blob.subarray(1, 1 + ID_BYTES));
}

/** The plaintext, or undefined when the blob, key or context do not match (GCM tag check). */
export function open(keyId: string, material: Uint8Array, blob: Uint8Array, context: EncryptionContext): Buffer | undefined {
	if (blobKeyId(blob) !== keyId) return undefined;
	const iv = blob.subarray(1 + ID_BYTES, HEADER_BYTES);
	const tag = blob.subarray(blob.length - TAG_BYTES);
	try {
		const decipher = createDecipheriv('aes-256-gcm', material, iv);
		decipher.setAAD(aad(keyId, context));
		decipher.setAuthTag(tag);
		return Buffer.concat([decipher.update(blob.subarray(HEADER_BYTES, blob.length - TAG_BYTES)), decipher.final()]);
	} catch {
		return undefined;
	}
}
