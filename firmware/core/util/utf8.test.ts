/* Strict UTF-8 for MQTT strings [MQTT-1.5.3]. */
import * as assert from '../testing/assert';
import { bytes } from '../testing/fakes';
import { utf8Decode, utf8Encode, utf8Length, utf8Write } from './utf8';

/** [string, its UTF-8 bytes] at every length boundary. */
const GOOD: readonly (readonly [string, Uint8Array])[] = [
	['', bytes()],
	['a/b', bytes(0x61, 0x2f, 0x62)],
	['\u007f', bytes(0x7f)],
	['\u0080', bytes(0xc2, 0x80)],
	['ü', bytes(0xc3, 0xbc)],
	['\u07ff', bytes(0xdf, 0xbf)],
	['\u0800', bytes(0xe0, 0xa0, 0x80)],
	['€', bytes(0xe2, 0x82, 0xac)],
	['\ud7ff', bytes(0xed, 0x9f, 0xbf)],
	['\ue000', bytes(0xee, 0x80, 0x80)],
	['\uffff', bytes(0xef, 0xbf, 0xbf)],
	['\ufeff', bytes(0xef, 0xbb, 0xbf)], // a BOM is a character, not stripped [MQTT-1.5.3-3]
	['𐀀', bytes(0xf0, 0x90, 0x80, 0x80)],
	['𝄞', bytes(0xf0, 0x9d, 0x84, 0x9e)],
	['\udbff\udfff', bytes(0xf4, 0x8f, 0xbf, 0xbf)],
	['a\u0001b', bytes(0x61, 0x01, 0x62)],
];

/** [why, bytes] that must not decode. */
const BAD: readonly (readonly [string, Uint8Array])[] = [
	['overlong "/" in 2 bytes', bytes(0xc0, 0xaf)],
	['overlong U+0000 in 2 bytes', bytes(0xc0, 0x80)],
	['overlong in 2 bytes (C1)', bytes(0xc1, 0xbf)],
	['overlong in 3 bytes', bytes(0xe0, 0x80, 0xaf)],
	['overlong in 3 bytes, largest', bytes(0xe0, 0x9f, 0xbf)],
	['overlong in 4 bytes', bytes(0xf0, 0x8f, 0xbf, 0xbf)],
	['high surrogate U+D800', bytes(0xed, 0xa0, 0x80)],
	['low surrogate U+DFFF', bytes(0xed, 0xbf, 0xbf)],
	['surrogate pair encoded as two 3-byte sequences', bytes(0xed, 0xa0, 0xbd, 0xed, 0xb2, 0xa9)],
	['above U+10FFFF', bytes(0xf4, 0x90, 0x80, 0x80)],
	['F5 lead byte', bytes(0xf5, 0x80, 0x80, 0x80)],
	['FF byte', bytes(0xff)],
	['lone continuation byte', bytes(0x80)],
	['truncated 2-byte sequence', bytes(0xc3)],
	['truncated 3-byte sequence', bytes(0xe2, 0x82)],
	['truncated 4-byte sequence', bytes(0xf0, 0x9d, 0x84)],
	['ASCII where a continuation byte should be', bytes(0xe2, 0x41, 0xac)],
];

describe('utf8', () => {
	describe('encode and decode agree on every length boundary', () => {
		for (const [s, b] of GOOD) {
			it(JSON.stringify(s), () => {
				assert.equal(utf8Length(s), b.length);
				assert.deepEqual(utf8Encode(s), b);
				assert.equal(utf8Decode(b), s);
				assert.equal(utf8Decode(b, 0, b.length, true), s);
			});
		}
	});

	describe('ill-formed bytes decode to undefined', () => {
		for (const [why, b] of BAD) {
			it(why, () => {
				assert.equal(utf8Decode(b), undefined);
				assert.equal(utf8Decode(b, 0, b.length, true), undefined);
			});
		}
	});

	it('U+0000 decodes normally, but not under the MQTT rule [MQTT-1.5.3-2]', () => {
		assert.equal(utf8Decode(bytes(0x61, 0, 0x62)), 'a\u0000b');
		assert.equal(utf8Decode(bytes(0x61, 0, 0x62), 0, 3, true), undefined);
		assert.equal(utf8Decode(bytes(0), 0, 1, true), undefined);
	});

	it('decodes only between start and end, and a sequence cut by end is ill-formed', () => {
		const b = bytes(0x78, 0x61, 0xc3, 0xbc, 0x79);
		assert.equal(utf8Decode(b, 1, 4), 'aü');
		assert.equal(utf8Decode(b, 1, 3), undefined);
		assert.equal(utf8Decode(b, 2, 2), '');
	});

	it('long ASCII runs (past the 512-byte chunk) decode whole', () => {
		const b = new Uint8Array(2000).map((_, i) => 0x41 + (i % 26));
		const s = utf8Decode(b)!;
		assert.equal(s.length, 2000);
		assert.equal(s.charCodeAt(1999), 0x41 + (1999 % 26));
		assert.equal(s.slice(510, 516), 'QRSTUV');
	});

	it('mixed text survives the round trip', () => {
		const s = 'robot/ü/€/𝄞/'.repeat(50);
		assert.equal(utf8Decode(utf8Encode(s)), s);
	});

	it('a lone surrogate cannot be encoded', () => {
		assert.throws(() => utf8Length('a\ud800'), /lone surrogate at 1/);
		assert.throws(() => utf8Length('\udc00a'), /lone surrogate at 0/);
		assert.throws(() => utf8Encode('\ud800\ud800'), /lone surrogate/);
	});

	it('utf8Write writes at an offset and returns the end', () => {
		const out = new Uint8Array(8).fill(0xee);
		assert.equal(utf8Write('ü€', out, 1), 6);
		assert.deepEqual(out, bytes(0xee, 0xc3, 0xbc, 0xe2, 0x82, 0xac, 0xee, 0xee));
	});
});
