/*
 * A graceful `link.stop()` says goodbye: the link sends DISCONNECT before it closes, so the
 * broker discards the last will [MQTT-3.14.4-3] (AWS IoT: a CLIENT_INITIATED_DISCONNECT
 * lifecycle event, not CONNECTION_LOST). Checked on a real mosquitto, whose log tells a
 * DISCONNECT ("Client X disconnected.") from a dropped connection ("Client X closed its
 * connection."), with an observer subscribed to the will; the same link cut at the network
 * shows the will is there to be published, so its absence after a stop means something.
 */
import assert from 'node:assert/strict';
import mqtt, { type MqttClient } from 'mqtt';
import { Link } from '../firmware/core/link/link';
import { createMemoryStorage, hostPorts, memoryLog } from '../firmware/platform/host/index';
import { startMosquitto, type Mosquitto } from './support/mosquitto';
import { testPki, type TestPki } from './support/pki';
import { startProxy, type Proxy } from './support/proxy';

const WILL = 'robots/robot-1/will';
const enc = new TextEncoder();

async function until(what: string, cond: () => boolean, ms = 8000): Promise<void> {
	const t0 = Date.now();
	while (!cond()) {
		if (Date.now() - t0 > ms) throw new Error('timed out waiting for ' + what);
		await new Promise((r) => setTimeout(r, 10));
	}
}

describe('link.stop() sends DISCONNECT: no last will (mosquitto)', function () {
	this.timeout(30_000);
	let pki: TestPki;
	let broker: Mosquitto;
	let proxy: Proxy;
	let observer: MqttClient;
	const wills: string[] = [];

	before(async () => {
		pki = await testPki();
		// robot-2 may read robot-1's will topic: the observer
		broker = await startMosquitto(pki, ['user robot-2', 'topic read ' + WILL]);
		proxy = await startProxy({ host: '127.0.0.1', port: broker.port });
		const two = pki.device('robot-2');
		observer = await mqtt.connectAsync({
			host: '127.0.0.1',
			port: broker.port,
			protocol: 'mqtts',
			clientId: 'robot-2',
			ca: pki.ca.certPem,
			cert: two.certPem,
			key: two.keyPem,
			servername: 'localhost',
			reconnectPeriod: 0,
		});
		observer.on('message', (topic, payload) => void (topic === WILL && wills.push(payload.toString())));
		await observer.subscribeAsync(WILL, { qos: 1 });
	});
	after(async () => {
		observer?.end(true);
		await proxy?.close();
		await broker?.stop();
	});

	function robot(): { link: Link; log: ReturnType<typeof memoryLog> } {
		const id = pki.device('robot-1');
		const log = memoryLog();
		const link = new Link(hostPorts(createMemoryStorage(), log), {
			endpoint: { host: '127.0.0.1', port: proxy.port, tls: { ca: id.caDer, certificates: [id.certDer], key: id.keyDer, serverName: 'localhost' } },
			clientId: 'robot-1',
			keepAlive: 30,
			backoff: { baseMs: 50, capMs: 400 },
			will: { topic: WILL, payload: enc.encode('robot-1 lost'), qos: 1, retain: false },
		});
		return { link, log };
	}
	/** mosquitto's log lines about robot-1 since `from` characters. */
	const lines = (from: number) =>
		broker
			.log()
			.slice(from)
			.split('\n')
			.filter((l) => l.includes('robot-1'));

	it('the same link cut at the network: the broker sees a dropped connection and publishes the will', async () => {
		const from = broker.log().length;
		const r = robot();
		r.link.start();
		await until('connected', () => r.link.state.value === 'connected');
		proxy.cut();
		await until('the will', () => wills.length === 1);
		r.link.stop();
		proxy.restore();
		assert.deepEqual(wills.splice(0), ['robot-1 lost']);
		await until('mosquitto logged the close', () => lines(from).some((l) => /closed its connection|socket error|disconnected/i.test(l)));
		assert.ok(!lines(from).some((l) => /Client robot-1 disconnected\./.test(l)), lines(from).join('\n'));
	});

	it('stop(): DISCONNECT reaches the broker before the close, and no will is published', async () => {
		const from = broker.log().length;
		const r = robot();
		r.link.start();
		await until('connected', () => r.link.state.value === 'connected');
		r.link.stop();
		assert.equal(r.link.state.value, 'offline');
		assert.ok(r.log.lines.some((l) => l.event === 'link.disconnect'));
		await until('mosquitto logged the DISCONNECT', () => lines(from).some((l) => /Client robot-1 disconnected\./.test(l)), 5000).catch((e: Error) => {
			throw new Error(e.message + '\n' + lines(from).join('\n'));
		});
		// the will, had it been published, reaches the observer within a round trip or two
		await new Promise((r) => setTimeout(r, 500));
		assert.deepEqual(wills, [], 'no last will after a graceful stop');
		assert.ok(!lines(from).some((l) => /closed its connection|socket error/i.test(l)), lines(from).join('\n'));
	});
});
