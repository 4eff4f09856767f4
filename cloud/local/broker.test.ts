import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { testPki, type TestPki } from '../../test/support/pki';
import { closed, connectThing, nextMessage, sleep } from '../../test/support/mqtt-client';
import { startBroker, type Broker, type BrokerMessage } from './broker';
import type { LogEntry } from './log';

describe('local broker (aedes, mutual TLS, thing policy)', () => {
	let pki: TestPki;
	let broker: Broker;
	const clients: MqttClient[] = [];
	const logs: LogEntry[] = [];

	const start = (port = 0): Promise<Broker> => startBroker({ port, ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem, log: (e) => logs.push(e) });
	const connect = async (thing: 'robot-1' | 'robot-2' | 'robot-3' | 'robot-x', extra: { clientId?: string; port?: number } = {}) => {
		const c = await connectThing({ port: extra.port ?? broker.port, identity: pki.device(thing), ca: pki.ca.certPem, ...extra });
		clients.push(c);
		return c;
	};

	before(async () => {
		pki = await testPki();
	});
	beforeEach(async () => {
		logs.length = 0;
		broker = await start();
	});
	afterEach(async () => {
		// endAsync never settles on a client the broker already disconnected
		for (const c of clients.splice(0)) c.end(true);
		await broker.close();
	});

	it('accepts a device certificate from the dev CA whose client id is its CN', async () => {
		const c = await connect('robot-1');
		assert.equal(c.connected, true);
		// the CONNACK can reach the client before aedes marks the session ready (TCP_NODELAY)
		for (let i = 0; i < 100 && broker.connectedThings().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
		assert.deepEqual(broker.connectedThings(), ['robot-1']);
		assert.ok(logs.some((e) => e.event === 'broker.connect' && e.thing === 'robot-1'));
	});

	it("speaks TLS 1.2 with the device's suites (ECDHE_RSA and RSA key exchange)", async () => {
		for (const cipher of ['ECDHE-RSA-AES128-GCM-SHA256', 'AES128-SHA256']) {
			const c = await connectThing({ port: broker.port, identity: pki.device('robot-1'), ca: pki.ca.certPem, tls12Cipher: cipher });
			clients.push(c);
			const socket = (c as unknown as { stream: import('node:tls').TLSSocket }).stream;
			assert.equal(socket.getProtocol(), 'TLSv1.2');
			assert.equal(socket.getCipher().standardName.includes('RSA'), true);
		}
	});

	// the reason, not only that it failed: the broker's refusal event names what OpenSSL found
	const refusals = () => logs.filter((e) => e.event === 'broker.tls.refused').map((e) => String(e.reason));

	it('refuses at TLS a certificate from another CA', async () => {
		const before = refusals().length;
		await assert.rejects(connect('robot-x'));
		assert.match(refusals().slice(before).join(), /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT)$/);
		assert.deepEqual(broker.connectedThings(), []);
	});

	it('refuses at TLS an expired device certificate', async () => {
		const before = refusals().length;
		await assert.rejects(connect('robot-3'));
		assert.deepEqual(refusals().slice(before), ['CERT_HAS_EXPIRED']);
		assert.deepEqual(broker.connectedThings(), []);
	});

	it('refuses CONNECT with return code 5 when the client id is not the CN', async () => {
		await assert.rejects(connect('robot-1', { clientId: 'robot-2' }), (err: Error & { code?: number }) => {
			assert.equal(err.code, 5);
			return true;
		});
	});

	it('answers SUBACK 0x80 for filters that reach other things', async () => {
		const c = await connect('robot-1');
		// MQTT.js rejects a SUBSCRIBE when any return code is 0x80; the SUBACK rides on the error
		const err = await c.subscribeAsync({ 'robots/robot-2/#': { qos: 1 }, 'robots/+/maps/upload-slot': { qos: 1 }, '#': { qos: 0 }, 'robots/robot-1/#': { qos: 1 } }).then(
			() => assert.fail('SUBSCRIBE should have been refused'),
			(e: { packet?: { granted?: number[] } }) => e,
		);
		assert.deepEqual(err.packet?.granted, [128, 128, 128, 1]);
		assert.equal(c.connected, true);
	});

	it("drops a publish to another thing's topic and disconnects the publisher", async () => {
		const r2 = await connect('robot-2');
		await r2.subscribeAsync('robots/robot-2/#', { qos: 1 });
		let got = 0;
		r2.on('message', () => got++);
		const r1 = await connect('robot-1');
		const gone = closed(r1);
		r1.publish('robots/robot-2/missions/m1/events', 'spoof', { qos: 1 });
		await gone;
		await sleep(200);
		assert.equal(got, 0);
		const rec = broker.record.entries({ thing: 'robot-1' });
		assert.equal(rec.length, 1);
		assert.equal(rec[0]?.allowed, false);
		assert.equal(r2.connected, true);
	});

	it('QoS 1 round trip on its own topic; the record shows the message once', async () => {
		const c = await connect('robot-1');
		await c.subscribeAsync('robots/robot-1/echo', { qos: 1 });
		const next = nextMessage(c, 'robots/robot-1/echo');
		await c.publishAsync('robots/robot-1/echo', 'hello', { qos: 1 });
		const m = await next;
		assert.equal(m.payload.toString(), 'hello');
		assert.equal(m.qos, 1);
		const rec = broker.record.entries({ topic: 'robots/robot-1/echo' });
		assert.equal(rec.length, 1);
		assert.deepEqual({ thing: rec[0]?.thing, clientId: rec[0]?.clientId, qos: rec[0]?.qos, dup: rec[0]?.dup, allowed: rec[0]?.allowed }, { thing: 'robot-1', clientId: 'robot-1', qos: 1, dup: false, allowed: true });
		assert.equal(typeof rec[0]?.messageId, 'number');
		assert.equal(new TextDecoder().decode(rec[0]?.payload), 'hello');
		broker.record.clear();
		assert.equal(broker.record.size, 0);
	});

	it('in-process services publish and subscribe on any topic', async () => {
		const seen: BrokerMessage[] = [];
		const unsubscribe = await broker.subscribe('$aws/rules/#', (m) => {
			seen.push(m);
		});
		const all: string[] = [];
		await broker.subscribe('#', (m) => {
			all.push(m.topic);
		});
		const c = await connect('robot-1');
		await c.subscribeAsync('robots/robot-1/maps/upload-slot', { qos: 1 });
		const slot = nextMessage(c, 'robots/robot-1/maps/upload-slot');
		await broker.publish('robots/robot-1/maps/upload-slot', '{"url":"x"}', 1);
		assert.equal((await slot).payload.toString(), '{"url":"x"}');

		await c.publishAsync('$aws/rules/mission_report/robots/robot-1/missions/m1/report', '{}', { qos: 1 });
		await sleep(50);
		assert.deepEqual(
			seen.map((m) => [m.topic, m.qos]),
			[['$aws/rules/mission_report/robots/robot-1/missions/m1/report', 1]],
		);
		assert.ok(all.every((t) => !t.startsWith('$SYS/')));
		await unsubscribe();
		await c.publishAsync('$aws/rules/mission_report/robots/robot-1/missions/m2/report', '{}', { qos: 1 });
		await sleep(50);
		assert.equal(seen.length, 1);
	});

	it('runs two brokers side by side on different ports', async () => {
		const other = await start();
		try {
			assert.notEqual(other.port, broker.port);
			const a = await connect('robot-1');
			const b = await connect('robot-1', { port: other.port });
			await a.subscribeAsync('robots/robot-1/x', { qos: 1 });
			await b.subscribeAsync('robots/robot-1/x', { qos: 1 });
			let onA = 0;
			a.on('message', () => onA++);
			const onB = nextMessage(b, 'robots/robot-1/x');
			await b.publishAsync('robots/robot-1/x', 'b', { qos: 1 });
			assert.equal((await onB).payload.toString(), 'b');
			await sleep(100);
			assert.equal(onA, 0);
			assert.equal(broker.record.size, 0);
			assert.equal(other.record.size, 1);
		} finally {
			await other.close();
		}
	});

	it('restarts on the same port', async () => {
		const port = broker.port;
		const c = await connect('robot-1');
		const gone = closed(c);
		await broker.close();
		await gone;
		broker = await start(port);
		assert.equal(broker.port, port);
		const again = await connect('robot-1');
		await again.subscribeAsync('robots/robot-1/x', { qos: 1 });
		const m = nextMessage(again, 'robots/robot-1/x');
		await again.publishAsync('robots/robot-1/x', 'after restart', { qos: 1 });
		assert.equal((await m).payload.toString(), 'after restart');
	});
});
