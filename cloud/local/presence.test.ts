/* AWS IoT lifecycle events from the local broker: fields and disconnect reasons as AWS documents them. */
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { testPki, type TestPki } from '../../test/support/pki';
import { closed, connectThing } from '../../test/support/mqtt-client';
import { startBroker, type Broker } from './broker';
import { certificateId } from './rules/index';
import { DISCONNECT_REASONS, createPresence, type PresenceEvent } from './presence';

describe('lifecycle events ($aws/events/presence)', () => {
	let pki: TestPki;
	let broker: Broker;
	let events: { topic: string; event: PresenceEvent }[];
	const clients: MqttClient[] = [];

	const connect = async (thing: 'robot-1' | 'robot-2') => {
		const c = await connectThing({ port: broker.port, identity: pki.device(thing), ca: pki.ca.certPem, clean: false });
		clients.push(c);
		return c;
	};
	const waitFor = async (what: string, pred: (e: PresenceEvent) => boolean): Promise<PresenceEvent> => {
		for (let i = 0; i < 300; i++) {
			const hit = events.find((x) => pred(x.event));
			if (hit) return hit.event;
			await new Promise((r) => setTimeout(r, 10));
		}
		throw new Error('no lifecycle event: ' + what + '; got ' + JSON.stringify(events));
	};

	before(async () => {
		pki = await testPki();
	});
	beforeEach(async () => {
		events = [];
		broker = await startBroker({ ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem });
		await broker.subscribe('$aws/events/presence/#', (m) => void events.push({ topic: m.topic, event: JSON.parse(new TextDecoder().decode(m.payload)) as PresenceEvent }));
	});
	afterEach(async () => {
		for (const c of clients.splice(0)) c.end(true);
		await broker.close();
	});

	it('connected, then a client DISCONNECT: the documented fields, one session and version for both', async () => {
		const c = await connect('robot-1');
		const on = await waitFor('connected', (e) => e.eventType === 'connected');
		assert.deepEqual(Object.keys(on).sort(), ['clientId', 'eventType', 'ipAddress', 'principalIdentifier', 'sessionIdentifier', 'timestamp', 'versionNumber']);
		assert.equal(on.clientId, 'robot-1');
		assert.equal(on.principalIdentifier, certificateId(pki.device('robot-1').certDer));
		assert.match(on.sessionIdentifier, /^[0-9a-f-]{36}$/);
		assert.ok(on.eventType === 'connected' && /127\.0\.0\.1/.test(on.ipAddress));
		assert.equal(events[0]!.topic, '$aws/events/presence/connected/robot-1');
		await c.endAsync();
		const off = await waitFor('disconnected', (e) => e.eventType === 'disconnected');
		assert.equal(events.find((x) => x.event === off)!.topic, '$aws/events/presence/disconnected/robot-1');
		assert.deepEqual(Object.keys(off).sort(), ['clientId', 'clientInitiatedDisconnect', 'disconnectReason', 'eventType', 'principalIdentifier', 'sessionIdentifier', 'timestamp', 'versionNumber']);
		assert.ok(off.eventType === 'disconnected' && off.disconnectReason === 'CLIENT_INITIATED_DISCONNECT' && off.clientInitiatedDisconnect === true);
		assert.equal(off.sessionIdentifier, on.sessionIdentifier);
		assert.equal(off.versionNumber, on.versionNumber);
	});

	it('a second connection with the client id: the first ends DUPLICATE_CLIENTID, the second has a higher version', async () => {
		const first = await connect('robot-1');
		const a = await waitFor('first connected', (e) => e.eventType === 'connected');
		const gone = closed(first);
		await connect('robot-1');
		await gone;
		const off = await waitFor('duplicate', (e) => e.eventType === 'disconnected');
		assert.ok(off.eventType === 'disconnected' && off.disconnectReason === 'DUPLICATE_CLIENTID' && off.clientInitiatedDisconnect === false);
		assert.equal(off.sessionIdentifier, a.sessionIdentifier);
		const b = await waitFor('second connected', (e) => e.eventType === 'connected' && e.sessionIdentifier !== a.sessionIdentifier);
		assert.ok(b.versionNumber > a.versionNumber);
	});

	it('a connection cut under the client: CONNECTION_LOST', async () => {
		const c = await connect('robot-2');
		await waitFor('connected', (e) => e.eventType === 'connected');
		(c as unknown as { stream: { destroy(): void } }).stream.destroy();
		const off = await waitFor('lost', (e) => e.eventType === 'disconnected');
		assert.ok(off.eventType === 'disconnected' && off.disconnectReason === 'CONNECTION_LOST' && !off.clientInitiatedDisconnect);
	});

	it('a publish the policy refuses: AUTH_ERROR', async () => {
		const c = await connect('robot-1');
		await waitFor('connected', (e) => e.eventType === 'connected');
		c.publish('robots/robot-2/missions/m-1/events', '{}', { qos: 1 });
		const off = await waitFor('refused', (e) => e.eventType === 'disconnected');
		assert.ok(off.eventType === 'disconnected' && off.disconnectReason === 'AUTH_ERROR');
	});

	it('client ids with # or + get no events; every reason is one AWS documents', () => {
		const p = createPresence(() => 1000);
		assert.equal(p.connected('a#b', '', ''), undefined);
		assert.equal(p.connected('a+b', '', ''), undefined);
		const made = p.connected('robot-1', 'abc', '10.0.0.1')!;
		assert.equal(made.event.versionNumber, 1000);
		assert.ok(p.connected('robot-1', 'abc', '10.0.0.1')!.event.versionNumber > 1000);
		assert.equal(DISCONNECT_REASONS.length, 13);
		assert.equal(p.disconnected(made.session, 'THROTTLED').event.clientInitiatedDisconnect, false);
	});
});
