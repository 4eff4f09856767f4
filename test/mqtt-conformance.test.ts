/*
 * Our MQTT 3.1.1 codec against mqtt-packet (v9, protocolVersion 4), property-based
 * with fast-check. Node only (mqtt-packet needs Buffer and streams); the core's own
 * codec tests (firmware/core/mqtt/*.test.ts) run in XS as well.
 *
 * - our encode -> mqtt-packet's parser gives the same packet, and the same bytes
 *   as mqtt-packet's generate;
 * - mqtt-packet's generate -> our decode gives the same packet;
 * - many packets back to back, cut at random points, fed to PacketReader, give
 *   exactly those packets in order;
 * - arbitrary bytes never make decode or PacketReader throw.
 */
import fc from 'fast-check';
import mqtt from 'mqtt-packet';
import * as assert from '../firmware/core/testing/assert';
import { decode, encode, packetSize } from '../firmware/core/mqtt/codec';
import type { Packet, QoS, Subscription, Will } from '../firmware/core/mqtt/packet';
import { PacketReader } from '../firmware/core/mqtt/reader';

const RUNS = Number(process.env.CONFORMANCE_RUNS ?? 300);
const OPTS = { protocolVersion: 4 } as const;

// ---- mapping to and from mqtt-packet's shapes -----------------------------

type MqttObject = Record<string, unknown> & { cmd: string };

const buf = (b: Uint8Array): Buffer => Buffer.from(b);
const u8 = (b: unknown): Uint8Array => {
	if (typeof b === 'string') return new Uint8Array(Buffer.from(b, 'utf8'));
	return new Uint8Array(b as Uint8Array);
};

function toMqtt(p: Packet): MqttObject {
	switch (p.type) {
		case 'connect':
			return {
				cmd: 'connect',
				protocolId: 'MQTT',
				protocolVersion: 4,
				clean: p.cleanSession,
				keepalive: p.keepAlive,
				clientId: p.clientId,
				...(p.will ? { will: { topic: p.will.topic, payload: buf(p.will.payload), qos: p.will.qos, retain: p.will.retain } } : {}),
				...(p.username !== undefined ? { username: p.username } : {}),
				...(p.password !== undefined ? { password: buf(p.password) } : {}),
			};
		case 'connack':
			return { cmd: 'connack', sessionPresent: p.sessionPresent, returnCode: p.returnCode };
		case 'publish':
			return {
				cmd: 'publish',
				topic: p.topic,
				payload: buf(p.payload),
				qos: p.qos,
				retain: p.retain,
				dup: p.dup,
				...(p.packetId !== undefined ? { messageId: p.packetId } : {}),
			};
		case 'puback':
		case 'pubrec':
		case 'pubrel':
		case 'pubcomp':
		case 'unsuback':
			return { cmd: p.type, messageId: p.packetId };
		case 'subscribe':
			return { cmd: 'subscribe', messageId: p.packetId, subscriptions: p.subscriptions.map((s) => ({ topic: s.topic, qos: s.qos })) };
		case 'suback':
			return { cmd: 'suback', messageId: p.packetId, granted: [...p.granted] };
		case 'unsubscribe':
			return { cmd: 'unsubscribe', messageId: p.packetId, unsubscriptions: [...p.topics] };
		case 'pingreq':
		case 'pingresp':
		case 'disconnect':
			return { cmd: p.type };
	}
}

function fromMqtt(x: MqttObject): Packet {
	const id = x.messageId as number;
	switch (x.cmd) {
		case 'connect': {
			assert.equal(x.protocolId, 'MQTT');
			assert.equal(x.protocolVersion, 4);
			const w = x.will as { topic: string; payload: unknown; qos: QoS; retain: boolean } | undefined;
			return {
				type: 'connect',
				clientId: x.clientId as string,
				cleanSession: x.clean as boolean,
				keepAlive: x.keepalive as number,
				...(w ? { will: { topic: w.topic, payload: u8(w.payload), qos: w.qos, retain: w.retain } } : {}),
				...(x.username !== undefined ? { username: x.username as string } : {}),
				...(x.password !== undefined ? { password: u8(x.password) } : {}),
			};
		}
		case 'connack':
			return { type: 'connack', sessionPresent: x.sessionPresent as boolean, returnCode: x.returnCode as number };
		case 'publish':
			return {
				type: 'publish',
				topic: x.topic as string,
				payload: u8(x.payload),
				qos: x.qos as QoS,
				retain: x.retain as boolean,
				dup: x.dup as boolean,
				...((x.qos as number) > 0 ? { packetId: id } : {}),
			};
		case 'puback':
		case 'pubrec':
		case 'pubrel':
		case 'pubcomp':
		case 'unsuback':
			return { type: x.cmd, packetId: id } as Packet;
		case 'subscribe':
			return { type: 'subscribe', packetId: id, subscriptions: (x.subscriptions as Subscription[]).map((s) => ({ topic: s.topic, qos: s.qos })) };
		case 'suback':
			return { type: 'suback', packetId: id, granted: [...(x.granted as number[])] };
		case 'unsubscribe':
			return { type: 'unsubscribe', packetId: id, topics: [...(x.unsubscriptions as string[])] };
		case 'pingreq':
		case 'pingresp':
		case 'disconnect':
			return { type: x.cmd };
		default:
			throw new Error('unexpected mqtt-packet cmd ' + x.cmd);
	}
}

/** Everything mqtt-packet's parser makes of `bytes`; throws on its errors or leftovers. */
function mqttParse(bytes: Uint8Array): MqttObject[] {
	const parser = mqtt.parser(OPTS);
	const out: MqttObject[] = [];
	let error: Error | undefined;
	parser.on('packet', (p: unknown) => void out.push(p as MqttObject));
	parser.on('error', (e: Error) => void (error ??= e));
	const left = parser.parse(Buffer.from(bytes));
	if (error) throw error;
	assert.equal(left, 0, 'mqtt-packet left bytes unparsed');
	return out;
}

// ---- arbitraries ------------------------------------------------------------

/** Any Unicode text MQTT allows: no lone surrogates (unit 'binary' makes none), no U+0000. */
const text = (minLength: number, maxLength: number, forbidden = '\u0000') => fc.string({ unit: 'binary', minLength, maxLength }).filter((s) => ![...forbidden].some((c) => s.includes(c)));
const level = fc.oneof(text(0, 6, '\u0000/+#'), fc.constantFrom('a', 'robot-1', '$aws', 'ü'));
const topicName = fc
	.array(level, { minLength: 1, maxLength: 4 })
	.map((l) => l.join('/'))
	.filter((t) => t.length > 0);
const topicFilter = fc
	.tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 1, maxLength: 4 }), fc.boolean())
	.map(([levels, hash]) => (hash ? [...levels, '#'] : levels).join('/'))
	.filter((f) => f.length > 0)
	.chain((f) => fc.constantFrom(f, '#'));
const qos = fc.constantFrom<QoS>(0, 1, 2);
const packetId = fc.integer({ min: 1, max: 0xffff });
const bytesOf = (maxLength: number) => fc.uint8Array({ maxLength });
/** Mostly small, sometimes past 127 and 16383 so 2- and 3-byte remaining lengths occur. */
const payload = fc.oneof({ weight: 6, arbitrary: bytesOf(40) }, { weight: 2, arbitrary: bytesOf(400) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 16_380, maxLength: 16_400 }) });

const will: fc.Arbitrary<Will> = fc.record({ topic: topicName, payload: bytesOf(40), qos, retain: fc.boolean() });

const connect: fc.Arbitrary<Packet> = fc
	.record(
		{
			clientId: text(0, 23),
			cleanSession: fc.boolean(),
			keepAlive: fc.integer({ min: 0, max: 0xffff }),
			will,
			username: text(0, 12),
			password: bytesOf(20),
		},
		{ requiredKeys: ['clientId', 'cleanSession', 'keepAlive'] },
	)
	// a password needs a user name [MQTT-3.1.2-22]; an empty id needs a clean session [MQTT-3.1.3-7]
	.filter((c) => (c.password === undefined || c.username !== undefined) && (c.clientId !== '' || c.cleanSession))
	.map((c) => ({ type: 'connect', ...c }) as Packet);

const publish: fc.Arbitrary<Packet> = fc
	.record({ topic: topicName, payload, qos, retain: fc.boolean(), dup: fc.boolean(), packetId })
	.map(({ packetId: id, ...p }) => (p.qos === 0 ? { type: 'publish', ...p, dup: false } : { type: 'publish', ...p, packetId: id }) as Packet);

const ack = (type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'unsuback'): fc.Arbitrary<Packet> => packetId.map((id) => ({ type, packetId: id }) as Packet);

const ARBITRARIES: Record<Packet['type'], fc.Arbitrary<Packet>> = {
	connect,
	connack: fc
		.oneof(
			fc.record({ sessionPresent: fc.boolean(), returnCode: fc.constant(0) }),
			// a refusal never has session present [MQTT-3.2.2-4]
			fc.record({ sessionPresent: fc.constant(false), returnCode: fc.integer({ min: 1, max: 5 }) }),
		)
		.map((c) => ({ type: 'connack', ...c }) as Packet),
	publish,
	puback: ack('puback'),
	pubrec: ack('pubrec'),
	pubrel: ack('pubrel'),
	pubcomp: ack('pubcomp'),
	subscribe: fc.record({ packetId, subscriptions: fc.array(fc.record({ topic: topicFilter, qos }), { minLength: 1, maxLength: 5 }) }).map((s) => ({ type: 'subscribe', ...s }) as Packet),
	suback: fc.record({ packetId, granted: fc.array(fc.constantFrom(0, 1, 2, 0x80), { minLength: 1, maxLength: 8 }) }).map((s) => ({ type: 'suback', ...s }) as Packet),
	unsubscribe: fc.record({ packetId, topics: fc.array(topicFilter, { minLength: 1, maxLength: 5 }) }).map((u) => ({ type: 'unsubscribe', ...u }) as Packet),
	unsuback: ack('unsuback'),
	pingreq: fc.constant({ type: 'pingreq' }),
	pingresp: fc.constant({ type: 'pingresp' }),
	disconnect: fc.constant({ type: 'disconnect' }),
};
const anyPacket = fc.oneof(...Object.values(ARBITRARIES));

// ---- properties ------------------------------------------------------------

describe('MQTT conformance with mqtt-packet (protocol 4)', function () {
	this.timeout(60_000);

	for (const [type, arb] of Object.entries(ARBITRARIES)) {
		describe(type, () => {
			it('our encode -> mqtt-packet parse gives the same packet, and the same bytes as mqtt-packet generate', () => {
				fc.assert(
					fc.property(arb, (p) => {
						const ours = encode(p);
						const parsed = mqttParse(ours);
						assert.equal(parsed.length, 1);
						assert.deepEqual(fromMqtt(parsed[0]!), p);
						assert.deepEqual(ours, new Uint8Array(mqtt.generate(toMqtt(p) as never, OPTS)));
					}),
					{ numRuns: RUNS },
				);
			});

			it('mqtt-packet generate -> our decode gives the same packet', () => {
				fc.assert(
					fc.property(arb, (p) => {
						const theirs = new Uint8Array(mqtt.generate(toMqtt(p) as never, OPTS));
						assert.deepEqual(decode(theirs), { kind: 'packet', packet: p, used: theirs.length });
					}),
					{ numRuns: RUNS },
				);
			});
		});
	}

	it('a stream of packets cut at random points gives exactly those packets, in order', () => {
		fc.assert(
			fc.property(fc.array(anyPacket, { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (packets, cuts) => {
				const wire = Buffer.concat(packets.map((p) => mqtt.generate(toMqtt(p) as never, OPTS)));
				const stream = new Uint8Array(wire);
				const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
				const reader = new PacketReader(1 << 20);
				const got: Packet[] = [];
				let from = 0;
				for (const to of [...at, stream.length]) {
					// a copy per chunk, then scribbled on: the reader must keep what it needs
					const chunk = stream.slice(from, to);
					const r = reader.push(chunk);
					chunk.fill(0xaa);
					assert.ok(r.ok, JSON.stringify(r));
					got.push(...r.packets);
					from = to;
				}
				assert.equal(reader.pending, 0);
				assert.deepEqual(got, packets);
			}),
			{ numRuns: RUNS },
		);
	});

	it('arbitrary bytes never throw from decode: more, a packet that re-encodes, or bad', () => {
		fc.assert(
			fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (b, plausible) => {
				// half the time give it a length that fits, so bodies are read too
				if (plausible && b.length >= 2) b[1] = b.length - 2;
				const d = decode(b, 1024);
				assert.ok(d.kind === 'more' || d.kind === 'packet' || d.kind === 'bad');
				if (d.kind === 'bad') assert.ok(typeof d.rule === 'string' && d.rule.length > 0);
				if (d.kind === 'packet') {
					assert.ok(d.used <= b.length);
					assert.deepEqual(decode(encode(d.packet)), { kind: 'packet', packet: d.packet, used: packetSize(d.packet) });
				}
			}),
			{ numRuns: RUNS * 10 },
		);
	});

	it('arbitrary bytes in arbitrary chunks never throw from PacketReader', () => {
		fc.assert(
			fc.property(fc.array(fc.uint8Array({ maxLength: 32 }), { maxLength: 10 }), (chunks) => {
				const reader = new PacketReader(256);
				for (const c of chunks) {
					const r = reader.push(c);
					if (!r.ok) {
						assert.ok(r.rule.length > 0);
						assert.equal(reader.push(c).ok, false);
						return;
					}
				}
			}),
			{ numRuns: RUNS * 5 },
		);
	});

	it('what mqtt-packet refuses as malformed, we refuse too', () => {
		// frames mqtt-packet's parser rejects outright; ours must not accept any of them
		const frames = [
			[0x80, 6, 0, 1, 0, 1, 0x61, 1], // SUBSCRIBE, flags 0
			[0x41, 2, 0, 1], // PUBACK, flags 1
			[0x36, 5, 0, 1, 0x61, 0, 1], // PUBLISH QoS 3
			[0x90, 3, 0, 1, 3], // SUBACK code 3
			[0x82, 6, 0, 1, 0, 1, 0x61, 3], // SUBSCRIBE QoS 3
		].map((f) => new Uint8Array(f));
		for (const f of frames) {
			assert.throws(() => mqttParse(f), undefined, 'mqtt-packet accepted ' + Array.from(f).join(','));
			assert.equal(decode(f).kind, 'bad', Array.from(f).join(','));
		}
	});
});
