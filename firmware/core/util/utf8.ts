/*
 * UTF-8 for MQTT strings [MQTT-1.5.3]. Hand-written rather than TextDecoder because
 * the rules are stricter than WHATWG decoding (no U+0000, no surrogates, no
 * replacement characters: a bad string is an error, not a "?"), and because the
 * decoder must behave the same on Node, bare XS and Moddable.
 */

// Called unbound on purpose: in XS, `s.charCodeAt(i)` and `s.length` box the primitive
// string on every access (2 heap slots each, measured in bench codec.xs); a call with the
// string as `this` does not. It made encoding a 62-character topic 263 slots of garbage.
const charCodeAt = String.prototype.charCodeAt;

/** Bytes needed to encode `s`; throws on a lone surrogate (not encodable) [MQTT-1.5.3-1]. */
export function utf8Length(s: string): number {
	let n = 0;
	const len = s.length;
	for (let i = 0; i < len; i++) {
		const c = charCodeAt.call(s, i);
		if (c < 0x80) n += 1;
		else if (c < 0x800) n += 2;
		else if (c >= 0xd800 && c <= 0xdbff) {
			const d = charCodeAt.call(s, i + 1);
			if (!(d >= 0xdc00 && d <= 0xdfff)) throw new RangeError('string has a lone surrogate at ' + i);
			n += 4;
			i++;
		} else if (c >= 0xdc00 && c <= 0xdfff) throw new RangeError('string has a lone surrogate at ' + i);
		else n += 3;
	}
	return n;
}

/** Writes `s` at `at`; returns the offset after it. The caller sized `out` with utf8Length. */
export function utf8Write(s: string, out: Uint8Array, at: number): number {
	const len = s.length;
	for (let i = 0; i < len; i++) {
		let c = charCodeAt.call(s, i);
		if (c >= 0xd800 && c <= 0xdbff) c = 0x10000 + ((c - 0xd800) << 10) + (charCodeAt.call(s, ++i) - 0xdc00);
		if (c < 0x80) out[at++] = c;
		else if (c < 0x800) {
			out[at++] = 0xc0 | (c >> 6);
			out[at++] = 0x80 | (c & 0x3f);
		} else if (c < 0x10000) {
			out[at++] = 0xe0 | (c >> 12);
			out[at++] = 0x80 | ((c >> 6) & 0x3f);
			out[at++] = 0x80 | (c & 0x3f);
		} else {
			out[at++] = 0xf0 | (c >> 18);
			out[at++] = 0x80 | ((c >> 12) & 0x3f);
			out[at++] = 0x80 | ((c >> 6) & 0x3f);
			out[at++] = 0x80 | (c & 0x3f);
		}
	}
	return at;
}

export function utf8Encode(s: string): Uint8Array {
	const out = new Uint8Array(utf8Length(s));
	utf8Write(s, out, 0);
	return out;
}

/** Bytes decoded per String.fromCharCode.apply: that many slots of XS stack (a longer run costs concatenations, not stack). */
const ASCII_RUN = 64;

/**
 * Strict decode: undefined for ill-formed UTF-8 (overlongs, surrogates, > U+10FFFF,
 * truncated sequences). With `mqtt` set, U+0000 is refused too [MQTT-1.5.3-2].
 */
export function utf8Decode(b: Uint8Array, start = 0, end = b.length, mqtt = false): string | undefined {
	let s = '';
	let i = start;
	while (i < end) {
		const c = b[i]!;
		let cp: number;
		let need: number;
		let min: number;
		if (c < 0x80) {
			if (c === 0 && mqtt) return undefined;
			// fast path for ASCII runs: topics are almost always ASCII. At most ASCII_RUN at a time:
			// apply() puts every byte on the XS stack, and a run of 512 overflowed the ESP32's stock
			// 512-slot stack when a shadow document was decoded (issue #20)
			let j = i + 1;
			while (j < end && j - i < ASCII_RUN && b[j]! < 0x80 && (b[j] !== 0 || !mqtt)) j++;
			s += String.fromCharCode.apply(null, Array.from(b.subarray(i, j)));
			i = j;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			cp = c & 0x1f;
			need = 1;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			cp = c & 0x0f;
			need = 2;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			cp = c & 0x07;
			need = 3;
			min = 0x10000;
		} else return undefined;
		for (let k = 1; k <= need; k++) {
			const d = b[i + k];
			if (d === undefined || i + k >= end || (d & 0xc0) !== 0x80) return undefined;
			cp = (cp << 6) | (d & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
		s += String.fromCodePoint(cp);
		i += need + 1;
	}
	return s;
}
