/*
 * A writer of AWS Encryption SDK messages, format version 2.0, algorithm suite 0x0478
 * (AES-256-GCM, HKDF-SHA-512, key commitment, no signature), framed: what the cloud opens
 * with the stock SDK and a KMS keyring (design.md, "Key choices"). Spec references are to
 * awslabs/aws-encryption-sdk-specification: data-format/message-header.md [header],
 * message-body.md [body], message-body-aad.md [body-aad], framework/algorithm-suites.md
 * [suites], framework/transitive-requirements.md [kdf], framework/structures.md
 * [structures], client-apis/encrypt.md [encrypt].
 *
 * Memory: the writer holds the header (98 bytes plus the context and the EDK), a
 * 78-byte AAD and a 12-byte IV; frames are sealed into a buffer the caller owns, in place.
 * `messageBody` streams header and frames with one frame (frameLength + 40 bytes) at a time.
 *
 * The message:
 *   header  02 | 04 78 | message id (32) | AAD | EDKs | 02 (framed) | frame length (u32)
 *           | commit key (32) | header auth tag (16)
 *   frame   seq (u32) | IV (12) | content (frame length) | tag (16)
 *   final   FF FF FF FF | seq (u32) | IV (12) | content length (u32) | content | tag (16)
 * No footer: the suite has no signature [suites].
 */
import type { AeadKey, CryptoPort } from '../../ports';
import { hkdfExpand, hkdfExtract, hmacSha512 } from '../crypto/hkdf';
import { utf8Encode } from '../util/utf8';

export const ESDK = Object.freeze({
	/** message format version 2.0 [header "Supported Versions"] */
	version: 0x02,
	/** ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY [suites "Supported Algorithm Suites"] */
	suiteId: 0x0478,
	/** framed [header "Supported Content Types"] */
	contentTypeFramed: 0x02,
	messageIdBytes: 32,
	/** suite data = commit key, 256 bits [suites "Algorithm Suite Data Length"] */
	commitKeyBytes: 32,
	keyBytes: 32,
	ivBytes: 12,
	tagBytes: 16,
	/** the SDK's default [encrypt "Frame Length"] */
	defaultFrameLength: 4096,
	/** FF FF FF FF marks the final frame [body "Sequence Number End"] */
	sequenceNumberEnd: 0xffffffff,
} as const);

/** seq | IV | tag around the content of a regular frame [body "Regular Frame"]. */
export const FRAME_OVERHEAD = 4 + ESDK.ivBytes + ESDK.tagBytes;
/** end | seq | IV | content length | tag around the final frame's content [body "Final Frame"]. */
export const FINAL_FRAME_OVERHEAD = 4 + 4 + ESDK.ivBytes + 4 + ESDK.tagBytes;

const KMS_PROVIDER = 'aws-kms';
/** reserved for the signing suites' public key [structures]; refused by the SDK's CMM */
const RESERVED_CONTEXT_KEY = 'aws-crypto-public-key';
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

// labels as UTF-8 bytes: [kdf "HKDF Encryption Key", "HKDF Commit Key"], [body-aad "Body AAD Content"]
const DERIVE_KEY_LABEL = 'DERIVEKEY';
const COMMIT_KEY_LABEL = 'COMMITKEY';
const FRAME_LABEL = 'AWSKMSEncryptionClient Frame';
const FINAL_FRAME_LABEL = 'AWSKMSEncryptionClient Final Frame';

export interface EncryptedDataKey {
	/** `aws-kms` for a KMS ciphertext blob */
	readonly providerId: string;
	/** the KMS key ARN for `aws-kms` */
	readonly providerInfo: string;
	/** the KMS CiphertextBlob */
	readonly ciphertext: Uint8Array;
}

export interface MessageWriterOptions {
	readonly crypto: CryptoPort;
	/** The 32-byte plaintext data key. The writer wipes it once the message keys are derived. */
	readonly dataKey: Uint8Array;
	/** The same context KMS bound the data key to; it is written in clear into the header. */
	readonly encryptionContext: Readonly<Record<string, string>>;
	readonly edk: EncryptedDataKey;
	/** Plaintext bytes per regular frame; default 4096. */
	readonly frameLength?: number;
	/** 32 bytes; random when absent. Only tests pass one: it must never repeat. */
	readonly messageId?: Uint8Array;
}

export interface MessageWriter {
	readonly frameLength: number;
	/** The serialized header, body and auth tag; the same array on every call. */
	header(): Uint8Array;
	/** Bytes of the whole message for `plaintextLength` bytes of plaintext (for Content-Length). */
	messageLength(plaintextLength: number): number;
	/** Bytes of one frame holding `contentLength` plaintext bytes. */
	frameSize(contentLength: number, final: boolean): number;
	/** Where the content sits in a frame: read plaintext straight to `out[contentOffset..]`. */
	contentOffset(final: boolean): number;
	/**
	 * Seals the next frame (sequence numbers count from 1) into `out` when given (at least
	 * `frameSize` bytes; `plain` may already sit at `contentOffset` in it), else into a new
	 * array, and answers the frame's bytes. A regular frame holds exactly `frameLength`
	 * bytes, the final one 0 to `frameLength`; after the final frame the keys are wiped.
	 */
	frame(plain: Uint8Array, final: boolean, out?: Uint8Array): Uint8Array;
	/** Wipes the keys; further frames throw. Safe to call more than once. */
	dispose(): void;
}

function checkBytes(name: string, v: unknown, length?: number): asserts v is Uint8Array {
	if (!(v instanceof Uint8Array)) throw new TypeError('"' + name + '" expected Uint8Array, got ' + typeof v);
	if (length !== undefined && v.length !== length) throw new RangeError('"' + name + '" expected ' + length + ' bytes, got ' + v.length);
}

function checkU16(name: string, n: number): void {
	if (n > U16_MAX) throw new RangeError('"' + name + '" expected <= ' + U16_MAX + ' bytes, got ' + n);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
	const n = Math.min(a.length, b.length);
	for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
	return a.length - b.length;
}

/**
 * The encryption context serialized [structures "Serialization"]: count, then key/value
 * entries sorted by the keys' UTF-8 bytes; empty for an empty context.
 */
export function serializeEncryptionContext(context: Readonly<Record<string, string>>): Uint8Array {
	if (typeof context !== 'object' || context === null) throw new TypeError('"encryptionContext" expected an object, got ' + typeof context);
	const entries: [Uint8Array, Uint8Array][] = [];
	let size = 2;
	for (const key of Object.keys(context)) {
		const value = context[key];
		if (typeof value !== 'string') throw new TypeError('"encryptionContext.' + key + '" expected a string, got ' + typeof value);
		if (key === RESERVED_CONTEXT_KEY) throw new RangeError('"encryptionContext" must not use the reserved key ' + key);
		const k = utf8Encode(key);
		const v = utf8Encode(value);
		checkU16('encryptionContext key ' + key, k.length);
		checkU16('encryptionContext.' + key, v.length);
		entries.push([k, v]);
		size += 4 + k.length + v.length;
	}
	if (entries.length === 0) return new Uint8Array(0);
	checkU16('encryptionContext', size);
	entries.sort((a, b) => compareBytes(a[0], b[0]));
	const out = new Uint8Array(size);
	const view = new DataView(out.buffer);
	view.setUint16(0, entries.length);
	let at = 2;
	for (const [k, v] of entries) {
		view.setUint16(at, k.length);
		out.set(k, at + 2);
		at += 2 + k.length;
		view.setUint16(at, v.length);
		out.set(v, at + 2);
		at += 2 + v.length;
	}
	return out;
}

/** The EDK's provider id and info as bytes, after the checks the stock SDK's keyrings rely on. */
function checkEdk(edk: MessageWriterOptions['edk']): { providerId: Uint8Array; providerInfo: Uint8Array } {
	if (typeof edk !== 'object' || edk === null) throw new TypeError('"edk" expected an object, got ' + typeof edk);
	if (typeof edk.providerId !== 'string' || typeof edk.providerInfo !== 'string') throw new TypeError('"edk.providerId" and "edk.providerInfo" expected strings');
	checkBytes('edk.ciphertext', edk.ciphertext);
	if (edk.ciphertext.length === 0) throw new RangeError('"edk.ciphertext" expected at least 1 byte, got 0');
	const providerId = utf8Encode(edk.providerId);
	const providerInfo = utf8Encode(edk.providerInfo);
	checkU16('edk.providerId', providerId.length);
	checkU16('edk.providerInfo', providerInfo.length);
	checkU16('edk.ciphertext', edk.ciphertext.length);
	if (edk.providerId === KMS_PROVIDER && !edk.providerInfo.startsWith('arn:')) {
		// the KMS keyring matches EDKs on the key ARN; anything else is never opened
		throw new RangeError('"edk.providerInfo" expected a KMS key ARN for aws-kms, got ' + edk.providerInfo);
	}
	return { providerId, providerInfo };
}

/** The data encryption key and the commit key; the data key is wiped. */
function deriveKeys(crypto: CryptoPort, messageId: Uint8Array, dataKey: Uint8Array): { derivedKey: Uint8Array; commitKey: Uint8Array } {
	// One extract, two expands [kdf]: salt = message id (256 bits), IKM = data key;
	// info = suite id | "DERIVEKEY" for the data encryption key, "COMMITKEY" for the commit key.
	const hmac = hmacSha512(crypto);
	const prk = hkdfExtract(hmac, messageId, dataKey);
	const deriveInfo = new Uint8Array(2 + DERIVE_KEY_LABEL.length);
	new DataView(deriveInfo.buffer).setUint16(0, ESDK.suiteId);
	deriveInfo.set(utf8Encode(DERIVE_KEY_LABEL), 2);
	const derivedKey = hkdfExpand(hmac, prk, deriveInfo, ESDK.keyBytes);
	const commitKey = hkdfExpand(hmac, prk, utf8Encode(COMMIT_KEY_LABEL), ESDK.commitKeyBytes);
	prk.fill(0);
	dataKey.fill(0);
	return { derivedKey, commitKey };
}

/** The header body with room for its auth tag after `bodyLength`; `edkFields`: provider id, provider info, ciphertext. */
function headerBody(messageId: Uint8Array, context: Uint8Array, edkFields: readonly Uint8Array[], frameLength: number, commitKey: Uint8Array): { header: Uint8Array; bodyLength: number } {
	const [providerId, providerInfo, ciphertext] = edkFields as [Uint8Array, Uint8Array, Uint8Array];
	// Header body, version 2.0 [header "Header Body Version 2.0"]: no type, reserved or IV length fields.
	const bodyLength =
		1 +
		2 +
		ESDK.messageIdBytes +
		2 +
		context.length + // AAD: key value pairs length, pairs (absent when empty) [header "AAD"]
		2 +
		2 +
		providerId.length +
		2 +
		providerInfo.length +
		2 +
		ciphertext.length + // one EDK
		1 +
		4 +
		ESDK.commitKeyBytes;
	const header = new Uint8Array(bodyLength + ESDK.tagBytes);
	const hv = new DataView(header.buffer);
	let at = 0;
	header[at++] = ESDK.version;
	hv.setUint16(at, ESDK.suiteId);
	at += 2;
	header.set(messageId, at);
	at += ESDK.messageIdBytes;
	hv.setUint16(at, context.length);
	header.set(context, at + 2);
	at += 2 + context.length;
	hv.setUint16(at, 1); // EDK count, > 0 [header "Encrypted Data Key Count"]
	at += 2;
	for (const field of [providerId, providerInfo, ciphertext]) {
		hv.setUint16(at, field.length);
		header.set(field, at + 2);
		at += 2 + field.length;
	}
	header[at++] = ESDK.contentTypeFramed;
	hv.setUint32(at, frameLength);
	at += 4;
	header.set(commitKey, at); // suite data = commit key [encrypt "Construct the header"]
	return { header, bodyLength };
}

/** Creates the writer: derives the keys, builds and authenticates the header. */
export function createMessageWriter(options: MessageWriterOptions): MessageWriter {
	const { crypto, dataKey, encryptionContext, edk } = options;
	const frameLength = options.frameLength ?? ESDK.defaultFrameLength;
	if (typeof crypto !== 'object' || crypto === null) throw new TypeError('"crypto" expected a CryptoPort, got ' + typeof crypto);
	checkBytes('dataKey', dataKey, ESDK.keyBytes);
	// frame length > 0 and <= 2^32 - 1 [encrypt "Frame Length"]
	if (!Number.isInteger(frameLength) || frameLength < 1 || frameLength > U32_MAX) {
		throw new RangeError('"frameLength" expected an integer from 1 to ' + U32_MAX + ', got ' + frameLength);
	}
	const { providerId, providerInfo } = checkEdk(edk);
	const context = serializeEncryptionContext(encryptionContext);
	if (options.messageId !== undefined) checkBytes('messageId', options.messageId, ESDK.messageIdBytes);
	const messageId = options.messageId?.slice() ?? crypto.random(ESDK.messageIdBytes);
	checkBytes('crypto.random(32)', messageId, ESDK.messageIdBytes);

	const { derivedKey, commitKey } = deriveKeys(crypto, messageId, dataKey);
	let aead: AeadKey | undefined = crypto.aes256gcm(derivedKey);
	derivedKey.fill(0);

	const { header, bodyLength } = headerBody(messageId, context, [providerId, providerInfo, edk.ciphertext], frameLength, commitKey);
	commitKey.fill(0);
	// Header auth tag: AEAD over nothing with AAD = header body (no context kept only for
	// authentication here), IV all zeros [encrypt "Construct the header"]; v2 stores the tag
	// alone [header "Header Authentication Version 2.0"].
	const empty = new Uint8Array(0);
	header.set(aead.seal(new Uint8Array(ESDK.ivBytes), header.subarray(0, bodyLength), empty, empty), bodyLength);

	// Body AAD = message id | label | seq (u32) | content length (u64) [body-aad "Structure"]
	const aad = new Uint8Array(ESDK.messageIdBytes + FINAL_FRAME_LABEL.length + 4 + 8);
	aad.set(messageId, 0);
	const frameLabel = utf8Encode(FRAME_LABEL);
	const finalLabel = utf8Encode(FINAL_FRAME_LABEL);
	const iv = new Uint8Array(ESDK.ivBytes);
	const ivView = new DataView(iv.buffer);
	let sequence = 1;
	let finished = false;

	function dispose(): void {
		aead?.dispose();
		aead = undefined;
	}

	function contentOffset(final: boolean): number {
		return final ? 4 + 4 + ESDK.ivBytes + 4 : 4 + ESDK.ivBytes;
	}

	function frameSize(contentLength: number, final: boolean): number {
		if (!Number.isInteger(contentLength) || contentLength < 0 || contentLength > frameLength) {
			throw new RangeError('"contentLength" expected an integer from 0 to ' + frameLength + ', got ' + contentLength);
		}
		return contentLength + (final ? FINAL_FRAME_OVERHEAD : FRAME_OVERHEAD);
	}

	return Object.freeze({
		frameLength,
		header: () => header,
		contentOffset,
		frameSize,
		messageLength(plaintextLength: number): number {
			if (!Number.isSafeInteger(plaintextLength) || plaintextLength < 0) {
				throw new RangeError('"plaintextLength" expected a non-negative safe integer, got ' + plaintextLength);
			}
			// one frame at least; a final frame holds 1..frameLength bytes unless the plaintext
			// is empty: at an exact multiple it is full, as the spec prefers [body "Final Frame"]
			const frames = Math.max(1, Math.ceil(plaintextLength / frameLength));
			if (frames > U32_MAX) throw new RangeError('"plaintextLength" needs ' + frames + ' frames, more than ' + U32_MAX);
			const last = plaintextLength - (frames - 1) * frameLength;
			return header.length + (frames - 1) * (frameLength + FRAME_OVERHEAD) + last + FINAL_FRAME_OVERHEAD;
		},
		frame(plain: Uint8Array, final: boolean, out?: Uint8Array): Uint8Array {
			checkBytes('plain', plain);
			if (finished) throw new TypeError('the final frame was written already');
			if (!aead) throw new TypeError('the writer was disposed');
			// regular frames carry exactly frame length bytes [body "Regular Frame Encrypted Content"]
			if (!final && plain.length !== frameLength) throw new RangeError('"plain" of a regular frame expected ' + frameLength + ' bytes, got ' + plain.length);
			const size = frameSize(plain.length, final);
			// the final frame's number is the frame count, <= 2^32 - 1 [body "Framed Data"];
			// a regular frame may not take the end marker's value
			if (sequence > (final ? U32_MAX : U32_MAX - 1)) throw new RangeError('too many frames');
			if (out !== undefined) {
				checkBytes('out', out);
				if (out.length < size) throw new RangeError('"out" expected >= ' + size + ' bytes, got ' + out.length);
			}
			const frame = out === undefined ? new Uint8Array(size) : out.subarray(0, size);
			const fv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
			const offset = contentOffset(final);
			const content = frame.subarray(offset, offset + plain.length);
			content.set(plain); // a no-op copy when the caller read into place

			// IV = sequence number padded to 12 bytes, in the last 4 [encrypt "Construct a frame"]
			ivView.setUint32(ESDK.ivBytes - 4, sequence);
			const label = final ? finalLabel : frameLabel;
			aad.set(label, ESDK.messageIdBytes);
			const tail = ESDK.messageIdBytes + label.length;
			const av = new DataView(aad.buffer);
			av.setUint32(tail, sequence);
			av.setUint32(tail + 4, 0); // u64 content length: the high half is 0 (<= 2^32 - 1)
			av.setUint32(tail + 8, plain.length);
			const tag = aead.seal(iv, aad.subarray(0, tail + 12), content, content);

			let h = 0;
			if (final) {
				fv.setUint32(h, ESDK.sequenceNumberEnd);
				h += 4;
			}
			fv.setUint32(h, sequence);
			frame.set(iv, h + 4);
			if (final) fv.setUint32(h + 4 + ESDK.ivBytes, plain.length);
			frame.set(tag, offset + plain.length);
			tag.fill(0);

			sequence++;
			if (final) {
				finished = true;
				dispose();
			}
			return frame;
		},
		dispose,
	});
}

/** Plaintext in pieces: up to `max` bytes (at least 1) per call, undefined at the end. */
export type PlaintextSource = (max: number) => Uint8Array | undefined;

/** A request body in the shape of HttpRequest.body, plus why it stopped short, if it did. */
export interface MessageBody {
	readonly length: number;
	next(): Uint8Array | undefined;
	/** Set when the source broke its contract; the body then ends early and the upload must fail. */
	readonly failure: string | undefined;
}

/**
 * Streams the message for `plaintextLength` bytes pulled from `read`: the header, then one
 * frame per `next()`. Plaintext is read straight into the frame and sealed there. With
 * `buffer` (>= frameLength + 40 bytes) every frame reuses it, so only pass one when the
 * consumer is done with a chunk before it asks for the next (the device's socket copies;
 * Node's does not); otherwise each frame is a fresh array, one live at a time.
 */
export function messageBody(writer: MessageWriter, plaintextLength: number, read: PlaintextSource, buffer?: Uint8Array): MessageBody {
	const length = writer.messageLength(plaintextLength);
	const frameLength = writer.frameLength;
	if (typeof read !== 'function') throw new TypeError('"read" expected a function, got ' + typeof read);
	if (buffer !== undefined) {
		checkBytes('buffer', buffer);
		const need = frameLength + FINAL_FRAME_OVERHEAD;
		if (buffer.length < need) throw new RangeError('"buffer" expected >= ' + need + ' bytes, got ' + buffer.length);
	}
	let headerSent = false;
	let remaining = plaintextLength;
	let done = false;
	let failure: string | undefined;

	function fail(reason: string): undefined {
		failure = reason;
		done = true;
		writer.dispose();
		return undefined;
	}

	return {
		length,
		get failure() {
			return failure;
		},
		next(): Uint8Array | undefined {
			if (done) return undefined;
			if (!headerSent) {
				headerSent = true;
				return writer.header();
			}
			// the last frame is final, full at an exact multiple, empty only for empty plaintext
			const final = remaining <= frameLength;
			const n = final ? remaining : frameLength;
			const out = buffer ?? new Uint8Array(writer.frameSize(n, final));
			const offset = writer.contentOffset(final);
			const content = out.subarray(offset, offset + n);
			for (let filled = 0; filled < n;) {
				const chunk = read(n - filled);
				if (chunk === undefined) return fail('plaintext ended after ' + (plaintextLength - remaining + filled) + ' of ' + plaintextLength + ' bytes');
				if (!(chunk instanceof Uint8Array) || chunk.length === 0 || chunk.length > n - filled) {
					return fail('plaintext source gave ' + (chunk instanceof Uint8Array ? chunk.length + ' bytes' : typeof chunk) + ', expected 1 to ' + (n - filled));
				}
				content.set(chunk, filled);
				filled += chunk.length;
			}
			remaining -= n;
			if (final) done = true;
			return writer.frame(content, final, out);
		},
	};
}
