/*
 * The one DER writer of the core, beside its reader (der.ts): what a PKCS#10 request needs
 * (core/renew/csr.ts), definite minimal lengths [X.690 §10.1], positive INTEGERs in their
 * minimal two's-complement form [X.690 §8.3.2]. A node is written twice over: `derSize`
 * first, then `derWrite` into the caller's buffer (the style's size-then-encode), so nothing
 * is copied per level.
 */
import { DER_TAG, OID, oidContents } from './der';

export type DerNode =
	| { readonly tag: number; readonly bytes: Uint8Array }
	| { readonly tag: number; readonly children: readonly DerNode[] }
	/** An element already encoded whole (tag and length too): what was signed goes in as signed. */
	| { readonly encoded: Uint8Array };

export { DER_TAG, OID };

/** Largest body the writer takes: 3 length octets, as the reader (der.ts). */
const MAX_LENGTH = 0xffffff;

function lengthSize(n: number): number {
	if (n > MAX_LENGTH) throw new RangeError('"length" expected <= ' + MAX_LENGTH + ', got ' + n);
	return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 4;
}

function bodySize(n: Exclude<DerNode, { encoded: Uint8Array }>): number {
	return 'bytes' in n ? n.bytes.length : n.children.reduce((s, c) => s + derSize(c), 0);
}

/** Bytes `node` takes with its tag and length. */
export function derSize(node: DerNode): number {
	if ('encoded' in node) return node.encoded.length;
	const b = bodySize(node);
	return 1 + lengthSize(b) + b;
}

/** Writes `node` at `at` of `out` (sized by derSize); answers where the next element starts. */
export function derWrite(node: DerNode, out: Uint8Array, at = 0): number {
	if ('encoded' in node) {
		if (at + node.encoded.length > out.length) throw new RangeError('"out" expected room for ' + node.encoded.length + ' bytes at ' + at + ', has ' + (out.length - at));
		out.set(node.encoded, at);
		return at + node.encoded.length;
	}
	const b = bodySize(node);
	const ls = lengthSize(b);
	if (at + 1 + ls + b > out.length) throw new RangeError('"out" expected room for ' + (1 + ls + b) + ' bytes at ' + at + ', has ' + (out.length - at));
	out[at++] = node.tag;
	if (ls === 1) out[at++] = b;
	else {
		out[at++] = 0x80 | (ls - 1);
		for (let i = ls - 2; i >= 0; i--) out[at++] = (b >>> (8 * i)) & 0xff;
	}
	if ('bytes' in node) {
		out.set(node.bytes, at);
		return at + b;
	}
	for (const c of node.children) at = derWrite(c, out, at);
	return at;
}

/** The whole encoding of `node` in a new buffer. */
export function derEncode(node: DerNode): Uint8Array {
	const out = new Uint8Array(derSize(node));
	derWrite(node, out, 0);
	return out;
}

export const derSequence = (...children: DerNode[]): DerNode => ({ tag: DER_TAG.sequence, children });
export const derSet = (...children: DerNode[]): DerNode => ({ tag: DER_TAG.set, children });
export const derNull = (): DerNode => ({ tag: DER_TAG.null, bytes: new Uint8Array(0) });
export const derRaw = (tag: number, bytes: Uint8Array): DerNode => ({ tag, bytes });
export const derEncoded = (encoded: Uint8Array): DerNode => ({ encoded });

/** A BIT STRING of whole bytes (no unused bits). */
export function derBitString(bytes: Uint8Array): DerNode {
	const b = new Uint8Array(bytes.length + 1);
	b.set(bytes, 1);
	return { tag: DER_TAG.bitString, bytes: b };
}

/** A non-negative INTEGER, minimal: no leading zero octet but the one that keeps the sign bit clear [X.690 §8.3.2]. */
export function derUnsigned(value: bigint): DerNode {
	if (value < 0n) throw new RangeError('"value" expected >= 0, got ' + value);
	let hex = value.toString(16);
	if (hex.length % 2) hex = '0' + hex;
	if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = '00' + hex;
	const b = new Uint8Array(hex.length / 2);
	for (let i = 0; i < b.length; i++) b[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
	return { tag: DER_TAG.integer, bytes: b };
}

/** An OBJECT IDENTIFIER from its dotted form [X.690 §8.19]. */
export function derOid(dotted: string): DerNode {
	return { tag: DER_TAG.oid, bytes: oidContents(dotted) };
}

/** A UTF8String of printable ASCII (all a thing name may hold). */
export function derUtf8Ascii(s: string): DerNode {
	const b = new Uint8Array(s.length);
	for (let i = 0; i < s.length; i++) {
		const c = s.charCodeAt(i);
		if (c < 0x20 || c > 0x7e) throw new RangeError('"text" expected printable ASCII, got code ' + c + ' at ' + i);
		b[i] = c;
	}
	return { tag: DER_TAG.utf8, bytes: b };
}
