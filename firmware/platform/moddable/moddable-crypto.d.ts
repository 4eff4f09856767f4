/*
 * Typings for the SDK modules the crypto and HTTP adapters use that $(MODDABLE)/typings
 * leaves out (8.2.3 types only `Digest` in "crypt"), as the SDK's sources define them
 * (modules/crypt/digest/crypt.js, etc/hmac.js, arith/modular.js, arith/mont.js), and
 * pulled in with a triple-slash reference by the files that use them (an ambient
 * module declaration beats mcconfig's `paths` entry to the untyped .js). Only what is called.
 */
declare module 'crypt' {
	type BufferLike = ArrayBuffer | ArrayBufferView;
	export class BlockCipher {
		constructor(cipher: 'AES' | 'DES' | 'TDES', key: ArrayBuffer);
		/** One block; into `result` (an ArrayBuffer) when given. */
		encrypt(data: BufferLike, result?: ArrayBuffer): ArrayBuffer;
		readonly blockSize: number;
	}
	export class Mode {
		constructor(mode: 'ECB' | 'CBC' | 'CTR', cipher: BlockCipher, iv?: ArrayBuffer, pad?: boolean);
		/** `result` must be an ArrayBuffer (not a view) of at least the data's length; written from its start. */
		encrypt(data: BufferLike, result?: ArrayBuffer): ArrayBuffer;
		/** CTR: the IV is right-aligned in the 16-byte counter block. */
		setIV(iv: ArrayBuffer): void;
	}
	export class GHASH {
		/** `h` and `aad` must be ArrayBuffers (read with xsmcToArrayBuffer). */
		constructor(h: ArrayBuffer, aad?: ArrayBuffer);
		write(data: BufferLike): void;
		close(): ArrayBuffer;
	}
}
declare module 'hmac' {
	import type { Digest } from 'crypt';
	export default class HMAC {
		constructor(digest: Digest, key: ArrayBuffer | Uint8Array, bitlen?: number);
		process(...items: (ArrayBuffer | ArrayBufferView)[]): ArrayBuffer;
	}
}
declare module 'modular' {
	export default class Modular {
		constructor(m: bigint);
		readonly m: bigint;
		exp(a: bigint, e: bigint): bigint;
		mul(a: bigint, b: bigint): bigint;
		sub(a: bigint, b: bigint): bigint;
		mulinv(a: bigint): bigint;
		mod(a: bigint): bigint;
	}
}
declare module 'mont' {
	import Modular from 'modular';
	export default class Mont extends Modular {
		constructor(dict: { m: bigint; method?: number; sw_param?: number });
		static readonly LR: 0;
		static readonly SW: 1;
		readonly SW: 1;
		readonly LR: 0;
	}
}
declare module 'pkcs1_5' {
	export default class PKCS1_5 {
		constructor(key: Record<string, bigint>, priv: boolean, oid?: number[]);
		sign(H: ArrayBuffer): ArrayBuffer;
	}
}
declare module 'pkcs8' {
	export default class PKCS8 {
		/** RSA only: modulus, exponent, privExponent, prim1, prim2, exponent1, exponent2, coefficient. */
		static parse(der: ArrayBuffer | Uint8Array): Record<string, bigint>;
	}
}
