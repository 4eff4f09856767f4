// The local broker against what the security review tried (issue 21, section 2): certificate
// states and thing attachment at CONNECT, revocation of a live session, the packet size limit
// at the fixed header, and topics that are not UTF-8 or hold U+0000.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import mqttPacket from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { closed, connectThing } from '../../test/support/mqtt-client';
import { testPki, type TestPki } from '../../test/support/pki';
import { issueDevice } from './dev-pki';
import { startBroker, type Broker } from './broker';
import { startLocalCloud, type LocalCloud } from './index';
import type { LogEntry } from './log';
import { MAX_PACKET_BYTES, scanFrames } from './mqtt-gate';
import { certificateId } from './rules/index';

const refusedWith5 = (err: Error & { code?: number }) => {
	assert.equal(err.code, 5);
	return true;
};

describe('local broker: certificates at CONNECT and revocation (IoT registry)', () => {
	let dir: string;
	let cloud: LocalCloud;
	const logs: LogEntry[] = [];
	const clients: MqttClient[] = [];

	before(async () => {
		dir = await mkdtemp(path.join(tmpdir(), 'broker-sec-'));
		cloud = await startLocalCloud({ dataDir: dir, inMemory: true, things: ['robot-1', 'robot-2'], log: (e) => logs.push(e) });
	});
	after(async () => {
		for (const c of clients.splice(0)) c.end(true);
		await cloud.close();
		await rm(dir, { recursive: true, force: true });
	});
	const connect = async (identity: Parameters<typeof connectThing>[0]['identity'], clientId?: string) => {
		const c = await connectThing({ port: cloud.broker.port, identity, ca: cloud.pki.ca.certPem, ...(clientId ? { clientId } : {}) });
		clients.push(c);
		return c;
	};
	const registry = () => cloud.registration.registry;

	it('admits an ACTIVE certificate attached to its thing', async () => {
		const c = await connect(cloud.pki.things.get('robot-1')!);
		assert.equal(c.connected, true);
	});

	it('refuses a certificate of the trusted CA that was never registered (CONNACK 5)', async () => {
		const stranger = await issueDevice(cloud.pki.ca, 'robot-9');
		await assert.rejects(connect(stranger), refusedWith5);
		assert.ok(logs.some((e) => e.event === 'broker.connect.refused' && e.thing === 'robot-9' && e.reason === 'certificate not registered'));
	});

	it('refuses an ACTIVE certificate that is not attached to the thing it names', async () => {
		const other = await issueDevice(cloud.pki.ca, 'robot-2');
		registry().addDevice(new Uint8Array(other.certDer)); // registered, ACTIVE, attached to nothing
		await assert.rejects(connect(other), refusedWith5);
		assert.ok(logs.some((e) => e.event === 'broker.connect.refused' && e.reason === 'certificate not attached to thing robot-2'));
	});

	for (const status of ['INACTIVE', 'REVOKED'] as const) {
		it(`refuses a ${status} certificate at CONNECT and ends its live session when it becomes ${status}`, async () => {
			const identity = await issueDevice(cloud.pki.ca, 'robot-2');
			const id = registry().addDevice(new Uint8Array(identity.certDer), 'robot-2');
			assert.equal(id, certificateId(new Uint8Array(identity.certDer)));
			const live = await connect(identity);
			const gone = closed(live);
			registry().setCertificateStatus(id, status);
			await gone;
			assert.ok(logs.some((e) => e.event === 'broker.disconnect.certificate' && e.certificateId === id && e.reason === 'certificate ' + status));
			await assert.rejects(connect(identity), refusedWith5);
			// the other robot's own certificate is untouched
			const still = await connect(cloud.pki.things.get('robot-2')!);
			assert.equal(still.connected, true);
		});
	}

	it('refuses an unknown status', () => {
		const id = certificateId(new Uint8Array(cloud.pki.things.get('robot-1')!.certDer));
		assert.throws(() => registry().setCertificateStatus(id, 'GONE' as never), /"status" expected one of/);
		assert.equal(registry().certificate(id)?.status, 'ACTIVE');
	});
});

describe('local broker: packet size and topic encoding, checked on the raw frames', () => {
	let pki: TestPki;
	let broker: Broker;
	const logs: LogEntry[] = [];

	before(async () => {
		pki = await testPki();
	});
	beforeEach(async () => {
		logs.length = 0;
		broker = await startBroker({ ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem, log: (e) => logs.push(e) });
	});
	afterEach(() => broker.close());

	/** A TLS connection as robot-1 that has sent CONNECT and read CONNACK 0. */
	async function rawSession(): Promise<{ socket: tls.TLSSocket; closed: Promise<void> }> {
		const id = pki.device('robot-1');
		const socket = tls.connect({ host: '127.0.0.1', port: broker.port, servername: 'localhost', ca: pki.ca.certPem, cert: id.certPem, key: id.keyPem });
		const isClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
		socket.on('error', () => {});
		await new Promise<void>((resolve, reject) => {
			socket.once('secureConnect', resolve);
			socket.once('error', reject);
		});
		socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'robot-1', clean: true, keepalive: 60 }));
		const connack: number[] = [];
		await new Promise<void>((resolve) => {
			const on = (d: Buffer) => {
				connack.push(...d);
				if (connack.length < 4) return;
				socket.off('data', on);
				resolve();
			};
			socket.on('data', on);
		});
		assert.deepEqual(connack, [0x20, 0x02, 0x00, 0x00]);
		return { socket, closed: isClosed };
	}

	const publishFrame = (topic: Uint8Array, payload = new Uint8Array(1)): Uint8Array => {
		const body = new Uint8Array(2 + topic.length + payload.length);
		new DataView(body.buffer).setUint16(0, topic.length);
		body.set(topic, 2);
		body.set(payload, 2 + topic.length);
		return new Uint8Array([0x30, ...remainingLength(body.length), ...body]);
	};

	it('closes the connection on a fixed header announcing 32 MB, before any body byte arrives', async () => {
		const { socket, closed: gone } = await rawSession();
		socket.write(new Uint8Array([0x30, ...remainingLength(32 * 1024 * 1024)])); // the header alone
		await gone;
		assert.ok(logs.some((e) => e.event === 'broker.packet.refused' && e.rule === 'packet-size' && e.announced === 32 * 1024 * 1024));
	});

	it('still takes a packet of exactly the limit', async () => {
		const { socket, closed: gone } = await rawSession();
		const topic = new TextEncoder().encode('robots/robot-1/x');
		socket.write(publishFrame(topic, new Uint8Array(MAX_PACKET_BYTES - 2 - topic.length)));
		await new Promise((r) => setTimeout(r, 200));
		// aedes saw it (the payload limit of 128 KB is the policy's: dropped and disconnected there)
		assert.equal(broker.record.entries({ topic: 'robots/robot-1/x' }).length, 1);
		assert.ok(!logs.some((e) => e.event === 'broker.packet.refused'));
		socket.destroy();
		await gone;
	});

	const badTopics: [string, Uint8Array, string][] = [
		['an invalid UTF-8 byte', new Uint8Array([...new TextEncoder().encode('robots/robot-1/'), 0xff]), 'MQTT-1.5.3-1'],
		['a lone surrogate (CESU)', new Uint8Array([...new TextEncoder().encode('robots/robot-1/'), 0xed, 0xa0, 0x80]), 'MQTT-1.5.3-1'],
		['U+0000', new TextEncoder().encode('robots/robot-1/a\u0000b'), 'MQTT-1.5.3-2'],
	];
	for (const [what, topic, rule] of badTopics) {
		it(`closes the connection on a PUBLISH topic with ${what} [${rule}]`, async () => {
			const { socket, closed: gone } = await rawSession();
			socket.write(publishFrame(topic));
			await gone;
			assert.ok(logs.some((e) => e.event === 'broker.packet.refused' && e.rule === rule && e.packet === 'publish'));
			assert.equal(broker.record.size, 0);
		});
	}

	it('closes the connection on a SUBSCRIBE filter with U+0000 [MQTT-1.5.3-2]', async () => {
		const { socket, closed: gone } = await rawSession();
		socket.write(
			mqttPacket.generate({
				cmd: 'subscribe',
				messageId: 1,
				subscriptions: [
					{ topic: 'robots/robot-1/ok', qos: 1 },
					{ topic: 'robots/robot-1/\u0000', qos: 1 },
				],
			}),
		);
		await gone;
		assert.ok(logs.some((e) => e.event === 'broker.packet.refused' && e.rule === 'MQTT-1.5.3-2' && e.packet === 'subscribe'));
	});

	it('scanFrames: frames split anywhere come out whole; a header over the limit is refused at once', () => {
		const a = publishFrame(new TextEncoder().encode('robots/robot-1/a'), new Uint8Array(300));
		const b = new Uint8Array([0xc0, 0x00]); // PINGREQ
		const all = new Uint8Array([...a, ...b]);
		for (let cut = 0; cut <= all.length; cut++) {
			const first = scanFrames(all.subarray(0, cut));
			assert.equal(first.kind, 'frames');
			if (first.kind !== 'frames') return;
			const second = scanFrames(new Uint8Array([...first.rest, ...all.subarray(cut)]));
			assert.equal(second.kind, 'frames');
			if (second.kind !== 'frames') return;
			assert.deepEqual(
				[...first.frames, ...second.frames].map((f) => f.length),
				[a.length, b.length],
			);
			assert.equal(second.rest.length, 0);
		}
		assert.deepEqual(scanFrames(new Uint8Array([0x30, ...remainingLength(1000)]), 999), { kind: 'bad', refusal: { rule: 'packet-size', announced: 1000, limit: 999 } });
		assert.deepEqual(scanFrames(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), { kind: 'bad', refusal: { rule: 'MQTT-2.2.3', detail: 'remaining length over 4 bytes' } });
	});
});

function remainingLength(n: number): number[] {
	const out: number[] = [];
	do {
		let b = n % 128;
		n = Math.floor(n / 128);
		if (n > 0) b |= 0x80;
		out.push(b);
	} while (n > 0);
	return out;
}
