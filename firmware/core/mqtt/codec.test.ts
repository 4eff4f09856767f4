/*
 * Codec rows: packet -> bytes -> the same packet, for every MQTT 3.1.1 packet type;
 * the encoder's argument errors; and frames that break a rule, each giving the rule id.
 * Runs on Node and in XS (no node: imports); test/mqtt-conformance.test.ts checks
 * the same codec against mqtt-packet on Node.
 */
import * as assert from '../testing/assert';
import { bytes, concat, seededRandom, text } from '../testing/fakes';
import { MAX_REMAINING_LENGTH, decode, encode, encodeInto, packetSize } from './codec';
import type { Packet } from './packet';

function throwsRange(fn: () => unknown, match: RegExp): void {
	try {
		fn();
	} catch (e) {
		assert.ok(e instanceof RangeError, 'expected a RangeError, got ' + String(e));
		assert.ok(match.test(e.message), '"' + e.message + '" does not match ' + String(match));
		return;
	}
	throw new assert.AssertionError('expected a RangeError matching ' + String(match));
}

const payload = text('hello');

/** [name, packet, the bytes the standard prescribes (where written out)] */
const ROWS: readonly (readonly [string, Packet, Uint8Array?])[] = [
	// 10 0D: "MQTT" level 4, flags 0x02 (clean session), keep-alive 60, client id "a" [MQTT-3.1]
	['connect, minimal', { type: 'connect', clientId: 'a', cleanSession: true, keepAlive: 60 }, bytes(0x10, 0x0d, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 60, 0, 1, 0x61)],
	['connect, empty client id, keep-alive off', { type: 'connect', clientId: '', cleanSession: true, keepAlive: 0 }, bytes(0x10, 0x0c, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0, 0, 0)],
	['connect, clean session off', { type: 'connect', clientId: 'robot-1', cleanSession: false, keepAlive: 60 }],
	[
		'connect with will (QoS 1, retain)',
		{ type: 'connect', clientId: 'c', cleanSession: false, keepAlive: 30, will: { topic: 'w', payload: bytes(9), qos: 1, retain: true } },
		// flags: will retain 0x20 | will QoS 1 0x08 | will 0x04 = 0x2c
		bytes(0x10, 0x13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x2c, 0, 30, 0, 1, 0x63, 0, 1, 0x77, 0, 1, 9),
	],
	['connect with will QoS 2, no retain, empty payload', { type: 'connect', clientId: 'c', cleanSession: true, keepAlive: 1, will: { topic: 'a/b', payload: bytes(), qos: 2, retain: false } }],
	['connect with user name', { type: 'connect', clientId: 'robot-1', cleanSession: false, keepAlive: 1200, username: 'üser' }],
	[
		'connect with user name and password',
		{ type: 'connect', clientId: 'c', cleanSession: true, keepAlive: 60, username: 'u', password: bytes(0, 1, 2) },
		// flags: user name 0x80 | password 0x40 | clean 0x02 = 0xc2
		bytes(0x10, 0x15, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0xc2, 0, 60, 0, 1, 0x63, 0, 1, 0x75, 0, 3, 0, 1, 2),
	],
	['connect with everything', { type: 'connect', clientId: 'c', cleanSession: false, keepAlive: 65535, username: 'u', password: bytes(), will: { topic: 'x', payload, qos: 0, retain: true } }],
	['connack accepted', { type: 'connack', sessionPresent: false, returnCode: 0 }, bytes(0x20, 2, 0, 0)],
	['connack session present', { type: 'connack', sessionPresent: true, returnCode: 0 }, bytes(0x20, 2, 1, 0)],
	['connack not authorized', { type: 'connack', sessionPresent: false, returnCode: 5 }, bytes(0x20, 2, 0, 5)],
	['publish QoS 0', { type: 'publish', topic: 'a/b', payload: text('hi'), qos: 0, retain: false, dup: false }, bytes(0x30, 7, 0, 3, 0x61, 0x2f, 0x62, 0x68, 0x69)],
	['publish QoS 0 retain, empty payload', { type: 'publish', topic: 'a', payload: bytes(), qos: 0, retain: true, dup: false }, bytes(0x31, 3, 0, 1, 0x61)],
	['publish QoS 1', { type: 'publish', topic: 'a', payload: bytes(7), qos: 1, retain: false, dup: false, packetId: 10 }, bytes(0x32, 6, 0, 1, 0x61, 0, 10, 7)],
	['publish QoS 1 dup retain', { type: 'publish', topic: 'a', payload: bytes(7), qos: 1, retain: true, dup: true, packetId: 0xffff }, bytes(0x3b, 6, 0, 1, 0x61, 0xff, 0xff, 7)],
	['publish QoS 2', { type: 'publish', topic: '$aws/things/t/shadow/update', payload, qos: 2, retain: false, dup: false, packetId: 1 }],
	['publish, non-ASCII topic', { type: 'publish', topic: 'ü/€/𝄞', payload, qos: 0, retain: false, dup: false }],
	['puback', { type: 'puback', packetId: 10 }, bytes(0x40, 2, 0, 10)],
	['pubrec', { type: 'pubrec', packetId: 258 }, bytes(0x50, 2, 1, 2)],
	// PUBREL's fixed header flags are 0010 [MQTT-3.6.1-1]
	['pubrel', { type: 'pubrel', packetId: 1 }, bytes(0x62, 2, 0, 1)],
	['pubcomp', { type: 'pubcomp', packetId: 1 }, bytes(0x70, 2, 0, 1)],
	['subscribe, one filter', { type: 'subscribe', packetId: 1, subscriptions: [{ topic: 'a', qos: 1 }] }, bytes(0x82, 6, 0, 1, 0, 1, 0x61, 1)],
	[
		'subscribe, several filters',
		{
			type: 'subscribe',
			packetId: 2,
			subscriptions: [
				{ topic: 'a/+', qos: 0 },
				{ topic: '#', qos: 1 },
				{ topic: '$aws/things/t/jobs/notify', qos: 2 },
			],
		},
	],
	['suback', { type: 'suback', packetId: 1, granted: [1] }, bytes(0x90, 3, 0, 1, 1)],
	['suback with failure 0x80', { type: 'suback', packetId: 3, granted: [0, 0x80, 2, 1] }, bytes(0x90, 6, 0, 3, 0, 0x80, 2, 1)],
	['unsubscribe', { type: 'unsubscribe', packetId: 4, topics: ['a', 'b/#'] }, bytes(0xa2, 10, 0, 4, 0, 1, 0x61, 0, 3, 0x62, 0x2f, 0x23)],
	['unsuback', { type: 'unsuback', packetId: 4 }, bytes(0xb0, 2, 0, 4)],
	['pingreq', { type: 'pingreq' }, bytes(0xc0, 0)],
	['pingresp', { type: 'pingresp' }, bytes(0xd0, 0)],
	['disconnect', { type: 'disconnect' }, bytes(0xe0, 0)],
];

describe('mqtt codec', () => {
	describe('packet -> bytes -> packet', () => {
		for (const [name, packet, wire] of ROWS) {
			it(name, () => {
				const b = encode(packet);
				assert.equal(b.length, packetSize(packet));
				if (wire) assert.deepEqual(b, wire, 'bytes');
				const d = decode(b);
				assert.deepEqual(d, { kind: 'packet', packet, used: b.length });
				// trailing bytes of the next packet are left to the caller
				assert.deepEqual(decode(concat(b, bytes(0xc0, 0))), { kind: 'packet', packet, used: b.length });
				// every proper prefix asks for more
				for (let n = 0; n < b.length; n++) assert.deepEqual(decode(b.subarray(0, n)), { kind: 'more' }, 'prefix of ' + n);
			});
		}

		it('decoded byte fields are copies, not views of the input', () => {
			const b = encode({ type: 'publish', topic: 'a', payload: bytes(1, 2), qos: 0, retain: false, dup: false });
			const d = decode(b);
			assert.ok(d.kind === 'packet' && d.packet.type === 'publish');
			b.fill(0);
			assert.deepEqual(d.packet.payload, bytes(1, 2));
		});

		it('encodeInto writes into a larger buffer the caller owns and says how much', () => {
			const p: Packet = { type: 'puback', packetId: 7 };
			const out = new Uint8Array(16).fill(0xee);
			assert.equal(encodeInto(p, out), 4);
			assert.deepEqual(out.subarray(0, 5), bytes(0x40, 2, 0, 7, 0xee));
			encodeInto(p, out.subarray(10, 14));
			assert.deepEqual(out.subarray(10, 14), bytes(0x40, 2, 0, 7));
		});
	});

	describe('remaining length [MQTT-2.2.3]', () => {
		// one publish of remaining length `rl`: topic "t" (3 bytes) and the rest payload
		const publishOf = (rl: number): Packet => ({ type: 'publish', topic: 't', payload: new Uint8Array(rl - 3), qos: 0, retain: false, dup: false });
		const rows: readonly (readonly [number, Uint8Array])[] = [
			[3, bytes(3)],
			[127, bytes(0x7f)],
			[128, bytes(0x80, 0x01)],
			[321, bytes(0xc1, 0x02)], // the standard's worked example
			[16_383, bytes(0xff, 0x7f)],
			[16_384, bytes(0x80, 0x80, 0x01)],
		];
		for (const [rl, varint] of rows) {
			it(rl + ' is ' + varint.length + ' byte(s)', () => {
				const b = encode(publishOf(rl));
				assert.equal(b.length, 1 + varint.length + rl);
				assert.deepEqual(b.subarray(1, 1 + varint.length), varint);
				const d = decode(b);
				assert.ok(d.kind === 'packet');
				assert.equal(d.used, b.length);
			});
		}

		it('four-byte lengths up to the maximum are read from the header alone', () => {
			assert.deepEqual(decode(bytes(0x30, 0x80, 0x80, 0x80, 0x01)), { kind: 'more' }); // 2,097,152
			assert.deepEqual(decode(bytes(0x30, 0xff, 0xff, 0xff, 0x7f)), { kind: 'more' }); // 268,435,455
			assert.equal(MAX_REMAINING_LENGTH, 268_435_455);
		});

		it('the size limit is judged from the header, before the body arrives', () => {
			const d = decode(bytes(0x30, 0x80, 0x01), 100); // 131 bytes announced
			assert.equal(d.kind, 'bad');
			assert.ok(d.kind === 'bad' && d.rule === 'size' && /131/.test(d.message), JSON.stringify(d));
			assert.deepEqual(decode(bytes(0x30, 0x80, 0x01), 131), { kind: 'more' });
			assert.equal(decode(bytes(0x30, 0xff, 0xff, 0xff, 0x7f), 1 << 20).kind, 'bad');
		});
	});

	describe('encoder argument errors (RangeError naming the argument)', () => {
		const pub = (over: Partial<Record<string, unknown>>): Packet => ({ type: 'publish', topic: 'a', payload: bytes(), qos: 0, retain: false, dup: false, ...over }) as Packet;
		const con = (over: Partial<Record<string, unknown>>): Packet => ({ type: 'connect', clientId: 'c', cleanSession: true, keepAlive: 60, ...over }) as Packet;
		const rows: readonly (readonly [string, Packet, RegExp])[] = [
			['keep-alive over 65535', con({ keepAlive: 65536 }), /"keepAlive"/],
			['negative keep-alive', con({ keepAlive: -1 }), /"keepAlive"/],
			['password without user name', con({ password: bytes(1) }), /"password".*"username"/],
			['empty client id with clean session off', con({ clientId: '', cleanSession: false }), /"clientId".*MQTT-3.1.3-7/],
			['client id with U+0000', con({ clientId: 'a\u0000' }), /"clientId".*U\+0000/],
			['client id over 65535 bytes', con({ clientId: 'x'.repeat(65536) }), /"clientId" expected <= 65535 bytes/],
			['client id with a lone surrogate', con({ clientId: 'a\ud800' }), /"clientId"/],
			['user name with U+0000', con({ username: '\u0000' }), /"username"/],
			['will topic with a wildcard', con({ will: { topic: 'a/#', payload: bytes(), qos: 0, retain: false } }), /"will.topic".*wildcard/],
			['empty will topic', con({ will: { topic: '', payload: bytes(), qos: 0, retain: false } }), /"will.topic"/],
			['will QoS 3', con({ will: { topic: 'a', payload: bytes(), qos: 3, retain: false } }), /"will.qos"/],
			['will payload over 65535', con({ will: { topic: 'a', payload: new Uint8Array(65536), qos: 0, retain: false } }), /"will.payload"/],
			['password over 65535', con({ username: 'u', password: new Uint8Array(65536) }), /"password"/],
			['connack return code 256', { type: 'connack', sessionPresent: false, returnCode: 256 }, /"returnCode"/],
			['empty publish topic', pub({ topic: '' }), /"topic"/],
			['publish topic with +', pub({ topic: 'a/+/b' }), /"topic".*wildcard/],
			['publish topic with #', pub({ topic: '#' }), /"topic".*wildcard/],
			['publish topic with U+0000', pub({ topic: 'a\u0000' }), /"topic".*U\+0000/],
			['publish topic with a lone surrogate', pub({ topic: '\udc00' }), /"topic"/],
			['publish QoS 3', pub({ qos: 3, packetId: 1 }), /"qos"/],
			['QoS 1 publish without id', pub({ qos: 1 }), /"packetId"/],
			['QoS 1 publish with id 0', pub({ qos: 1, packetId: 0 }), /"packetId"/],
			['QoS 1 publish with id 65536', pub({ qos: 1, packetId: 65536 }), /"packetId"/],
			['QoS 2 publish with id 1.5', pub({ qos: 2, packetId: 1.5 }), /"packetId"/],
			['DUP on QoS 0', pub({ dup: true }), /"dup"/],
			['puback id 0', { type: 'puback', packetId: 0 }, /"packetId"/],
			['pubrel id 70000', { type: 'pubrel', packetId: 70000 }, /"packetId"/],
			['subscribe with no filters', { type: 'subscribe', packetId: 1, subscriptions: [] }, /"subscriptions"/],
			['subscribe with an empty filter', { type: 'subscribe', packetId: 1, subscriptions: [{ topic: '', qos: 0 }] }, /"topic"/],
			['subscribe QoS 3', { type: 'subscribe', packetId: 1, subscriptions: [{ topic: 'a', qos: 3 as 0 }] }, /"qos"/],
			['subscribe id 0', { type: 'subscribe', packetId: 0, subscriptions: [{ topic: 'a', qos: 0 }] }, /"packetId"/],
			['suback with no codes', { type: 'suback', packetId: 1, granted: [] }, /"granted"/],
			['suback code 3', { type: 'suback', packetId: 1, granted: [3] }, /"granted"/],
			['unsubscribe with no filters', { type: 'unsubscribe', packetId: 1, topics: [] }, /"topics"/],
			['unsubscribe with an empty filter', { type: 'unsubscribe', packetId: 1, topics: [''] }, /"topic"/],
			['unsuback id 0', { type: 'unsuback', packetId: 0 }, /"packetId"/],
		];
		for (const [name, packet, match] of rows) {
			it(name, () => {
				throwsRange(() => packetSize(packet), match);
				throwsRange(() => encode(packet), match);
			});
		}

		it('an output buffer too small', () => {
			throwsRange(() => encodeInto({ type: 'puback', packetId: 1 }, new Uint8Array(3)), /"out" expected >= 4 bytes, got 3/);
		});
	});

	describe('bad frames give the rule they break', () => {
		const MQTT = [0, 4, 0x4d, 0x51, 0x54, 0x54];
		/** CONNECT with these connect flags and this payload after the client id "c". */
		const connect = (flags: number, ...rest: number[]): Uint8Array => bytes(0x10, 10 + 3 + rest.length, ...MQTT, 4, flags, 0, 60, 0, 1, 0x63, ...rest);
		const rows: readonly (readonly [string, Uint8Array, string])[] = [
			['remaining length of 5 bytes', bytes(0x30, 0x80, 0x80, 0x80, 0x80, 0x01), 'MQTT-2.2.3'],
			['reserved packet type 0', bytes(0x00, 0), 'MQTT-2.2.1'],
			['reserved packet type 15', bytes(0xf0, 0), 'MQTT-2.2.1'],
			['SUBSCRIBE with flags 0', bytes(0x80, 6, 0, 1, 0, 1, 0x61, 1), 'MQTT-2.2.2-2'],
			['UNSUBSCRIBE with flags 0', bytes(0xa0, 5, 0, 1, 0, 1, 0x61), 'MQTT-2.2.2-2'],
			['PUBREL with flags 0', bytes(0x60, 2, 0, 1), 'MQTT-2.2.2-2'],
			['PUBACK with flags 1', bytes(0x41, 2, 0, 1), 'MQTT-2.2.2-2'],
			['PINGRESP with flags 8', bytes(0xd8, 0), 'MQTT-2.2.2-2'],
			['CONNACK with flags 2', bytes(0x22, 2, 0, 0), 'MQTT-2.2.2-2'],
			['PUBLISH QoS 3', bytes(0x36, 5, 0, 1, 0x61, 0, 1), 'MQTT-3.3.1-4'],
			['DUP on QoS 0', bytes(0x38, 3, 0, 1, 0x61), 'MQTT-3.3.1-2'],
			['topic with an overlong 2-byte sequence', bytes(0x30, 4, 0, 2, 0xc0, 0x80), 'MQTT-1.5.3-1'],
			['topic with an overlong 3-byte "/"', bytes(0x30, 5, 0, 3, 0xe0, 0x80, 0xaf), 'MQTT-1.5.3-1'],
			['topic with a surrogate U+D800', bytes(0x30, 5, 0, 3, 0xed, 0xa0, 0x80), 'MQTT-1.5.3-1'],
			['topic above U+10FFFF', bytes(0x30, 6, 0, 4, 0xf4, 0x90, 0x80, 0x80), 'MQTT-1.5.3-1'],
			['topic with a truncated sequence', bytes(0x30, 4, 0, 2, 0x61, 0xc3), 'MQTT-1.5.3-1'],
			['topic with a lone continuation byte', bytes(0x30, 3, 0, 1, 0x80), 'MQTT-1.5.3-1'],
			['topic with U+0000', bytes(0x30, 4, 0, 2, 0x61, 0x00), 'MQTT-1.5.3-2'],
			['empty topic name', bytes(0x30, 2, 0, 0), 'MQTT-4.7.3-1'],
			['+ in a PUBLISH topic', bytes(0x30, 5, 0, 3, 0x61, 0x2f, 0x2b), 'MQTT-3.3.2-2'],
			['# in a PUBLISH topic', bytes(0x30, 3, 0, 1, 0x23), 'MQTT-3.3.2-2'],
			['QoS 1 PUBLISH with id 0', bytes(0x32, 5, 0, 1, 0x61, 0, 0), 'MQTT-2.3.1-1'],
			['PUBACK with id 0', bytes(0x40, 2, 0, 0), 'MQTT-2.3.1-1'],
			['SUBSCRIBE with id 0', bytes(0x82, 6, 0, 0, 0, 1, 0x61, 1), 'MQTT-2.3.1-1'],
			['UNSUBACK with id 0', bytes(0xb0, 2, 0, 0), 'MQTT-2.3.1-1'],
			['PUBACK one byte long', bytes(0x40, 1, 0), 'MQTT-2.2.3'],
			['PUBACK three bytes long', bytes(0x40, 3, 0, 1, 0), 'MQTT-2.2.3'],
			['PINGREQ with a body', bytes(0xc0, 1, 0), 'MQTT-2.2.3'],
			['CONNACK three bytes long', bytes(0x20, 3, 0, 0, 0), 'MQTT-2.2.3'],
			['topic length past the packet', bytes(0x30, 3, 0, 5, 0x61), 'MQTT-2.2.3'],
			['QoS 1 PUBLISH too short for its id', bytes(0x32, 4, 0, 1, 0x61, 0), 'MQTT-2.2.3'],
			['CONNACK return code 6', bytes(0x20, 2, 0, 6), 'MQTT-3.2.2-6'],
			['CONNACK reserved acknowledge flags', bytes(0x20, 2, 2, 0), 'MQTT-3.2.2-1'],
			['CONNACK session present with a refusal', bytes(0x20, 2, 1, 5), 'MQTT-3.2.2-4'],
			['CONNECT of MQTT 3.1 (MQIsdp)', bytes(0x10, 15, 0, 6, 0x4d, 0x51, 0x49, 0x73, 0x64, 0x70, 3, 2, 0, 60, 0, 1, 0x63), 'MQTT-3.1.2-2'],
			['CONNECT level 5', bytes(0x10, 13, ...MQTT, 5, 2, 0, 60, 0, 1, 0x63), 'MQTT-3.1.2-2'],
			['CONNECT reserved flag', connect(0x03), 'MQTT-3.1.2-3'],
			['CONNECT will QoS without will flag', connect(0x08), 'MQTT-3.1.2-11'],
			['CONNECT will retain without will flag', connect(0x20), 'MQTT-3.1.2-11'],
			['CONNECT will QoS 3', connect(0x1c, 0, 1, 0x77, 0, 0), 'MQTT-3.1.2-14'],
			['CONNECT will topic with a wildcard', connect(0x04, 0, 1, 0x23, 0, 0), 'MQTT-4.7.1-1'],
			['CONNECT password without user name', connect(0x40, 0, 1, 0x70), 'MQTT-3.1.2-22'],
			['CONNECT with bytes after the payload', connect(0x00, 0), 'MQTT-2.2.3'],
			['SUBSCRIBE without a filter', bytes(0x82, 2, 0, 1), 'MQTT-3.8.3-3'],
			['SUBSCRIBE with an empty filter', bytes(0x82, 5, 0, 1, 0, 0, 1), 'MQTT-4.7.3-1'],
			['SUBSCRIBE requesting QoS 3', bytes(0x82, 6, 0, 1, 0, 1, 0x61, 3), 'MQTT-3.8.3-4'],
			['SUBSCRIBE with reserved option bits', bytes(0x82, 6, 0, 1, 0, 1, 0x61, 0x41), 'MQTT-3.8.3-4'],
			['SUBSCRIBE missing its QoS byte', bytes(0x82, 5, 0, 1, 0, 1, 0x61), 'MQTT-2.2.3'],
			['SUBACK without a code', bytes(0x90, 2, 0, 1), 'MQTT-3.9.3-1'],
			['SUBACK code 3', bytes(0x90, 3, 0, 1, 3), 'MQTT-3.9.3-2'],
			['UNSUBSCRIBE without a filter', bytes(0xa2, 2, 0, 1), 'MQTT-3.10.3-2'],
			['UNSUBSCRIBE with an empty filter', bytes(0xa2, 4, 0, 1, 0, 0), 'MQTT-4.7.3-1'],
		];
		for (const [name, frame, rule] of rows) {
			it(name + ' -> ' + rule, () => {
				const d = decode(frame);
				assert.equal(d.kind, 'bad', JSON.stringify(d));
				assert.ok(d.kind === 'bad');
				assert.equal(d.rule, rule, d.message);
				assert.ok(d.message.length > 0);
			});
		}
	});

	describe('arbitrary bytes', () => {
		it('never throw: they give more, a packet that re-encodes, or bad', () => {
			const rnd = seededRandom(0x5eed);
			const byte = (): number => Math.floor(rnd() * 256);
			const seen = { more: 0, packet: 0, bad: 0 };
			for (let i = 0; i < 3000; i++) {
				const n = Math.floor(rnd() * 24);
				const b = new Uint8Array(n);
				for (let k = 0; k < n; k++) b[k] = byte();
				// a plausible header half the time, so bodies get exercised too
				if (n >= 2 && rnd() < 0.5) b[1] = n - 2;
				const d = decode(b, 64);
				seen[d.kind]++;
				if (d.kind === 'packet') {
					assert.ok(d.used >= 2 && d.used <= n);
					// what we accept we can also write, and it reads back the same
					assert.deepEqual(decode(encode(d.packet)), { kind: 'packet', packet: d.packet, used: packetSize(d.packet) }, Array.from(b).join(','));
				}
			}
			assert.ok(seen.more > 0 && seen.packet > 0 && seen.bad > 0, JSON.stringify(seen));
		});
	});
});
