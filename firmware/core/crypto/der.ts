/*
 * The one DER reader of the core, for the device key (crypto/rsa.ts) and its certificate
 * (identity/identity.ts): one element at a time, definite minimal lengths only, every
 * bound checked. Callers throw DerError for what they find wrong too and turn it into
 * their own result at the top.
 */

export class DerError extends Error {}

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
