/* Section codec.node: codec throughput on Node, encode and decode of the packets the robot sends and receives most. */
import { decode, encodeInto, packetSize } from '../firmware/core/mqtt/codec';
import type { Packet } from '../firmware/core/mqtt/packet';
import { benchSection } from './section';
import { table } from './table';

export const SAMPLE_PACKETS: Record<string, Packet> = {
	'publish-qos1-256B': {
		type: 'publish',
		topic: '$aws/rules/mission_report/robots/robot-1/missions/m-000042/report',
		payload: new Uint8Array(256).fill(0x61),
		qos: 1,
		retain: false,
		dup: false,
		packetId: 4242,
	},
	'publish-qos0-64B': { type: 'publish', topic: 'robots/robot-1/missions/m-000042/events', payload: new Uint8Array(64).fill(0x62), qos: 0, retain: false, dup: false },
	'publish-qos1-4KB': {
		type: 'publish',
		topic: '$aws/things/robot-1/shadow/name/schedule/update',
		payload: new Uint8Array(4096).fill(0x63),
		qos: 1,
		retain: false,
		dup: false,
		packetId: 7,
	},
	puback: { type: 'puback', packetId: 4242 },
	subscribe: {
		type: 'subscribe',
		packetId: 3,
		subscriptions: [
			{ topic: '$aws/things/robot-1/shadow/name/schedule/+/+', qos: 1 },
			{ topic: '$aws/things/robot-1/jobs/notify-next', qos: 1 },
		],
	},
	connect: { type: 'connect', clientId: 'robot-1', cleanSession: false, keepAlive: 60 },
};

export interface CodecResult {
	packet: string;
	bytes: number;
	encodePerSec: number;
	decodePerSec: number;
	encodeMBps: number;
	decodeMBps: number;
}

function rate(fn: () => void, minMs = 300): number {
	let n = 0;
	const t0 = performance.now();
	let t = t0;
	while (t - t0 < minMs) {
		for (let i = 0; i < 1000; i++) fn();
		n += 1000;
		t = performance.now();
	}
	return (n * 1000) / (t - t0);
}

export function benchCodec(): CodecResult[] {
	const out: CodecResult[] = [];
	for (const [name, p] of Object.entries(SAMPLE_PACKETS)) {
		const size = packetSize(p);
		const buf = new Uint8Array(size);
		encodeInto(p, buf);
		const enc = rate(() => encodeInto(p, buf));
		const dec = rate(() => decode(buf));
		out.push({
			packet: name,
			bytes: size,
			encodePerSec: Math.round(enc),
			decodePerSec: Math.round(dec),
			encodeMBps: +((enc * size) / 1e6).toFixed(1),
			decodeMBps: +((dec * size) / 1e6).toFixed(1),
		});
	}
	return out;
}

// marked pure so that bench/xs-codec-entry.ts, which takes SAMPLE_PACKETS from here, bundles none of it into XS
export const codecNodeSection = /* @__PURE__ */ benchSection({
	name: 'codec.node',
	title: 'MQTT codec on Node',
	run: () => ({ results: benchCodec() }),
	markdown: (v: { results: CodecResult[] }) => [
		table(
			['packet', 'bytes', 'encode/s', 'decode/s', 'encode MB/s', 'decode MB/s'],
			v.results.map((x) => [x.packet, x.bytes, x.encodePerSec, x.decodePerSec, x.encodeMBps, x.decodeMBps]),
		),
		'',
		'`encodeInto` into a buffer of the right size and `decode` of the whole frame, each looped for at least 300 ms on one core.',
		'',
	],
});
