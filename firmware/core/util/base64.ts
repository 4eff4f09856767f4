/*
 * Base64 (RFC 4648 §4) for the few binary fields that travel in JSON (the wrapped
 * map key, the KMS blob). Strict: wrong characters, bad padding or a wrong length
 * give undefined, never a guess.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const charCodeAt = String.prototype.charCodeAt;

const DECODE = ((): Int16Array => {
	const t = new Int16Array(128).fill(-1);
	for (let i = 0; i < 64; i++) t[charCodeAt.call(ALPHABET, i)] = i;
	return t;
})();

export function base64Decode(s: string): Uint8Array | undefined {
	if (typeof s !== 'string' || s.length % 4 !== 0) return undefined;
	const len = s.length;
	const pad = len > 0 && charCodeAt.call(s, len - 1) === 61 ? (charCodeAt.call(s, len - 2) === 61 ? 2 : 1) : 0;
	const out = new Uint8Array((len / 4) * 3 - pad);
	let o = 0;
	for (let i = 0; i < len; i += 4) {
		let v = 0;
		for (let k = 0; k < 4; k++) {
			const c = charCodeAt.call(s, i + k);
			const last = i + 4 === len;
			if (c === 61 && last && k >= 4 - pad) {
				v <<= 6;
				continue;
			}
			const d = c < 128 ? DECODE[c]! : -1;
			if (d < 0) return undefined;
			v = (v << 6) | d;
		}
		out[o++] = (v >> 16) & 0xff;
		if (o < out.length) out[o++] = (v >> 8) & 0xff;
		if (o < out.length) out[o++] = v & 0xff;
	}
	return out;
}

export function base64Encode(b: Uint8Array): string {
	let s = '';
	for (let i = 0; i < b.length; i += 3) {
		const v = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
		s += ALPHABET[(v >> 18) & 63]! + ALPHABET[(v >> 12) & 63]! + (i + 1 < b.length ? ALPHABET[(v >> 6) & 63]! : '=') + (i + 2 < b.length ? ALPHABET[v & 63]! : '=');
	}
	return s;
}
