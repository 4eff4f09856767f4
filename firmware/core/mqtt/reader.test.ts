/*
 * PacketReader: a byte stream cut anywhere gives the same packets in the same order;
 * a bad frame ends the stream; nothing above `maxPacket` is buffered.
 */
import * as assert from '../testing/assert';
import { bytes, concat, seededRandom, text } from '../testing/fakes';
import { encode } from './codec';
import type { Packet } from './packet';
import { PacketReader } from './reader';

const PACKETS: readonly Packet[] = [
	{ type: 'connack', sessionPresent: true, returnCode: 0 },
	{ type: 'suback', packetId: 1, granted: [1, 0x80] },
	{ type: 'publish', topic: 'cmd/robot-1/start', payload: text('{"zone":"kitchen"}'), qos: 1, retain: false, dup: false, packetId: 7 },
	{ type: 'pingresp' },
	{ type: 'publish', topic: 'a', payload: new Uint8Array(300).fill(0xab), qos: 0, retain: true, dup: false },
	{ type: 'puback', packetId: 9 },
	{ type: 'unsuback', packetId: 2 },
];
const STREAM = concat(...PACKETS.map((p) => encode(p)));

function feed(r: PacketReader, chunks: readonly Uint8Array[]): Packet[] {
	const out: Packet[] = [];
	for (const c of chunks) {
		const res = r.push(c);
		assert.ok(res.ok, JSON.stringify(res));
		out.push(...res.packets);
	}
	return out;
}

describe('PacketReader', () => {
	it('refuses a maxPacket below 16', () => {
		assert.throws(() => new PacketReader(15), /"maxPacket" expected an integer >= 16, got 15/);
		assert.throws(() => new PacketReader(100.5), /"maxPacket"/);
	});

	it('several packets in one chunk come out in order', () => {
		const r = new PacketReader(1024);
		assert.deepEqual(feed(r, [STREAM]), PACKETS);
		assert.equal(r.pending, 0);
	});

	it('byte at a time', () => {
		const r = new PacketReader(1024);
		const chunks: Uint8Array[] = [];
		for (let i = 0; i < STREAM.length; i++) chunks.push(STREAM.subarray(i, i + 1));
		assert.deepEqual(feed(r, chunks), PACKETS);
		assert.equal(r.pending, 0);
	});

	it('split in two at every position', () => {
		for (let at = 0; at <= STREAM.length; at++) {
			const r = new PacketReader(1024);
			assert.deepEqual(feed(r, [STREAM.subarray(0, at), STREAM.subarray(at)]), PACKETS, 'split at ' + at);
			assert.equal(r.pending, 0);
		}
	});

	it('split in three at random positions', () => {
		const rnd = seededRandom(42);
		for (let i = 0; i < 200; i++) {
			const a = Math.floor(rnd() * STREAM.length);
			const b = a + Math.floor(rnd() * (STREAM.length - a));
			const r = new PacketReader(1024);
			assert.deepEqual(feed(r, [STREAM.subarray(0, a), STREAM.subarray(a, b), STREAM.subarray(b)]), PACKETS, a + '/' + b);
		}
	});

	it('holds an incomplete packet and reports it as pending', () => {
		const r = new PacketReader(1024);
		const one = encode(PACKETS[2]!);
		const res = r.push(one.subarray(0, 5));
		assert.deepEqual(res, { ok: true, packets: [] });
		assert.equal(r.pending, 5);
		assert.deepEqual(feed(r, [one.subarray(5)]), [PACKETS[2]!]);
		assert.equal(r.pending, 0);
	});

	it('keeps its own copy: the caller may reuse the chunk', () => {
		const r = new PacketReader(1024);
		const one = encode(PACKETS[2]!);
		const chunk = one.slice(0, 10);
		feed(r, [chunk]);
		chunk.fill(0);
		assert.deepEqual(feed(r, [one.subarray(10)]), [PACKETS[2]!]);
	});

	it('an empty chunk is harmless', () => {
		const r = new PacketReader(1024);
		assert.deepEqual(feed(r, [bytes(), STREAM.subarray(0, 1), bytes(), STREAM.subarray(1)]), PACKETS);
	});

	it('a bad frame fails the push and the reader refuses further input', () => {
		const r = new PacketReader(1024);
		// a good PINGRESP, then PUBACK with flags 1 [MQTT-2.2.2-2]
		const res = r.push(bytes(0xd0, 0, 0x41, 2, 0, 1));
		assert.equal(res.ok, false);
		assert.ok(!res.ok && res.rule === 'MQTT-2.2.2-2', JSON.stringify(res));
		assert.equal(r.pending, 0);
		const again = r.push(encode({ type: 'pingresp' }));
		assert.deepEqual(again, { ok: false, rule: 'closed', message: 'reader already failed' });
	});

	it('a bad frame that arrives in pieces fails when its header is complete', () => {
		const r = new PacketReader(1024);
		assert.deepEqual(r.push(bytes(0x30, 0x80, 0x80)), { ok: true, packets: [] });
		assert.deepEqual(r.push(bytes(0x80)), { ok: true, packets: [] });
		const res = r.push(bytes(0x80));
		assert.ok(!res.ok && res.rule === 'MQTT-2.2.3', JSON.stringify(res));
	});

	describe('maxPacket', () => {
		it('a packet of exactly maxPacket bytes passes', () => {
			const p: Packet = { type: 'publish', topic: 't', payload: new Uint8Array(100 - 2 - 3), qos: 0, retain: false, dup: false };
			const b = encode(p);
			assert.equal(b.length, 100);
			const r = new PacketReader(100);
			assert.deepEqual(feed(r, [b.subarray(0, 50), b.subarray(50)]), [p]);
		});

		it('one byte more is refused from its header, before the body comes', () => {
			const p: Packet = { type: 'publish', topic: 't', payload: new Uint8Array(100 - 2 - 3 + 1), qos: 0, retain: false, dup: false };
			const b = encode(p);
			const r = new PacketReader(100);
			const res = r.push(b.subarray(0, 2));
			assert.ok(!res.ok && res.rule === 'size', JSON.stringify(res));
			assert.equal(r.pending, 0);
		});

		it('a hostile length is refused without buffering for it', () => {
			const r = new PacketReader(16 * 1024);
			const res = r.push(bytes(0x30, 0xff, 0xff, 0xff, 0x7f));
			assert.ok(!res.ok && res.rule === 'size');
			assert.equal(r.pending, 0);
		});

		it('a large packet is assembled from many small chunks', () => {
			const p: Packet = { type: 'publish', topic: 'big', payload: new Uint8Array(5000).map((_, i) => i & 0xff), qos: 1, retain: false, dup: false, packetId: 3 };
			const b = encode(p);
			const r = new PacketReader(8192);
			const chunks: Uint8Array[] = [];
			for (let i = 0; i < b.length; i += 97) chunks.push(b.subarray(i, i + 97));
			assert.deepEqual(feed(r, chunks), [p]);
		});
	});
});
