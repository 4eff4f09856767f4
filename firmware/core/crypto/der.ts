/*
 * The one DER reader of the core, for the device key (crypto/rsa.ts) and its certificate
 * (identity/identity.ts): one element at a time, definite minimal lengths only, every
 * bound checked. The tags and object identifiers it and the writer (der-writer.ts) name
 * are tabled here once. Callers throw DerError for what they find wrong too and turn it into
 * their own result at the top.
 */

export class DerError extends Error {}

/** The tags the core reads and writes (universal class [X.680 §8.4], and [0] constructed). */
export const DER_TAG = Object.freeze({
	integer: 0x02,
	bitString: 0x03,
	octetString: 0x04,
	null: 0x05,
	oid: 0x06,
	utf8: 0x0c,
	printable: 0x13,
	ia5: 0x16,
	utcTime: 0x17,
	generalizedTime: 0x18,
	sequence: 0x30,
	set: 0x31,
	context0: 0xa0,
} as const);

/** The object identifiers of the device key, its certificate and its renewal request, dotted. */
export const OID = Object.freeze({
	/** [RFC 8017 A.1] */
	rsaEncryption: '1.2.840.113549.1.1.1',
	/** [RFC 8017 A.2.4] */
	sha256WithRsa: '1.2.840.113549.1.1.11',
	/** [X.520 §6.2.2] */
	commonName: '2.5.4.3',
} as const);

/** An OBJECT IDENTIFIER's contents from its dotted form [X.690 §8.19]. */
export function oidContents(dotted: string): Uint8Array {
	if (!/^[0-2]\.\d+(\.\d+)*$/.test(dotted)) throw new TypeError('"oid" expected a dotted OID, got ' + JSON.stringify(dotted));
	const arcs = dotted.split('.').map(Number);
	const first = (arcs[0] as number) * 40 + (arcs[1] as number);
	const out: number[] = [];
	for (const arc of [first, ...arcs.slice(2)]) {
		const chunk: number[] = [arc & 0x7f];
		for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
		out.push(...chunk);
	}
	return new Uint8Array(out);
}

/** True when `body`, an OBJECT IDENTIFIER's contents, is the OID `dotted`. */
export function isOid(body: Uint8Array, dotted: string): boolean {
	const want = oidContents(dotted);
	if (body.length !== want.length) return false;
	for (let i = 0; i < want.length; i++) if (body[i] !== want[i]) return false;
	return true;
}

export interface DerElement {
	readonly tag: number;
	readonly body: Uint8Array;
	/** Where the next element starts. */
	readonly next: number;
}

/** The element at `at` (of tag `tag`, when given) [X.690 §8.1, §10.1]. */
export function derElement(der: Uint8Array, at: number, tag?: number): DerElement {
	if (at + 2 > der.length) throw new DerError('truncated at ' + at);
	const t = der[at] as number;
	if (tag !== undefined && t !== tag) throw new DerError('expected tag 0x' + tag.toString(16) + ' at ' + at + ', got 0x' + t.toString(16));
	let length = der[at + 1] as number;
	let start = at + 2;
	if (length & 0x80) {
		const octets = length & 0x7f;
		// definite, minimal lengths only (DER); 3 octets covers anything a key or certificate needs
		if (octets === 0 || octets > 3) throw new DerError('unsupported length form at ' + at);
		if (start + octets > der.length) throw new DerError('truncated length at ' + at);
		length = 0;
		for (let i = 0; i < octets; i++) length = length * 256 + (der[start + i] as number);
		if (length < 0x80 || (octets > 1 && der[start] === 0)) throw new DerError('non-minimal length at ' + at);
		start += octets;
	}
	const next = start + length;
	if (next > der.length) throw new DerError('length ' + length + ' at ' + at + ' runs past the end');
	return { tag: t, body: der.subarray(start, next), next };
}
