/*
 * Link driven end to end through fake ports: a socket the test connects, feeds and
 * drops; a clock the test advances; randomness fixed at 0.5 (so the first backoff
 * is 500 ms with a 1 s base). Broker packets are encoded with our codec.
 */
import * as assert from '../testing/assert';
import { bytes, fakeSocketPort, fakeTime, fixedRandom, memoryLog, memoryStorage, settle, text, type FakeSocket } from '../testing/fakes';
import { encode } from '../mqtt/codec';
import type { Packet, Publish } from '../mqtt/packet';
import { PacketReader } from '../mqtt/reader';
import { Link, type LinkOptions, type Message } from './link';
import type { LinkState } from './machine';
import type { StoragePort } from '../../ports';

const KEEP_ALIVE_S = 60;
const PING_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 20_000;

function setup(options: Partial<LinkOptions> = {}, storage: StoragePort = memoryStorage()) {
	const time = fakeTime();
	const net = fakeSocketPort();
	const log = memoryLog();
	const link = new Link(
		{ socket: net, timers: time.timers, clock: time.clock, random: fixedRandom(0.5), storage, log },
		{
			endpoint: { host: 'broker.test', port: 8883 },
			clientId: 'robot-1',
			keepAlive: KEEP_ALIVE_S,
			pingTimeoutMs: PING_TIMEOUT_MS,
			connectTimeoutMs: CONNECT_TIMEOUT_MS,
			backoff: { baseMs: 1000, capMs: 60_000 },
			...options,
		},
	);
	const states: LinkState[] = [];
	const delivered: [number, string][] = [];
	const subscriptions: [string, number][] = [];
	link.listen({
		state: (s) => void states.push(s),
		delivered: (seq, topic) => void delivered.push([seq, topic]),
		subscription: (f, g) => void subscriptions.push([f, g]),
	});
	return { link, time, net, log, storage, states, delivered, subscriptions };
}

/** Decodes one write; each write must hold whole packets. */
function packetsOf(write: Uint8Array | undefined): Packet[] {
	assert.ok(write, 'no such write');
	const r = new PacketReader(1 << 20);
	const res = r.push(write);
	assert.ok(res.ok, JSON.stringify(res));
	assert.equal(r.pending, 0, 'a write ends mid-packet');
	return res.packets;
}

/** Every packet written on `s` from write number `from` on. */
function sent(s: FakeSocket, from = 0): Packet[] {
	return s.writes.slice(from).flatMap((w) => packetsOf(w));
}

function deliver(s: FakeSocket, ...packets: Packet[]): void {
	for (const p of packets) s.deliver(encode(p));
}

const CONNACK: Packet = { type: 'connack', sessionPresent: false, returnCode: 0 };

/** Starts the link and brings it to `connected`; returns the socket. */
function online(t: ReturnType<typeof setup>): FakeSocket {
	t.link.start();
	const s = t.net.last();
	s.connect();
	deliver(s, CONNACK);
	assert.equal(t.link.state.value, 'connected');
	return s;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
	let resolve!: () => void;
	const promise = new Promise<void>((r) => (resolve = r));
	return { promise, resolve };
}

const isPublish = (p: Packet): p is Publish => p.type === 'publish';

describe('Link', () => {
	describe('options', () => {
		it('are checked at construction, naming the option', () => {
			assert.throws(() => setup({ clientId: '' }), /"clientId"/);
			assert.throws(() => setup({ keepAlive: 0 }), /"keepAlive"/);
			assert.throws(() => setup({ maxInflight: 0 }), /"maxInflight"/);
			assert.throws(() => setup({ backoff: { baseMs: 10, capMs: 1 } }), /"backoff"/);
		});

		it('invalid topics and filters come back as values', () => {
			const t = setup();
			assert.deepEqual(t.link.publish('a/+', bytes(), 1), { ok: false, error: { code: 'invalid', message: '"topic" wildcard in topic name [MQTT-3.3.2-2]' } });
			const r = t.link.subscribe('a/#/b', () => {});
			assert.ok(!r.ok && r.error.code === 'invalid');
		});
	});

	describe('connecting', () => {
		it('opens the endpoint and writes nothing until the socket is up', () => {
			const t = setup();
			t.link.start();
			assert.equal(t.net.sockets.length, 1);
			assert.equal(t.net.last().options.host, 'broker.test');
			assert.equal(t.net.last().writes.length, 0);
			assert.deepEqual(t.link.state, { value: 'connecting', attempt: 0, flaps: 0 });
		});

		it('first write: CONNECT (clean session off, keep-alive), SUBSCRIBE and queued publishes, in ONE write', () => {
			const t = setup();
			assert.ok(t.link.subscribe('cmd/robot-1/#', () => {}).ok);
			assert.ok(t.link.subscribe('$aws/things/robot-1/jobs/notify', () => {}).ok);
			assert.deepEqual(t.link.publish('tele/0', bytes(0), 0), { ok: false, error: { code: 'offline' } });
			const a = t.link.publish('mission/1', text('one'), 1);
			const b = t.link.publish('mission/2', text('two'), 1, true);
			assert.ok(a.ok && b.ok);
			t.link.start();
			const s = t.net.last();
			s.connect();
			assert.equal(s.writes.length, 1);
			const [connect, subscribe, p1, p2, ...rest] = packetsOf(s.writes[0]);
			assert.equal(rest.length, 0);
			assert.deepEqual(connect, { type: 'connect', clientId: 'robot-1', cleanSession: false, keepAlive: KEEP_ALIVE_S });
			assert.ok(subscribe?.type === 'subscribe');
			assert.deepEqual(subscribe.subscriptions, [
				{ topic: 'cmd/robot-1/#', qos: 1 },
				{ topic: '$aws/things/robot-1/jobs/notify', qos: 1 },
			]);
			assert.ok(p1 && isPublish(p1) && p2 && isPublish(p2));
			assert.deepEqual([p1.topic, p1.payload, p1.qos, p1.dup, p1.retain], ['mission/1', text('one'), 1, false, false]);
			assert.deepEqual([p2.topic, p2.payload, p2.qos, p2.dup], ['mission/2', text('two'), 1, false]);
			const ids = [subscribe.packetId, p1.packetId, p2.packetId];
			assert.equal(new Set(ids).size, 3, 'packet ids in use are distinct: ' + ids.join(','));
			assert.equal(t.link.subscription('cmd/robot-1/#'), 'pending');
		});

		it('CONNACK -> connected, told to listeners and logged', () => {
			const t = setup();
			t.link.start();
			t.net.last().connect();
			deliver(t.net.last(), { type: 'connack', sessionPresent: true, returnCode: 0 });
			assert.deepEqual(t.link.state, { value: 'connected', sessionPresent: true, attempt: 0, flaps: 0, since: t.time.clock.monotonic() });
			assert.deepEqual(
				t.states.map((s) => s.value),
				['connecting', 'connected'],
			);
			assert.ok(t.log.events().includes('link.online'));
		});

		it('a connection taken away soon after CONNACK keeps the backoff growing; the loop is logged once with its rate', () => {
			const t = setup({ timing: { minConnectedMs: 30_000, flapsToWarn: 3 } });
			t.link.start();
			const waits: number[] = [];
			for (let i = 0; i < 6; i++) {
				const s = t.net.last();
				s.connect();
				deliver(s, { type: 'connack', sessionPresent: true, returnCode: 0 });
				t.time.advance(100);
				// the broker closes it: another client connected with this id
				s.drop();
				const before = t.net.sockets.length;
				let waited = 0;
				while (t.net.sockets.length === before) {
					t.time.advance(100);
					waited += 100;
				}
				waits.push(waited);
			}
			// random 0.5 of 1, 2, 4, 8, 16, 32 s: never back to the first window
			assert.deepEqual(waits, [500, 1000, 2000, 4000, 8000, 16000]);
			const warned = t.log.lines.filter((l) => l.event === 'link.takeover_suspected');
			assert.equal(warned.length, 1);
			assert.equal(warned[0]!.fields.shortConnections, 3);
			// at the third short connection: connects at 0, 0.6 and 1.7 s, two intervals in 1.7 s
			assert.equal(warned[0]!.fields.connectsPerMinute, Math.round((2 * 60_000 * 10) / 1700) / 10);
			assert.equal(t.link.stats.connects, 6);
			assert.equal(t.link.stats.lastError, 'closed by peer');
		});

		it('a connection that lasted minConnectedMs starts the backoff afresh', () => {
			const t = setup({ timing: { minConnectedMs: 30_000, flapsToWarn: 3 } });
			const s = online(t);
			s.drop();
			assert.ok(t.link.state.value === 'waiting' && t.link.state.attempt === 1);
			t.time.advance(500);
			const s2 = t.net.last();
			s2.connect();
			deliver(s2, { type: 'connack', sessionPresent: true, returnCode: 0 });
			t.time.advance(30_000);
			s2.drop();
			assert.ok(t.link.state.value === 'waiting' && t.link.state.attempt === 1 && t.link.state.flaps === 0);
		});

		it('no CONNACK within connectTimeoutMs -> waiting', () => {
			const t = setup();
			t.link.start();
			t.net.last().connect();
			t.time.advance(CONNECT_TIMEOUT_MS - 1);
			assert.equal(t.link.state.value, 'connecting');
			t.time.advance(1);
			assert.equal(t.link.state.value, 'waiting');
			assert.ok(t.link.state.value === 'waiting' && /CONNACK/.test(t.link.state.reason));
			assert.ok(t.net.sockets[0]!.closedByUs);
		});

		it('a refused CONNACK -> waiting, retried after the backoff, growing', () => {
			const t = setup();
			t.link.start();
			const s = t.net.last();
			s.connect();
			deliver(s, { type: 'connack', sessionPresent: false, returnCode: 5 });
			assert.ok(t.link.state.value === 'waiting');
			assert.equal(t.link.state.attempt, 1);
			assert.ok(/not authorized/.test(t.link.state.reason), t.link.state.reason);
			assert.ok(s.closed && s.closedByUs);
			assert.ok(t.log.lines.some((l) => l.event === 'mqtt.refused' && l.fields.code === 5));
			// attempt 1: random 0.5 of a 1 s window
			t.time.advance(499);
			assert.equal(t.net.sockets.length, 1);
			t.time.advance(1);
			assert.equal(t.net.sockets.length, 2);
			assert.deepEqual<LinkState>(t.link.state, { value: 'connecting', attempt: 1, flaps: 0 });
			// attempt 2: 0.5 of 2 s
			t.net.last().drop('ECONNRESET');
			assert.ok(t.link.state.value === 'waiting' && t.link.state.attempt === 2 && /ECONNRESET/.test(t.link.state.reason));
			t.time.advance(999);
			assert.equal(t.net.sockets.length, 2);
			t.time.advance(1);
			assert.equal(t.net.sockets.length, 3);
			const backoffs = t.log.lines.filter((l) => l.event === 'link.backoff').map((l) => l.fields.ms);
			assert.deepEqual(backoffs, [500, 1000]);
		});
	});

	describe('publishing QoS 1', () => {
		it('PUBACK -> delivered, removed from the outbox and from storage', () => {
			const storage = memoryStorage();
			const t = setup({}, storage);
			const s = online(t);
			const r = t.link.publish('mission/done', text('{}'), 1, true);
			assert.ok(r.ok);
			assert.equal(storage.keys().length, 1);
			const [p] = sent(s, 1);
			assert.ok(p && isPublish(p) && p.qos === 1 && p.packetId !== undefined);
			assert.equal(t.link.outbox.size, 1);
			deliver(s, { type: 'puback', packetId: p.packetId });
			assert.deepEqual(t.delivered, [[r.value, 'mission/done']]);
			assert.equal(t.link.outbox.size, 0);
			assert.equal(storage.keys().length, 0);
			// a duplicate PUBACK is ignored
			deliver(s, { type: 'puback', packetId: p.packetId });
			assert.equal(t.delivered.length, 1);
			assert.equal(t.link.state.value, 'connected');
		});

		it('QoS 0 goes out at once and leaves no trace', () => {
			const t = setup();
			const s = online(t);
			assert.deepEqual(t.link.publish('tele', bytes(1, 2), 0), { ok: true, value: 0 });
			assert.deepEqual(sent(s, 1), [{ type: 'publish', topic: 'tele', payload: bytes(1, 2), qos: 0, retain: false, dup: false }]);
			assert.equal(t.link.outbox.size, 0);
		});

		it('at most maxInflight unacknowledged; each PUBACK lets the next one go', () => {
			const t = setup({ maxInflight: 2 });
			for (let i = 0; i < 5; i++) assert.ok(t.link.publish('m/' + i, bytes(i), 1).ok);
			t.link.start();
			const s = t.net.last();
			s.connect();
			const first = packetsOf(s.writes[0]).filter(isPublish);
			assert.deepEqual(
				first.map((p) => p.topic),
				['m/0', 'm/1'],
			);
			deliver(s, CONNACK);
			assert.equal(s.writes.length, 1);
			// publishing more does not pass the window
			assert.ok(t.link.publish('m/5', bytes(5), 1).ok);
			assert.equal(s.writes.length, 1);
			deliver(s, { type: 'puback', packetId: first[1]!.packetId! });
			const next = sent(s, 1).filter(isPublish);
			assert.deepEqual(
				next.map((p) => p.topic),
				['m/2'],
			);
			deliver(s, { type: 'puback', packetId: first[0]!.packetId! });
			deliver(s, { type: 'puback', packetId: next[0]!.packetId! });
			assert.deepEqual(
				sent(s, 1)
					.filter(isPublish)
					.map((p) => p.topic),
				['m/2', 'm/3', 'm/4'],
			);
			assert.equal(t.link.outbox.size, 3);
			assert.deepEqual(
				t.delivered.map(([, topic]) => topic),
				['m/1', 'm/0', 'm/2'],
			);
		});

		it('a full outbox refuses with full and logs it', () => {
			const t = setup({ outbox: { maxMessages: 1, maxBytes: 1024 } });
			assert.ok(t.link.publish('a', bytes(), 1).ok);
			const r = t.link.publish('b', bytes(), 1);
			assert.ok(!r.ok && r.error.code === 'full');
			assert.ok(t.log.events().includes('outbox.refused'));
		});

		it('after a loss, in-flight publishes are resent with DUP and the same id', () => {
			const t = setup();
			assert.ok(t.link.subscribe('cmd/#', () => {}).ok);
			const s = online(t);
			assert.ok(t.link.publish('m/1', text('x'), 1).ok);
			const [p1] = sent(s, 1).filter(isPublish);
			assert.ok(p1 && p1.dup === false);
			s.drop('ECONNRESET');
			assert.ok(t.link.state.value === 'waiting' && t.link.state.attempt === 1);
			assert.ok(t.states.some((x) => x.value === 'waiting'));
			// queued while down: sent fresh after the resend
			assert.ok(t.link.publish('m/2', text('y'), 1).ok);
			t.time.advance(500);
			const s2 = t.net.last();
			assert.notEqual(s2, s);
			s2.connect();
			assert.equal(s2.writes.length, 1);
			const packets = packetsOf(s2.writes[0]);
			assert.deepEqual(
				packets.map((p) => p.type),
				['connect', 'subscribe', 'publish', 'publish'],
			);
			const [again, fresh] = packets.filter(isPublish);
			assert.deepEqual(again, { ...p1, dup: true });
			assert.ok(fresh && fresh.topic === 'm/2' && fresh.dup === false && fresh.packetId !== p1.packetId);
			deliver(s2, CONNACK, { type: 'puback', packetId: p1.packetId! });
			assert.deepEqual(
				t.delivered.map(([, topic]) => topic),
				['m/1'],
			);
		});

		it('a durable in-flight message survives a reboot and is resent with its id', () => {
			const storage = memoryStorage();
			const before = setup({}, storage);
			const s = online(before);
			assert.ok(before.link.publish('mission/7', text('done'), 1, true).ok);
			const [p] = sent(s, 1).filter(isPublish);
			assert.ok(p);
			// power cut: nothing is closed, a new Link starts on the same storage
			const after = setup({}, storage);
			assert.ok(after.link.subscribe('cmd/#', () => {}).ok);
			assert.equal(after.link.outbox.size, 1);
			after.link.start();
			after.net.last().connect();
			const packets = packetsOf(after.net.last().writes[0]);
			const sub = packets.find((x) => x.type === 'subscribe');
			const [again] = packets.filter(isPublish);
			assert.deepEqual(again, { ...p, dup: true });
			assert.ok(sub && sub.type === 'subscribe' && sub.packetId !== p.packetId, 'the SUBSCRIBE must not reuse an id still in flight');
		});
	});

	describe('subscriptions', () => {
		it('SUBACK 0x80 is surfaced to the listener and as status refused', () => {
			const t = setup();
			assert.ok(t.link.subscribe('cmd/#', () => {}).ok);
			assert.ok(t.link.subscribe('forbidden/#', () => {}).ok);
			t.link.start();
			const s = t.net.last();
			s.connect();
			const sub = packetsOf(s.writes[0]).find((p) => p.type === 'subscribe');
			assert.ok(sub && sub.type === 'subscribe');
			deliver(s, CONNACK, { type: 'suback', packetId: sub.packetId, granted: [1, 0x80] });
			assert.deepEqual(t.subscriptions, [
				['cmd/#', 1],
				['forbidden/#', 0x80],
			]);
			assert.equal(t.link.subscription('cmd/#'), 'granted');
			assert.equal(t.link.subscription('forbidden/#'), 'refused');
			assert.ok(t.log.lines.some((l) => l.event === 'mqtt.subscribe_refused' && l.fields.filter === 'forbidden/#'));
			assert.equal(t.link.state.value, 'connected');
		});

		it('subscribing while connected sends its own SUBSCRIBE; unsubscribe sends UNSUBSCRIBE', () => {
			const t = setup();
			const s = online(t);
			assert.ok(t.link.subscribe('a/+', () => {}).ok);
			const [sub] = sent(s, 1);
			assert.ok(sub && sub.type === 'subscribe');
			assert.deepEqual(sub.subscriptions, [{ topic: 'a/+', qos: 1 }]);
			deliver(s, { type: 'suback', packetId: sub.packetId, granted: [1] });
			assert.equal(t.link.subscription('a/+'), 'granted');
			t.link.unsubscribe('a/+');
			const [unsub] = sent(s, 2);
			assert.ok(unsub && unsub.type === 'unsubscribe');
			assert.deepEqual(unsub.topics, ['a/+']);
			assert.equal(t.link.subscription('a/+'), undefined);
			deliver(s, { type: 'unsuback', packetId: unsub.packetId });
			assert.equal(t.link.state.value, 'connected');
		});
	});

	describe('inbound messages', () => {
		it('QoS 1 is acknowledged only after its async handler resolved, and in order', async () => {
			const t = setup();
			const calls: string[] = [];
			const gates = [deferred(), deferred()];
			assert.ok(
				t.link.subscribe('cmd/#', (m: Message) => {
					calls.push(m.topic);
					return gates[calls.length - 1]!.promise;
				}).ok,
			);
			const s = online(t);
			const from = s.writes.length;
			const m1: Packet = { type: 'publish', topic: 'cmd/a', payload: text('1'), qos: 1, retain: false, dup: false, packetId: 11 };
			const m2: Packet = { type: 'publish', topic: 'cmd/b', payload: text('2'), qos: 1, retain: false, dup: true, packetId: 12 };
			s.deliver(new Uint8Array([...encode(m1), ...encode(m2)]));
			await settle();
			assert.deepEqual(calls, ['cmd/a'], 'the second handler waits for the first');
			assert.equal(s.writes.length, from, 'no PUBACK before the handler resolved');
			gates[0]!.resolve();
			await settle();
			assert.deepEqual(sent(s, from), [{ type: 'puback', packetId: 11 }]);
			assert.deepEqual(calls, ['cmd/a', 'cmd/b']);
			gates[1]!.resolve();
			await settle();
			assert.deepEqual(sent(s, from), [
				{ type: 'puback', packetId: 11 },
				{ type: 'puback', packetId: 12 },
			]);
		});

		it('handlers see topic, payload and flags; QoS 0 gets no PUBACK', async () => {
			const t = setup();
			const got: Message[] = [];
			assert.ok(t.link.subscribe('tele/+', (m) => void got.push(m)).ok);
			const s = online(t);
			const from = s.writes.length;
			deliver(s, { type: 'publish', topic: 'tele/x', payload: bytes(1), qos: 0, retain: true, dup: false });
			await settle();
			assert.deepEqual(got, [{ topic: 'tele/x', payload: bytes(1), qos: 0, dup: false, retain: true }]);
			assert.equal(s.writes.length, from);
		});

		it('a failing handler is logged and the message acknowledged anyway', async () => {
			const t = setup();
			assert.ok(t.link.subscribe('cmd/#', async () => Promise.reject(new Error('boom'))).ok);
			assert.ok(
				t.link.subscribe('cmd/+', () => {
					throw new Error('sync boom');
				}).ok,
			);
			const s = online(t);
			const from = s.writes.length;
			deliver(s, { type: 'publish', topic: 'cmd/x', payload: bytes(), qos: 1, retain: false, dup: false, packetId: 3 });
			await settle();
			assert.deepEqual(sent(s, from), [{ type: 'puback', packetId: 3 }]);
			assert.equal(t.log.lines.filter((l) => l.event === 'link.handler_failed').length, 2);
		});

		it('an unrouted QoS 1 message is logged and acknowledged', async () => {
			const t = setup();
			const s = online(t);
			const from = s.writes.length;
			deliver(s, { type: 'publish', topic: 'nobody/listens', payload: bytes(), qos: 1, retain: false, dup: false, packetId: 9 });
			await settle();
			assert.deepEqual(sent(s, from), [{ type: 'puback', packetId: 9 }]);
			assert.ok(t.log.events().includes('link.unrouted'));
		});

		it('no PUBACK on a new socket for a message that came on the old one', async () => {
			const t = setup();
			const gate = deferred();
			assert.ok(t.link.subscribe('cmd/#', () => gate.promise).ok);
			const s = online(t);
			deliver(s, { type: 'publish', topic: 'cmd/x', payload: bytes(), qos: 1, retain: false, dup: false, packetId: 5 });
			await settle();
			s.drop('reset');
			t.time.advance(500);
			const s2 = t.net.last();
			s2.connect();
			deliver(s2, CONNACK);
			gate.resolve();
			await settle();
			assert.ok(sent(s2).every((p) => p.type !== 'puback'));
		});
	});

	describe('keep-alive', () => {
		it('PINGREQ after keepAlive seconds of silence; PINGRESP keeps the link', () => {
			const t = setup();
			const s = online(t);
			const from = s.writes.length;
			t.time.advance(KEEP_ALIVE_S * 1000 - 2500);
			assert.equal(s.writes.length, from);
			t.time.advance(2500);
			assert.deepEqual(sent(s, from), [{ type: 'pingreq' }]);
			deliver(s, { type: 'pingresp' });
			t.time.advance(PING_TIMEOUT_MS * 2);
			assert.equal(t.link.state.value, 'connected');
			assert.deepEqual(sent(s, from), [{ type: 'pingreq' }]);
		});

		it('no PINGRESP within pingTimeoutMs: the link is dead -> waiting', () => {
			const t = setup();
			const s = online(t);
			t.time.advance(KEEP_ALIVE_S * 1000);
			assert.equal(sent(s).filter((p) => p.type === 'pingreq').length, 1);
			t.time.advance(PING_TIMEOUT_MS - 2500);
			assert.equal(t.link.state.value, 'connected');
			t.time.advance(2500);
			assert.ok(t.link.state.value === 'waiting' && /PINGRESP/.test(t.link.state.reason), JSON.stringify(t.link.state));
			assert.ok(s.closedByUs);
		});

		it('steady writes do not hide a silent broker', () => {
			const t = setup();
			const s = online(t);
			for (let i = 0; i < KEEP_ALIVE_S; i++) {
				t.time.advance(1000);
				t.link.publish('tele', bytes(i), 0);
			}
			assert.ok(sent(s).some((p) => p.type === 'pingreq'));
		});
	});

	describe('faults', () => {
		it('a malformed frame -> link lost, with a log line naming the rule', () => {
			const t = setup();
			const s = online(t);
			s.deliver(bytes(0x41, 2, 0, 1)); // PUBACK with flags 1
			const line = t.log.lines.find((l) => l.event === 'mqtt.bad_frame');
			assert.ok(line, JSON.stringify(t.log.lines));
			assert.equal(line.fields.rule, 'MQTT-2.2.2-2');
			assert.ok(t.link.state.value === 'waiting' && /MQTT-2\.2\.2-2/.test(t.link.state.reason));
			assert.ok(s.closedByUs);
		});

		it('a packet a client must not receive is a protocol error', () => {
			const t = setup();
			const s = online(t);
			deliver(s, { type: 'pingreq' });
			assert.equal(t.link.state.value, 'waiting');
			assert.ok(t.log.events().includes('mqtt.protocol_error'));
		});

		it('a second CONNACK is a protocol error [MQTT-3.2.0-1]', () => {
			const t = setup();
			const s = online(t);
			deliver(s, CONNACK);
			assert.ok(t.link.state.value === 'waiting' && /MQTT-3\.2\.0-1/.test(t.link.state.reason));
		});

		it('the peer closing the socket -> waiting, then a new connection', () => {
			const t = setup();
			const s = online(t);
			s.drop();
			assert.ok(t.link.state.value === 'waiting' && t.link.state.reason === 'closed by peer');
			t.time.advance(500);
			assert.equal(t.net.sockets.length, 2);
		});
	});

	describe('a socket port that reports during open()', () => {
		/** Wraps the fake so `connected` (or `closed`) runs before open() returns. */
		function eager(t: ReturnType<typeof setup>, what: 'connect' | 'fail'): void {
			const open = t.net.open.bind(t.net);
			t.net.open = (options, events) => {
				const s = open(options, events);
				if (what === 'connect') s.connect();
				else s.drop('ENOTFOUND');
				return s;
			};
		}

		it('connected at once: CONNECT still goes out', () => {
			const t = setup();
			eager(t, 'connect');
			t.link.start();
			const s = t.net.last();
			assert.deepEqual(
				sent(s).map((p) => p.type),
				['connect'],
			);
			deliver(s, CONNACK);
			assert.equal(t.link.state.value, 'connected');
		});

		it('failed at once: waiting, and no dead socket is kept', () => {
			const t = setup();
			eager(t, 'fail');
			t.link.start();
			assert.ok(t.link.state.value === 'waiting' && /ENOTFOUND/.test(t.link.state.reason));
			assert.deepEqual(
				t.states.map((s) => s.value),
				['connecting', 'waiting'],
			);
			t.time.advance(500);
			assert.equal(t.net.sockets.length, 2);
		});
	});

	describe('stop', () => {
		it('connected -> offline: DISCONNECT is the last write, then the socket is closed, no timer left', () => {
			const t = setup();
			const s = online(t);
			const before = s.writes.length;
			t.link.stop();
			assert.deepEqual(t.link.state, { value: 'offline' });
			// [MQTT-3.14.4-3]: the broker discards the will of a client that says DISCONNECT
			assert.deepEqual(sent(s, before), [{ type: 'disconnect' }]);
			assert.ok(s.closed && s.closedByUs);
			assert.equal(t.time.pending(), 0);
			t.time.advance(10 * 60_000);
			assert.equal(t.net.sockets.length, 1);
			assert.equal(t.states[t.states.length - 1]!.value, 'offline');
			assert.deepEqual(t.link.publish('x', bytes(), 0), { ok: false, error: { code: 'offline' } });
		});

		it('while waiting, the retry is cancelled', () => {
			const t = setup();
			online(t).drop('reset');
			assert.equal(t.link.state.value, 'waiting');
			t.link.stop();
			assert.equal(t.link.state.value, 'offline');
			assert.equal(t.time.pending(), 0);
			t.time.advance(60_000);
			assert.equal(t.net.sockets.length, 1);
		});

		it('while connecting, the socket is closed and the connect timer cleared', () => {
			const t = setup();
			t.link.start();
			t.link.stop();
			assert.ok(t.net.last().closedByUs);
			assert.ok(!sent(t.net.last()).some((p) => p.type === 'disconnect'), 'no DISCONNECT without a session');
			assert.equal(t.time.pending(), 0);
			t.link.stop(); // a no-op when offline
			t.link.start();
			assert.equal(t.net.sockets.length, 2);
		});
	});
});
