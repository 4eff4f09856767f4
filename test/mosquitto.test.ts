import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startMosquitto, type Mosquitto } from './support/mosquitto';
import { closed, connectThing, nextMessage, sleep } from './support/mqtt-client';
import { testPki, type TestPki } from './support/pki';

describe('mosquitto with the dev PKI and the per-thing ACL', () => {
	let pki: TestPki;
	let broker: Mosquitto;
	const clients: MqttClient[] = [];
	const connect = async (thing: 'robot-1' | 'robot-2' | 'robot-3' | 'robot-x', clean = true) => {
		const c = await connectThing({ port: broker.port, identity: pki.device(thing), ca: pki.ca.certPem, clean });
		clients.push(c);
		return c;
	};

	before(async () => {
		pki = await testPki();
		broker = await startMosquitto(pki);
	});
	afterEach(() => {
		for (const c of clients.splice(0)) c.end(true);
	});
	after(async () => {
		await broker?.stop();
	});

	it('accepts a dev device certificate and refuses another CA and an expired one', async () => {
		const c = await connect('robot-1');
		assert.equal(c.connected, true);
		// refused for the certificate's fault, in the handshake: the TLS alert (RFC 5246 7.2.2) is the reason
		await assert.rejects(connect('robot-x'), /alert unknown ca/);
		await assert.rejects(connect('robot-3'), /alert certificate expired/);
	});

	// mosquitto 2.0.11's acl_file grants every SUBSCRIBE (SUBACK 1, not 0x80) and applies the
	// read ACL when it delivers: robot-1 never receives robot-2's messages.
	it("never delivers another thing's messages, whatever the filter", async () => {
		const r1 = await connect('robot-1');
		await r1.subscribeAsync({ 'robots/robot-2/#': { qos: 1 }, '#': { qos: 1 }, 'robots/+/x': { qos: 1 } });
		const seen: string[] = [];
		r1.on('message', (t) => seen.push(t));
		const r2 = await connect('robot-2');
		await r2.subscribeAsync('robots/robot-2/x', { qos: 1 });
		const own = nextMessage(r2, 'robots/robot-2/x');
		await r2.publishAsync('robots/robot-2/x', 'mine', { qos: 1 });
		assert.equal((await own).payload.toString(), 'mine');
		await sleep(200);
		assert.deepEqual(seen, [], broker.log());
	});

	it("drops a publish to another thing's topic", async () => {
		const r2 = await connect('robot-2');
		await r2.subscribeAsync('robots/robot-2/#', { qos: 1 });
		let got = 0;
		r2.on('message', () => got++);
		const r1 = await connect('robot-1');
		await r1.publishAsync('robots/robot-2/x', 'spoof', { qos: 1 });
		await sleep(200);
		assert.equal(got, 0);
	});

	it('QoS 1 round trip on its own topic', async () => {
		const c = await connect('robot-1');
		await c.subscribeAsync('robots/robot-1/echo', { qos: 1 });
		const m = nextMessage(c, 'robots/robot-1/echo');
		await c.publishAsync('robots/robot-1/echo', 'hello', { qos: 1 });
		assert.equal((await m).payload.toString(), 'hello');
		assert.equal((await m).qos, 1);
	});

	it('keeps a persistent session across restart()', async () => {
		const first = await connect('robot-1', false);
		await first.subscribeAsync('robots/robot-1/slot', { qos: 1 });
		first.end(true);
		await closed(first);
		await broker.restart();
		const again = await connect('robot-1', false);
		const m = nextMessage(again, 'robots/robot-1/slot');
		// no SUBSCRIBE on this connection: delivery proves mosquitto restored the subscription
		await again.publishAsync('robots/robot-1/slot', 'kept', { qos: 1 });
		assert.equal((await m).payload.toString(), 'kept', broker.log());
	});
});
