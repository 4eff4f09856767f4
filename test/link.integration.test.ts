/*
 * The robot's link (firmware/core/link on the host platform) against real brokers
 * over real mutual TLS 1.2: the local cloud's broker (aedes) and a real mosquitto,
 * so the client is not tuned to one broker.
 */
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Link, type LinkOptions, type Message } from '../firmware/core/link/link';
import type { LinkState } from '../firmware/core/link/machine';
import { createMemoryStorage, hostPorts, memoryLog } from '../firmware/platform/host/index';
import type { StoragePort } from '../firmware/ports';
import { startBroker, type Broker } from '../cloud/local/broker';
import type { LogEntry } from '../cloud/local/log';
import type { DeviceIdentity } from '../cloud/local/dev-pki';
import { startMosquitto, type Mosquitto } from './support/mosquitto';
import { testPki, type TestPki } from './support/pki';

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Robot {
	link: Link;
	log: ReturnType<typeof memoryLog>;
	messages: Message[];
	states: LinkState['value'][];
	subacks: Map<string, number>;
	delivered: number[];
}

function robot(identity: DeviceIdentity, port: number, storage: StoragePort = createMemoryStorage(), extra: Partial<LinkOptions> = {}): Robot {
	const log = memoryLog();
	const link = new Link(hostPorts(storage, log), {
		endpoint: { host: '127.0.0.1', port, tls: { ca: identity.caDer, certificates: [identity.certDer], key: identity.keyDer, serverName: 'localhost' } },
		clientId: identity.thing,
		keepAlive: 30,
		backoff: { baseMs: 50, capMs: 400 },
		connectTimeoutMs: 5000,
		...extra,
	});
	const r: Robot = { link, log, messages: [], states: [], subacks: new Map(), delivered: [] };
	link.listen({
		state: (s) => r.states.push(s.value),
		subscription: (f, g) => r.subacks.set(f, g),
		delivered: (seq) => r.delivered.push(seq),
	});
	return r;
}

async function until(what: string, cond: () => boolean, ms = 8000): Promise<void> {
	const t0 = Date.now();
	while (!cond()) {
		if (Date.now() - t0 > ms) throw new Error('timed out waiting for ' + what);
		await new Promise((r) => setTimeout(r, 10));
	}
}

/** Why each connection attempt ended, as the link logged it. */
function linkReasons(r: Robot): string[] {
	return r.log.lines.filter((l) => l.event === 'link.state' && l.fields?.['to'] === 'waiting').map((l) => String(l.fields?.['reason']));
}

function payloads(r: Robot, topic: string): string[] {
	return r.messages.filter((m) => m.topic === topic).map((m) => dec.decode(m.payload));
}

interface Target {
	port(): number;
	restart(): Promise<void>;
	stop(): Promise<void>;
	start(): Promise<void>;
	/** Whether the broker answers a refused SUBSCRIBE with 0x80 (AWS IoT and ours do; mosquitto 2.0 filters at delivery). */
	readonly refusesSubscribe: boolean;
	/** Fails unless `r` was refused for its certificate's fault: robot-x (another CA) or robot-3 (expired). */
	assertRefused(r: Robot, thing: 'robot-x' | 'robot-3'): void;
}

function suite(name: string, make: (pki: TestPki) => Promise<Target>): void {
	describe('link over mutual TLS against ' + name, function () {
		this.timeout(30_000);
		let pki: TestPki;
		let target: Target;
		const live: Link[] = [];
		const track = (r: Robot) => (live.push(r.link), r);

		before(async () => {
			pki = await testPki();
			target = await make(pki);
		});
		after(async () => target?.stop());
		afterEach(() => {
			for (const l of live.splice(0)) l.stop();
		});

		it('connects, subscribes and makes a QoS 1 round trip', async () => {
			const r = track(robot(pki.device('robot-1'), target.port()));
			r.link.subscribe('robots/robot-1/echo/#', (m) => void r.messages.push(m));
			r.link.start();
			await until('SUBACK', () => r.subacks.has('robots/robot-1/echo/#'));
			assert.equal(r.subacks.get('robots/robot-1/echo/#'), 1);
			const sent = r.link.publish('robots/robot-1/echo/a', enc.encode('hello'), 1);
			assert.ok(sent.ok);
			await until('echo', () => r.messages.length === 1);
			await until('PUBACK', () => r.delivered.includes(sent.value));
			assert.deepEqual(payloads(r, 'robots/robot-1/echo/a'), ['hello']);
			assert.equal(r.link.outbox.size, 0);
			assert.deepEqual(r.states.slice(0, 2), ['connecting', 'connected']);
		});

		it('delivers every message queued while the broker was down, each once', async () => {
			const storage = createMemoryStorage();
			const r = track(robot(pki.device('robot-1'), target.port(), storage));
			r.link.subscribe('robots/robot-1/queued/#', (m) => void r.messages.push(m));
			r.link.start();
			await until('connected', () => r.link.state.value === 'connected' && r.subacks.size > 0);
			await target.stop();
			await until('link lost', () => r.link.state.value !== 'connected');
			const sent = [];
			for (let i = 0; i < 20; i++) {
				const s = r.link.publish('robots/robot-1/queued/m', enc.encode('m' + i), 1, true);
				assert.ok(s.ok);
				sent.push('m' + i);
			}
			assert.equal(r.link.outbox.size, 20);
			assert.equal(storage.keys().filter((k) => k.startsWith('ob.')).length, 20, 'durable entries are on storage');
			await target.start();
			await until('all delivered', () => r.delivered.length === 20 && payloads(r, 'robots/robot-1/queued/m').length >= 20, 15_000);
			await new Promise((res) => setTimeout(res, 300)); // room for a duplicate to show up
			assert.deepEqual(payloads(r, 'robots/robot-1/queued/m'), sent);
			assert.equal(r.link.outbox.size, 0);
			// nothing left: neither an entry as accepted (ob.) nor as sent with its packet id (op.)
			assert.equal(storage.keys().filter((k) => k.startsWith('ob.') || k.startsWith('op.')).length, 0);
			assert.ok(
				r.log.lines.some((l) => l.event === 'link.backoff'),
				'reconnected through backoff',
			);
		});

		it('keeps the outbox through a reboot (a new link on the same storage)', async () => {
			const storage = createMemoryStorage();
			const first = robot(pki.device('robot-1'), 1, storage, { connectTimeoutMs: 200 }); // nothing listens on port 1
			first.link.start();
			for (let i = 0; i < 3; i++) assert.ok(first.link.publish('robots/robot-1/reboot/m', enc.encode('r' + i), 1, true).ok);
			first.link.stop();
			const second = track(robot(pki.device('robot-1'), target.port(), storage));
			assert.equal(second.link.outbox.size, 3);
			second.link.subscribe('robots/robot-1/reboot/#', (m) => void second.messages.push(m));
			second.link.start();
			await until('delivered after reboot', () => second.delivered.length === 3 && second.messages.length >= 3);
			assert.deepEqual(payloads(second, 'robots/robot-1/reboot/m').sort(), ['r0', 'r1', 'r2']);
		});

		for (const [thing, why] of [
			['robot-x', 'a certificate from another CA'],
			['robot-3', 'an expired certificate'],
		] as const) {
			it('is refused with ' + why, async () => {
				const r = track(robot(pki.device(thing), target.port()));
				r.link.start();
				await until('two failed attempts', () => r.log.lines.filter((l) => l.event === 'link.backoff').length >= 2);
				assert.ok(!r.states.includes('connected'));
				// refused for that reason, not for any: the broker's refusal event or the TLS alert the link saw
				target.assertRefused(r, thing);
			});
		}

		it("keeps robot-1 out of robot-2's topics", async () => {
			const two = track(robot(pki.device('robot-2'), target.port()));
			two.link.subscribe('robots/robot-2/#', (m) => void two.messages.push(m));
			two.link.start();
			await until('robot-2 subscribed', () => two.subacks.get('robots/robot-2/#') === 1);
			const one = track(robot(pki.device('robot-1'), target.port()));
			one.link.subscribe('robots/robot-2/#', (m) => void one.messages.push(m));
			one.link.start();
			await until('robot-1 SUBACK', () => one.subacks.has('robots/robot-2/#'));
			if (target.refusesSubscribe) {
				assert.equal(one.subacks.get('robots/robot-2/#'), 0x80);
				assert.equal(one.link.subscription('robots/robot-2/#'), 'refused');
			}
			assert.ok(two.link.publish('robots/robot-2/own', enc.encode('for robot-2 only'), 1).ok);
			assert.ok(one.link.publish('robots/robot-2/spoof', enc.encode('from robot-1'), 1).ok);
			await until('robot-2 got its own message', () => payloads(two, 'robots/robot-2/own').length === 1);
			await new Promise((res) => setTimeout(res, 300));
			assert.deepEqual(payloads(one, 'robots/robot-2/own'), [], 'robot-1 read robot-2');
			assert.deepEqual(payloads(two, 'robots/robot-2/spoof'), [], 'robot-1 wrote to robot-2');
		});
	});
}

suite('the local broker (aedes)', async (pki) => {
	let broker: Broker | undefined;
	let port = 0;
	const logs: LogEntry[] = [];
	const start = async () => {
		broker = await startBroker({ port, ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem, log: (e) => logs.push(e) });
		port = broker.port;
	};
	await start();
	return {
		port: () => port,
		start,
		stop: async () => {
			await broker?.close();
			broker = undefined;
		},
		restart: async () => {
			await broker?.close();
			await start();
		},
		refusesSubscribe: true,
		// Node's TLS server checks the client certificate after the handshake and hangs up without
		// an alert (AWS IoT sends one): the reason is in the broker's refusal event
		assertRefused(r, thing) {
			const reasons = logs.filter((e) => e.event === 'broker.tls.refused').map((e) => String(e.reason));
			// OpenSSL's codes for "no chain to the trusted CA": which one depends on what the client sends along
			const want = thing === 'robot-3' ? /^CERT_HAS_EXPIRED$/ : /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT)$/;
			assert.ok(reasons.length > 0 && reasons.every((x) => want.test(x)), `broker refusals ${JSON.stringify(reasons)}, wanted ${want}`);
			logs.length = 0;
			assert.ok(
				linkReasons(r).every((x) => /disconnected before secure TLS connection/.test(x)),
				linkReasons(r).join('; '),
			);
		},
	};
});

suite('mosquitto', async (pki) => {
	let m: Mosquitto | undefined = await startMosquitto(pki);
	let running = true;
	return {
		port: () => m!.port,
		start: async () => {
			if (!running) await m!.restart();
			running = true;
		},
		stop: async () => {
			if (running) await m!.stop();
			running = false;
		},
		restart: async () => {
			await m!.restart();
			running = true;
		},
		refusesSubscribe: false,
		// OpenSSL in mosquitto refuses during the handshake with the TLS alert (RFC 5246 7.2.2)
		assertRefused(r, thing) {
			const alert = thing === 'robot-3' ? /alert certificate expired.*SSL alert number 45/ : /alert unknown ca.*SSL alert number 48/;
			const reasons = linkReasons(r);
			assert.ok(reasons.length >= 2 && reasons.every((x) => alert.test(x)), `link saw ${JSON.stringify(reasons)}, wanted ${alert}`);
		},
	};
});

describe('link against a broker that breaks the standard', function () {
	this.timeout(20_000);
	const cases: [string, number[]][] = [
		['a CONNACK longer than the standard allows', [0x20, 0x03, 0x00, 0x00, 0x00]],
		['a reserved packet type', [0xf0, 0x00]],
		['a remaining length of five bytes', [0x30, 0xff, 0xff, 0xff, 0xff, 0x01]],
		['a PUBLISH with a topic that is not UTF-8', [0x20, 0x02, 0x00, 0x00, 0x30, 0x05, 0x00, 0x02, 0xc0, 0xaf, 0x41]],
	];
	for (const [what, bytes] of cases) {
		it('closes the link with the rule broken on ' + what + ', and tries again', async () => {
			const pki = await testPki();
			const server = tls.createServer({ cert: pki.server.certPem, key: pki.server.keyPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: true }, (s) => {
				s.once('data', () => s.write(Buffer.from(bytes)));
				s.on('error', () => {});
			});
			await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
			const r = robot(pki.device('robot-1'), (server.address() as AddressInfo).port);
			r.link.start();
			try {
				await until('a bad frame and a retry', () => r.log.lines.some((l) => l.event === 'mqtt.bad_frame') && r.states.filter((s) => s === 'connecting').length >= 2);
				const bad = r.log.lines.find((l) => l.event === 'mqtt.bad_frame')!;
				assert.match(String(bad.fields.rule), /^MQTT-|^size$/);
				assert.ok(!r.states.includes('connected') || what.includes('PUBLISH'));
			} finally {
				r.link.stop();
				server.close();
			}
		});
	}
});
