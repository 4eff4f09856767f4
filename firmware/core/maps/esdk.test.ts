/*
 * The Encryption SDK message writer, checked field by field against the spec with an
 * independent reader written here from the spec tables (header v2.0, body, body AAD),
 * decrypting with @noble/ciphers directly. test/esdk-interop.test.ts has the stock SDK
 * open the same output on Node.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { hkdf, type Hmac } from '../crypto/hkdf';
import { createPortableCrypto } from '../../platform/portable/crypto';
import { testRandom, toHex } from '../crypto/testdata';
import * as assert from '../testing/assert';
import { createMessageWriter, ESDK, FINAL_FRAME_OVERHEAD, FRAME_OVERHEAD, messageBody, serializeEncryptionContext, type MessageWriterOptions } from './esdk';

const crypto = createPortableCrypto(testRandom());
const utf8 = (s: string) => new TextEncoder().encode(s);
const sha512Hmac: Hmac = { outputLen: 64, mac: (k, d) => hmac(sha512, k, d) };
const DATA_KEY = Object.freeze(Array.from({ length: 32 }, (_, i) => i + 1));
const MESSAGE_ID = Object.freeze(Array.from({ length: 32 }, (_, i) => 0xa0 ^ i));
const ARN = 'arn:aws:kms:us-east-1:000000000000:key/0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6';
const CONTEXT = Object.freeze({ thing: 'robot-1', mission: 'm-42', purpose: 'map' });
const EDK = Object.freeze({ providerId: 'aws-kms', providerInfo: ARN, ciphertext: new Uint8Array(150).fill(0x5a) });

function options(over: Partial<MessageWriterOptions> = {}): MessageWriterOptions {
	return { crypto, dataKey: new Uint8Array(DATA_KEY), encryptionContext: CONTEXT, edk: EDK, messageId: new Uint8Array(MESSAGE_ID), ...over };
}

function plaintext(n: number): Uint8Array {
	return testRandom(n + 1)(n);
}

/** Reads a message as the spec describes it; throws on anything out of place. */
function open(message: Uint8Array, dataKey: Uint8Array) {
	const v = new DataView(message.buffer, message.byteOffset, message.byteLength);
	let at = 0;
	const u8 = () => message[at++] as number;
	const u16 = () => ((at += 2), v.getUint16(at - 2));
	const u32 = () => ((at += 4), v.getUint32(at - 4));
	const take = (n: number) => message.slice(at, (at += n));
	const text = (b: Uint8Array) => new TextDecoder().decode(b);

	assert.equal(u8(), 0x02, 'version 2.0');
	assert.equal(u16(), 0x0478, 'suite id');
	const messageId = take(32);
	const aadLength = u16();
	const aadEnd = at + aadLength;
	const context: Record<string, string> = {};
	const keys: Uint8Array[] = [];
	if (aadLength > 0) {
		const count = u16();
		assert.ok(count > 0, 'pair count > 0');
		for (let i = 0; i < count; i++) {
			const k = take(u16());
			const val = take(u16());
			keys.push(k);
			context[text(k)] = text(val);
		}
	}
	assert.equal(at, aadEnd, 'AAD length covers the pairs exactly');
	const edkCount = u16();
	const edks = [];
	for (let i = 0; i < edkCount; i++) edks.push({ providerId: text(take(u16())), providerInfo: text(take(u16())), ciphertext: take(u16()) });
	assert.equal(u8(), 0x02, 'content type framed');
	const frameLength = u32();
	const commitKey = take(32);
	const bodyEnd = at;
	const headerTag = take(16);

	const derived = hkdf(sha512Hmac, dataKey, messageId, new Uint8Array([0x04, 0x78, ...utf8('DERIVEKEY')]), 32);
	assert.deepEqual(commitKey, hkdf(sha512Hmac, dataKey, messageId, utf8('COMMITKEY'), 32), 'suite data is the commit key');
	gcm(derived, new Uint8Array(12), message.subarray(0, bodyEnd)).decrypt(headerTag); // throws on a bad tag

	const chunks: Uint8Array[] = [];
	const frames: { seq: number; final: boolean; length: number }[] = [];
	for (let expected = 1; ; expected++) {
		let seq = u32();
		const final = seq === 0xffffffff;
		if (final) seq = u32();
		assert.equal(seq, expected, 'sequence numbers count from 1');
		const iv = take(12);
		assert.equal(toHex(iv), '0000000000000000' + toHex(new Uint8Array([seq >>> 24, (seq >>> 16) & 255, (seq >>> 8) & 255, seq & 255])), 'IV = seq padded');
		const length = final ? u32() : frameLength;
		assert.ok(length <= frameLength, 'final frame content <= frame length');
		const sealed = take(length + 16);
		const label = utf8(final ? 'AWSKMSEncryptionClient Final Frame' : 'AWSKMSEncryptionClient Frame');
		const aad = new Uint8Array(32 + label.length + 12);
		aad.set(messageId);
		aad.set(label, 32);
		new DataView(aad.buffer).setUint32(32 + label.length, seq);
		new DataView(aad.buffer).setUint32(32 + label.length + 8, length);
		chunks.push(gcm(derived, iv, aad).decrypt(sealed));
		frames.push({ seq, final, length });
		if (final) break;
	}
	assert.equal(at, message.length, 'nothing after the final frame (no footer for an unsigned suite)');
	const plain = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
	chunks.reduce((o, c) => (plain.set(c, o), o + c.length), 0);
	return { messageId, context, keys, edks, frameLength, frames, plain, headerLength: bodyEnd + 16 };
}

/** The whole message through messageBody, pulling plaintext in `piece`-byte reads. */
function write(plain: Uint8Array, over: Partial<MessageWriterOptions> = {}, piece = 1000, buffer?: Uint8Array): Uint8Array {
	const writer = createMessageWriter(options(over));
	let at = 0;
	const body = messageBody(writer, plain.length, (max) => (at < plain.length ? plain.subarray(at, (at += Math.min(max, piece))) : undefined), buffer);
	const out = new Uint8Array(body.length);
	let n = 0;
	for (let chunk = body.next(); chunk; chunk = body.next()) {
		out.set(chunk, n);
		n += chunk.length;
	}
	assert.equal(body.failure, undefined);
	assert.equal(n, body.length, 'the body is exactly its announced length');
	return out;
}

describe('esdk message writer', () => {
	describe('round trip through an independent reader, frame length 16', () => {
		// [plaintext bytes, frames expected as (seq, final, content length)]
		const rows: readonly (readonly [number, readonly (readonly [number, boolean, number])[]])[] = [
			[0, [[1, true, 0]]], // empty plaintext: one empty final frame
			[1, [[1, true, 1]]],
			[15, [[1, true, 15]]],
			[16, [[1, true, 16]]], // an exact multiple: the final frame is full (SHOULD), not empty
			[
				17,
				[
					[1, false, 16],
					[2, true, 1],
				],
			],
			[
				32,
				[
					[1, false, 16],
					[2, true, 16],
				],
			],
			[
				33,
				[
					[1, false, 16],
					[2, false, 16],
					[3, true, 1],
				],
			],
		];
		for (const [size, expected] of rows) {
			it(size + ' bytes -> ' + expected.length + ' frame(s)', () => {
				const plain = plaintext(size);
				const message = write(plain, { frameLength: 16 }, 5);
				const m = open(message, new Uint8Array(DATA_KEY));
				assert.deepEqual(m.plain, plain);
				assert.deepEqual(
					m.frames.map((f) => [f.seq, f.final, f.length]),
					expected.map((e) => [...e]),
				);
				assert.equal(m.frameLength, 16);
			});
		}
	});

	it('header fields: message id, sorted context, one aws-kms EDK, frame length 4096 by default', () => {
		const writer = createMessageWriter(options({ frameLength: undefined }));
		const message = write(new Uint8Array(10), { frameLength: undefined });
		const m = open(message, new Uint8Array(DATA_KEY));
		assert.deepEqual(m.messageId, new Uint8Array(MESSAGE_ID));
		assert.deepEqual(m.context, { mission: 'm-42', purpose: 'map', thing: 'robot-1' });
		assert.deepEqual(
			m.keys.map((k) => new TextDecoder().decode(k)),
			['mission', 'purpose', 'thing'],
		);
		assert.deepEqual(m.edks, [{ providerId: 'aws-kms', providerInfo: ARN, ciphertext: EDK.ciphertext }]);
		assert.equal(m.frameLength, 4096);
		assert.equal(writer.header().length, m.headerLength);
		// 1 + 2 + 32 + (2 + 2 + 3 entries) + (2 + EDK) + 1 + 4 + 32 + 16
		const contextBytes = 2 + (4 + 5 + 7) + (4 + 7 + 4) + (4 + 7 + 3);
		assert.equal(m.headerLength, 1 + 2 + 32 + 2 + contextBytes + 2 + (2 + 7 + 2 + ARN.length + 2 + 150) + 1 + 4 + 32 + 16);
	});

	it('context keys sort by UTF-8 bytes, not UTF-16 units [structures "Serialization"]', () => {
		// U+FF61 is EF BD A1 in UTF-8, U+1F600 is F0 9F 98 80: UTF-16 order is the reverse
		const s = serializeEncryptionContext({ '\u{1F600}': 'b', '\uFF61': 'a', A: 'c' });
		assert.deepEqual(s.subarray(0, 7), new Uint8Array([0, 3, 0, 1, 0x41, 0, 1]));
		assert.deepEqual(s.subarray(8, 13), new Uint8Array([0, 3, 0xef, 0xbd, 0xa1]));
	});

	it('an empty context is a zero AAD length and no pair count [header "Key Value Pairs Length"]', () => {
		assert.equal(serializeEncryptionContext({}).length, 0);
		const m = open(write(plaintext(3), { encryptionContext: {} }), new Uint8Array(DATA_KEY));
		assert.deepEqual(m.context, {});
	});

	it('messageLength agrees with the bytes written, for every size around the frame edges', () => {
		for (let size = 0; size <= 50; size++) {
			const writer = createMessageWriter(options({ frameLength: 16 }));
			const frames = Math.max(1, Math.ceil(size / 16));
			const expected = writer.header().length + (frames - 1) * (16 + FRAME_OVERHEAD) + (size - (frames - 1) * 16) + FINAL_FRAME_OVERHEAD;
			assert.equal(writer.messageLength(size), expected, 'size ' + size);
			assert.equal(write(plaintext(size), { frameLength: 16 }).length, expected, 'written ' + size);
		}
	});

	it('the same bytes through frame() with fresh arrays, through messageBody, and into one reused buffer', () => {
		const plain = plaintext(40);
		const writer = createMessageWriter(options({ frameLength: 16 }));
		const parts = [writer.header(), writer.frame(plain.subarray(0, 16), false), writer.frame(plain.subarray(16, 32), false), writer.frame(plain.subarray(32), true)];
		const direct = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
		parts.reduce((o, p) => (direct.set(p, o), o + p.length), 0);
		assert.deepEqual(write(plain, { frameLength: 16 }, 3), direct);
		assert.deepEqual(write(plain, { frameLength: 16 }, 16, new Uint8Array(16 + FINAL_FRAME_OVERHEAD)), direct);
	});

	it('a random message id when none is given', () => {
		const a = open(write(plaintext(1), { messageId: undefined }), new Uint8Array(DATA_KEY));
		const b = open(write(plaintext(1), { messageId: undefined }), new Uint8Array(DATA_KEY));
		assert.notEqual(toHex(a.messageId), toHex(b.messageId));
	});

	it('wipes the data key once the keys are derived, and refuses frames after the final one or dispose', () => {
		const dataKey = new Uint8Array(DATA_KEY);
		const writer = createMessageWriter(options({ dataKey, frameLength: 16 }));
		assert.deepEqual(dataKey, new Uint8Array(32), 'data key wiped');
		writer.frame(new Uint8Array(3), true);
		assert.throws(() => writer.frame(new Uint8Array(3), true), /final frame was written already/);
		const other = createMessageWriter(options({ frameLength: 16 }));
		other.dispose();
		other.dispose();
		assert.throws(() => other.frame(new Uint8Array(16), false), /disposed/);
	});

	describe('refuses bad arguments, naming them', () => {
		const rows: readonly (readonly [string, () => unknown, RegExp])[] = [
			['short data key', () => createMessageWriter(options({ dataKey: new Uint8Array(16) })), /"dataKey" expected 32 bytes, got 16/],
			['frame length 0', () => createMessageWriter(options({ frameLength: 0 })), /"frameLength" expected an integer from 1 to 4294967295, got 0/],
			['frame length 2^32', () => createMessageWriter(options({ frameLength: 2 ** 32 })), /"frameLength"/],
			['message id of 16 bytes', () => createMessageWriter(options({ messageId: new Uint8Array(16) })), /"messageId" expected 32 bytes, got 16/],
			['reserved context key', () => createMessageWriter(options({ encryptionContext: { 'aws-crypto-public-key': 'x' } })), /reserved key aws-crypto-public-key/],
			['non-string context value', () => createMessageWriter(options({ encryptionContext: { a: 1 as unknown as string } })), /"encryptionContext.a" expected a string, got number/],
			['context over 64 KiB', () => createMessageWriter(options({ encryptionContext: { a: 'x'.repeat(70000) } })), /"encryptionContext.a" expected <= 65535 bytes, got 70000/],
			['empty EDK', () => createMessageWriter(options({ edk: { ...EDK, ciphertext: new Uint8Array(0) } })), /"edk.ciphertext" expected at least 1 byte/],
			['aws-kms EDK without an ARN', () => createMessageWriter(options({ edk: { ...EDK, providerInfo: 'alias/maps' } })), /expected a KMS key ARN/],
			['regular frame of the wrong size', () => createMessageWriter(options({ frameLength: 16 })).frame(new Uint8Array(15), false), /"plain" of a regular frame expected 16 bytes, got 15/],
			['final frame over the frame length', () => createMessageWriter(options({ frameLength: 16 })).frame(new Uint8Array(17), true), /"contentLength" expected an integer from 0 to 16, got 17/],
			['out too small', () => createMessageWriter(options({ frameLength: 16 })).frame(new Uint8Array(16), false, new Uint8Array(40)), /"out" expected >= 48 bytes, got 40/],
			['negative plaintext length', () => createMessageWriter(options()).messageLength(-1), /"plaintextLength"/],
			['body buffer too small', () => messageBody(createMessageWriter(options({ frameLength: 16 })), 5, () => undefined, new Uint8Array(50)), /"buffer" expected >= 56 bytes, got 50/],
		];
		for (const [name, fn, match] of rows) it(name, () => assert.throws(fn, match));
	});

	describe('a source that breaks its contract ends the body early with a failure', () => {
		const rows: readonly (readonly [string, (max: number) => Uint8Array | undefined, RegExp])[] = [
			[
				'ends too soon',
				(() => {
					let sent = false;
					return () => (sent ? undefined : ((sent = true), new Uint8Array(10)));
				})(),
				/plaintext ended after 10 of 40 bytes/,
			],
			['gives more than asked', (max) => new Uint8Array(max + 1), /gave 17 bytes, expected 1 to 16/],
			['gives nothing', () => new Uint8Array(0), /gave 0 bytes/],
		];
		for (const [name, read, match] of rows) {
			it(name, () => {
				const body = messageBody(createMessageWriter(options({ frameLength: 16 })), 40, read);
				let n = 0;
				while (body.next()) n++;
				assert.ok(body.failure !== undefined && match.test(body.failure), String(body.failure));
				assert.equal(body.next(), undefined);
			});
		}
	});

	it('suite constants as the spec tables give them', () => {
		assert.deepEqual([ESDK.version, ESDK.suiteId, ESDK.contentTypeFramed, ESDK.messageIdBytes, ESDK.commitKeyBytes, ESDK.ivBytes, ESDK.tagBytes], [2, 0x0478, 2, 32, 32, 12, 16]);
		assert.deepEqual([FRAME_OVERHEAD, FINAL_FRAME_OVERHEAD], [32, 40]);
	});
});
