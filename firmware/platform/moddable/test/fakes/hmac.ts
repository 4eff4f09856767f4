/*
 * Fake of the SDK's `hmac` (modules/crypt/etc/hmac.js, JavaScript over a `crypt` Digest):
 * HMAC [RFC 2104] driven through the digest's reset/write/close/blockSize as hmac.js does,
 * so it works with the crypt fake's Digest. The key may be an ArrayBuffer or a view
 * (hmac.js copies it with `new Uint8Array(key)`); a key longer than a block is hashed first.
 */
import type { Digest } from './crypt';

export default class HMAC {
	readonly #h: Digest;
	readonly #ipad: Uint8Array;
	readonly #opad: Uint8Array;
	constructor(h: Digest, key: ArrayBuffer | Uint8Array) {
		this.#h = h;
		let k = key instanceof ArrayBuffer ? new Uint8Array(key) : new Uint8Array(key);
		if (k.byteLength > h.blockSize) {
			h.reset();
			h.write(k.slice().buffer);
			k = new Uint8Array(h.close());
		}
		this.#ipad = new Uint8Array(h.blockSize).fill(0x36);
		this.#opad = new Uint8Array(h.blockSize).fill(0x5c);
		for (let i = 0; i < k.length; i++) {
			this.#ipad[i] = k[i]! ^ 0x36;
			this.#opad[i] = k[i]! ^ 0x5c;
		}
	}
	process(...items: (ArrayBuffer | ArrayBufferView)[]): ArrayBuffer {
		const h = this.#h;
		h.reset();
		h.write(this.#ipad.slice().buffer);
		for (const item of items) h.write(item as ArrayBuffer);
		const inner = h.close();
		h.reset();
		h.write(this.#opad.slice().buffer);
		h.write(inner);
		return h.close();
	}
}
