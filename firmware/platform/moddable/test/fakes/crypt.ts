/*
 * Fake of the SDK's `crypt` classes the crypto adapters call (modules/crypt/digest/crypt.js
 * over modCrypt.c), the arithmetic done by @noble (AES, SHA-2) and BigInt (GHASH), the
 * argument rules kept from modCrypt.c, because they are what the adapters must get right:
 * - xsmcToArrayBuffer takes an ArrayBuffer only (a view throws a TypeError, as XS's
 *   fxToArrayBuffer does): BlockCipher's key, data and result, Mode's result and IV,
 *   GHASH's `h` and `aad`. Digest.write and Mode.encrypt's data take any buffer
 *   (xsmcGetBufferReadable, resolveBuffer).
 * - BlockCipher.encrypt(data, result): "bad size" when data is shorter than a block,
 *   "buffer too small" when result is; returns `result` when given.
 * - Mode.encrypt(data, result): "output too small" when result is shorter than the data; the
 *   output is written from the START of `result` (an ArrayBuffer, never a view's offset).
 *   CTR: the IV is right-aligned in the counter block (ctr_setIV), the whole 128-bit block is
 *   incremented big-endian, and a partly used keystream block carries over to the next call.
 * - GHASH(h, aad): aad is hashed at construction; write() adds ciphertext; close() appends
 *   len(A) | len(C) in bits and answers the 16-byte hash [SP 800-38D §6.4].
 * - Digest: a write after close does NOT throw (seen on 8.2.3: modCrypt.c throws only when the
 *   host chunk is gone, and close() keeps it); what such a digest answers is not defined, so
 *   the fake answers a digest of nothing more; reset(); blockSize/outputSize as gDigests.
 */
import { utf8Encode } from '../../../../core/util/utf8';
import { unsafe } from '@noble/ciphers/aes.js';
import { ghash } from '@noble/ciphers/_polyval.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { sha1 } from '@noble/hashes/legacy.js';

type Readable = ArrayBuffer | ArrayBufferView | string;

/** xsmcToArrayBuffer: an ArrayBuffer or a TypeError. */
function toArrayBuffer(v: unknown, what: string): ArrayBuffer {
	if (v instanceof ArrayBuffer) return v;
	throw new TypeError(what + ': argument is no ArrayBuffer instance');
}

/** xsmcGetBufferReadable / resolveBuffer: any buffer. */
function readable(v: unknown): Uint8Array {
	if (typeof v === 'string') return utf8Encode(v);
	if (v instanceof ArrayBuffer) return new Uint8Array(v);
	if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
	throw new TypeError('argument is no buffer');
}

const DIGESTS = {
	SHA1: { make: () => sha1.create(), block: 64, size: 20 },
	SHA256: { make: () => sha256.create(), block: 64, size: 32 },
	SHA384: { make: () => sha384.create(), block: 128, size: 48 },
	SHA512: { make: () => sha512.create(), block: 128, size: 64 },
} as const;
type DigestType = keyof typeof DIGESTS;

export class Digest {
	readonly #type: DigestType;
	#h: { update(b: Uint8Array): unknown; digest(): Uint8Array } | undefined;
	constructor(type: string) {
		if (!(type in DIGESTS)) throw new Error('crypt: unsupported digest');
		this.#type = type as DigestType;
		this.#h = DIGESTS[this.#type].make();
	}
	get blockSize(): number {
		return DIGESTS[this.#type].block;
	}
	get outputSize(): number {
		return DIGESTS[this.#type].size;
	}
	write(data: Readable): void {
		const bytes = readable(data).slice();
		if (this.#h) this.#h.update(bytes); // after close: accepted, to no defined effect
	}
	close(): ArrayBuffer {
		const out = (this.#h ?? DIGESTS[this.#type].make()).digest();
		this.#h = undefined;
		return out.slice().buffer;
	}
	reset(): void {
		this.#h = DIGESTS[this.#type].make();
	}
}

export class BlockCipher {
	readonly blockSize = 16;
	readonly #xk: Uint32Array;
	constructor(cipher: string, key: ArrayBuffer) {
		if (cipher !== 'AES') throw new Error('fake crypt: only AES is modelled');
		const k = new Uint8Array(toArrayBuffer(key, 'BlockCipher key')).slice();
		if (![16, 24, 32].includes(k.length)) throw new Error('bad key size');
		this.#xk = unsafe.expandKeyLE(k);
	}
	encrypt(data: ArrayBuffer | string, result?: ArrayBuffer): ArrayBuffer {
		if (result !== undefined && result !== null) {
			if (toArrayBuffer(result, 'BlockCipher result').byteLength < 16) throw new Error('buffer too small');
		}
		const d = typeof data === 'string' ? utf8Encode(data) : new Uint8Array(toArrayBuffer(data, 'BlockCipher data'));
		if (d.length < 16) throw new Error('bad size');
		const out = result ?? new ArrayBuffer(16);
		// encryptBlock works in place on its argument: a copy
		new Uint8Array(out).set(unsafe.encryptBlock(this.#xk, d.slice(0, 16)));
		return out;
	}
}

export class Mode {
	readonly #cipher: BlockCipher;
	readonly #counter = new Uint8Array(16);
	#keystream = new Uint8Array(16);
	#offset = 0;
	constructor(mode: string, cipher: BlockCipher, iv?: ArrayBuffer) {
		if (mode !== 'CTR') throw new Error('fake crypt: only CTR is modelled');
		if (!(cipher instanceof BlockCipher)) throw new TypeError('Mode: cipher expected a BlockCipher');
		this.#cipher = cipher;
		if (iv !== undefined) this.setIV(iv);
	}
	setIV(iv: ArrayBuffer): void {
		const v = new Uint8Array(toArrayBuffer(iv, 'Mode iv'));
		this.#counter.fill(0);
		const n = Math.min(v.length, 16);
		this.#counter.set(v.subarray(0, n), 16 - n);
		this.#offset = 0;
	}
	encrypt(data: Readable, result?: ArrayBuffer): ArrayBuffer {
		const input = readable(data).slice(); // read before writing: result may share memory
		let out: ArrayBuffer;
		if (result !== undefined && result !== null) {
			out = toArrayBuffer(result, 'Mode result');
			if (out.byteLength < input.length) throw new Error('output too small');
		} else out = new ArrayBuffer(input.length);
		const o = new Uint8Array(out);
		let i = 0;
		while (i < input.length) {
			if (this.#offset === 0) this.#keystream = new Uint8Array(this.#cipher.encrypt(this.#counter.slice().buffer));
			while (i < input.length && this.#offset < 16) {
				o[i] = input[i]! ^ this.#keystream[this.#offset]!;
				i++;
				this.#offset++;
			}
			if (this.#offset === 16) {
				this.#offset = 0;
				for (let j = 15; j >= 0; j--) {
					this.#counter[j] = (this.#counter[j]! + 1) & 0xff;
					if (this.#counter[j] !== 0) break;
				}
			}
		}
		return out;
	}
}

export class GHASH {
	readonly #h: Uint8Array;
	readonly #aad: Uint8Array;
	#data: number[] = [];
	#closed = false;
	constructor(h: ArrayBuffer, aad?: ArrayBuffer) {
		const hb = new Uint8Array(toArrayBuffer(h, 'GHASH h'));
		this.#h = hb.slice(0, 16);
		this.#aad = aad !== undefined && aad !== null ? new Uint8Array(toArrayBuffer(aad, 'GHASH aad')).slice() : new Uint8Array(0);
	}
	write(data: Readable): void {
		if (this.#closed) return; // as Digest (GHASH is one): no throw after close
		for (const b of readable(data)) this.#data.push(b);
	}
	close(): ArrayBuffer {
		this.#closed = true;
		// GHASH(H, A, C) [SP 800-38D §6.4]: A and C each padded to a block, then len(A) | len(C) in bits (noble's ghash pads each update)
		const c = Uint8Array.from(this.#data);
		const h = ghash.create(this.#h);
		if (this.#aad.length) h.update(this.#aad);
		if (c.length) h.update(c);
		const lengths = new Uint8Array(16);
		const view = new DataView(lengths.buffer);
		view.setUint32(4, this.#aad.length * 8);
		view.setUint32(12, c.length * 8);
		h.update(lengths);
		return h.digest().slice().buffer;
	}
}
