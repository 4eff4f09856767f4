/*
 * Device Shadow conformance, written from the AWS IoT Developer Guide ("Device Shadow service
 * documents", "Device Shadow MQTT topics", "Device Shadow error messages", "Device Shadow REST
 * API"). One table of cases runs through two transports against one service: MQTT as the
 * device robot-1 through the real broker (mutual TLS, policy), and HTTP through
 * @aws-sdk/client-iot-data-plane. Both watch update/delta and update/documents as the device.
 */
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { ListNamedShadowsForThingCommand, IoTDataPlaneClient, GetThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { startBroker, type Broker } from '../cloud/local/broker';
import { createBus, type BusControl } from '../cloud/local/bus';
import { LOCAL_REGION } from '../cloud/local/credentials';
import { silentLog } from '../cloud/local/log';
import { startShadowService, type ShadowService } from '../cloud/local/shadow/index';
import { connectThing } from './support/mqtt-client';
import { testPki } from './support/pki';
import { httpTransport, Inbox, mqttTransport, prefixOf, type Outcome, type ShadowTransport } from './support/shadow-transports';

const THING = 'robot-1';

interface World {
	readonly t: ShadowTransport;
	readonly inbox: Inbox;
	/** Advances the service clock (ms) and returns the new time in epoch seconds. */
	tick(ms?: number): number;
	/** Epoch seconds now, as the service sees it. */
	seconds(): number;
	/** The update/delta and update/documents the device saw for `version` of a shadow. */
	events(shadow: string, version: number): Promise<{ delta?: Record<string, unknown>; documents: Record<string, unknown> }>;
}

interface Case {
	readonly title: string;
	run(w: World, shadow: string): Promise<void>;
}

function accepted(o: Outcome): Record<string, any> {
	if (!o.ok) assert.fail('expected accepted, got ' + o.code + ' ' + o.message);
	return o.body;
}

function rejected(o: Outcome, code: number, message?: string | RegExp, exception?: string): void {
	if (o.ok) assert.fail('expected ' + code + ', got accepted ' + JSON.stringify(o.body));
	assert.equal(o.code, code);
	if (typeof message === 'string') assert.equal(o.message, message);
	else if (message) assert.match(o.message, message);
	if (exception && o.exception !== undefined) assert.equal(o.exception, exception);
}

const cases: Case[] = [
	{
		title: 'update creates the shadow at version 1 and echoes state, metadata, timestamp and clientToken',
		async run(w, s) {
			const now = w.tick();
			const r = accepted(await w.t.update(THING, s, { state: { desired: { power: 'on', fan: { speed: 2 } } }, clientToken: 'tok-1' }));
			assert.deepEqual(r, {
				state: { desired: { power: 'on', fan: { speed: 2 } } },
				metadata: { desired: { power: { timestamp: now }, fan: { speed: { timestamp: now } } } },
				version: 1,
				timestamp: now,
				clientToken: 'tok-1',
			});
		},
	},
	{
		title: 'every accepted update increments the version; get does not',
		async run(w, s) {
			for (let v = 1; v <= 3; v++) assert.equal(accepted(await w.t.update(THING, s, { state: { reported: { n: v } } })).version, v);
			assert.equal(accepted(await w.t.get(THING, s)).version, 3);
			assert.equal(accepted(await w.t.get(THING, s)).version, 3);
			// the same value again is still an update
			assert.equal(accepted(await w.t.update(THING, s, { state: { reported: { n: 3 } } })).version, 4);
		},
	},
	{
		title: 'a request with a stale version is rejected 409 "Version conflict" and changes nothing',
		async run(w, s) {
			await w.t.update(THING, s, { state: { reported: { a: 1 } } });
			await w.t.update(THING, s, { state: { reported: { a: 2 } } });
			const r = await w.t.update(THING, s, { state: { reported: { a: 99 } }, version: 1, clientToken: 'stale' });
			rejected(r, 409, 'Version conflict', 'ConflictException');
			if (!r.ok && w.t.name === 'mqtt') assert.equal(r.clientToken, 'stale');
			const g = accepted(await w.t.get(THING, s));
			assert.deepEqual([g.version, g.state.reported.a], [2, 2]);
			// the current version is accepted
			assert.equal(accepted(await w.t.update(THING, s, { state: { reported: { a: 3 } }, version: 2 })).version, 3);
		},
	},
	{
		title: 'a state over 8 KB is rejected 413, also when it grows there over several updates',
		async run(w, s) {
			rejected(await w.t.update(THING, s, { state: { reported: { big: 'x'.repeat(8200) } } }), 413, 'The payload exceeds the maximum size allowed', 'RequestEntityTooLargeException');
			rejected(await w.t.get(THING, s), 404);
			accepted(await w.t.update(THING, s, { state: { reported: { a: 'x'.repeat(5000) } } }));
			rejected(await w.t.update(THING, s, { state: { desired: { b: 'y'.repeat(3500) } } }), 413);
			const g = accepted(await w.t.get(THING, s));
			assert.equal(g.version, 1);
			assert.equal(g.state.desired, undefined);
			// metadata does not count: just under 8 KB of state is fine
			accepted(await w.t.update(THING, s, { state: { desired: { b: 'y'.repeat(8192 - 5000 - 40) } } }));
		},
	},
	{
		title: 'update/delta carries only the desired attributes that differ from reported, nested to the root, arrays whole',
		async run(w, s) {
			accepted(await w.t.update(THING, s, { state: { reported: { a: 1, b: { c: 2, d: 4 }, arr: [1], only: 'r' } } }));
			assert.equal((await w.events(s, 1)).delta, undefined, 'no desired: no delta');
			const now = w.tick();
			const r = accepted(await w.t.update(THING, s, { state: { desired: { a: 1, b: { c: 2, d: 3 }, arr: [1, 2], fresh: true } }, clientToken: 'd1' }));
			const { delta } = await w.events(s, r.version);
			assert.deepEqual(delta, {
				state: { b: { d: 3 }, arr: [1, 2], fresh: true },
				metadata: { b: { d: { timestamp: now } }, arr: [{ timestamp: now }, { timestamp: now }], fresh: { timestamp: now } },
				version: 2,
				timestamp: now,
				clientToken: 'd1',
			});
			// get/accepted shows the same delta
			assert.deepEqual(accepted(await w.t.get(THING, s)).state.delta, { b: { d: 3 }, arr: [1, 2], fresh: true });
			// a desired change alone still sends every difference, not just the new one
			const r3 = accepted(await w.t.update(THING, s, { state: { desired: { a: 5 } } }));
			assert.deepEqual((await w.events(s, r3.version)).delta?.state, { a: 5, b: { d: 3 }, arr: [1, 2], fresh: true });
			// once reported matches, no delta is published and get has none
			const r4 = accepted(await w.t.update(THING, s, { state: { reported: { a: 5, b: { d: 3 }, arr: [1, 2], fresh: true } } }));
			assert.equal((await w.events(s, r4.version)).delta, undefined);
			assert.equal(accepted(await w.t.get(THING, s)).state.delta, undefined);
		},
	},
	{
		title: 'update/documents carries previous and current state, metadata and version, with timestamp and clientToken',
		async run(w, s) {
			const t1 = w.tick();
			accepted(await w.t.update(THING, s, { state: { desired: { x: 1 } } }));
			const first = (await w.events(s, 1)).documents;
			assert.equal(first.previous, null);
			const t2 = w.tick();
			accepted(await w.t.update(THING, s, { state: { reported: { x: 1 } }, clientToken: 'doc' }));
			assert.deepEqual((await w.events(s, 2)).documents, {
				previous: { state: { desired: { x: 1 } }, metadata: { desired: { x: { timestamp: t1 } } }, version: 1 },
				current: {
					state: { desired: { x: 1 }, reported: { x: 1 } },
					metadata: { desired: { x: { timestamp: t1 } }, reported: { x: { timestamp: t2 } } },
					version: 2,
				},
				timestamp: t2,
				clientToken: 'doc',
			});
		},
	},
	{
		title: 'metadata holds a timestamp per leaf, renewed only for the leaves an update writes',
		async run(w, s) {
			const t1 = w.tick();
			accepted(await w.t.update(THING, s, { state: { reported: { a: 1, nest: { b: 2, c: 3 }, list: ['p', { q: 1 }] } } }));
			const t2 = w.tick(5000);
			const r = accepted(await w.t.update(THING, s, { state: { reported: { nest: { c: 4 } } } }));
			assert.deepEqual(r.metadata, { reported: { nest: { c: { timestamp: t2 } } } });
			const g = accepted(await w.t.get(THING, s, 'g1'));
			assert.deepEqual(g.metadata, {
				reported: { a: { timestamp: t1 }, nest: { b: { timestamp: t1 }, c: { timestamp: t2 } }, list: [{ timestamp: t1 }, { q: { timestamp: t1 } }] },
			});
			assert.equal(g.timestamp, w.seconds());
			if (w.t.name === 'mqtt') assert.equal(g.clientToken, 'g1');
		},
	},
	{
		title: 'null removes a key, a nested key, or a whole section; the acceptance echoes the nulls',
		async run(w, s) {
			accepted(await w.t.update(THING, s, { state: { desired: { keep: 1, drop: 2, nest: { x: 1, y: 2 } }, reported: { r: 1 } } }));
			const now = w.tick();
			const r = accepted(await w.t.update(THING, s, { state: { desired: { drop: null, nest: { y: null } } } }));
			assert.deepEqual(r.state, { desired: { drop: null, nest: { y: null } } });
			assert.deepEqual(r.metadata, { desired: { drop: { timestamp: now }, nest: { y: { timestamp: now } } } });
			let g = accepted(await w.t.get(THING, s));
			assert.deepEqual(g.state.desired, { keep: 1, nest: { x: 1 } });
			assert.equal(g.metadata.desired.drop, undefined);
			accepted(await w.t.update(THING, s, { state: { desired: null } }));
			g = accepted(await w.t.get(THING, s));
			assert.deepEqual(g.state, { reported: { r: 1 } });
			assert.deepEqual(Object.keys(g.metadata), ['reported']);
		},
	},
	{
		// data-flow page, "Deleting a shadow": "Setting the device's shadow state to null does not
		// delete the shadow. The shadow version will be incremented on the next update."
		title: '"state": null clears desired and reported of an existing shadow; the shadow stays, empty, and its version goes on',
		async run(w, s) {
			accepted(await w.t.update(THING, s, { state: { desired: { a: 1 }, reported: { a: 2 } } }));
			const now = w.tick();
			const r = accepted(await w.t.update(THING, s, { state: null, clientToken: 'clear' }));
			// the reply AWS gives (moto issue 9237 shows it from a real account)
			const { clientToken, ...reply } = r;
			assert.deepEqual(reply, { state: null, metadata: { timestamp: now }, version: 2, timestamp: now });
			if (w.t.name === 'mqtt') assert.equal(clientToken, 'clear');
			const { documents, delta } = await w.events(s, 2);
			assert.equal(delta, undefined);
			assert.deepEqual(documents.current, { state: {}, metadata: {}, version: 2 });
			const g = accepted(await w.t.get(THING, s));
			assert.deepEqual([g.state, g.metadata, g.version], [{}, {}, 2]);
			assert.equal(accepted(await w.t.update(THING, s, { state: { reported: { b: 1 } } })).version, 3);
		},
	},
	{
		title: '"state": null on a shadow that does not exist creates it, empty, at version 1',
		async run(w, s) {
			rejected(await w.t.get(THING, s), 404);
			const r = accepted(await w.t.update(THING, s, { state: null }));
			assert.deepEqual([r.state, r.version], [null, 1]);
			assert.equal((await w.events(s, 1)).documents.previous, null);
			const g = accepted(await w.t.get(THING, s));
			assert.deepEqual([g.state, g.version], [{}, 1]);
		},
	},
	{
		// DSD: "Values, objects, and arrays are stored"; desired and reported "can be empty"; only
		// null removes ("Empty shadow document properties")
		title: 'empty objects are kept: written as {}, or emptied by nulls; only null removes',
		async run(w, s) {
			accepted(await w.t.update(THING, s, { state: { reported: { lights: {}, fan: { speed: 2 } }, desired: {} } }));
			let g = accepted(await w.t.get(THING, s));
			assert.deepEqual(g.state, { reported: { lights: {}, fan: { speed: 2 } }, desired: {} });
			assert.deepEqual(g.metadata.reported.lights, {});
			accepted(await w.t.update(THING, s, { state: { reported: { fan: { speed: null } } } }));
			g = accepted(await w.t.get(THING, s));
			assert.deepEqual(g.state.reported, { lights: {}, fan: {} });
			accepted(await w.t.update(THING, s, { state: { reported: { lights: null, fan: null } } }));
			g = accepted(await w.t.get(THING, s));
			assert.deepEqual(g.state, { reported: {}, desired: {} });
			// an empty desired object against a missing reported one is a difference: delta carries it
			const r = accepted(await w.t.update(THING, s, { state: { desired: { dock: {} } } }));
			assert.deepEqual((await w.events(s, r.version)).delta?.state, { dock: {} });
		},
	},
	{
		title: 'arrays are replaced whole, and may not hold null',
		async run(w, s) {
			accepted(await w.t.update(THING, s, { state: { desired: { colors: ['RED', 'GREEN', 'BLUE'] } } }));
			accepted(await w.t.update(THING, s, { state: { desired: { colors: ['RED'] } } }));
			assert.deepEqual(accepted(await w.t.get(THING, s)).state.desired, { colors: ['RED'] });
			rejected(await w.t.update(THING, s, { state: { desired: { colors: [null, 'RED'] } } }), 400);
		},
	},
	{
		title: 'malformed requests are rejected 400 with the AWS messages and change nothing',
		async run(w, s) {
			const deep = { l1: { l2: { l3: { l4: { l5: { l6: { l7: 1 } } } } } } };
			const rows: [unknown, string | RegExp][] = [
				['{not json', 'Invalid JSON'],
				[{ clientToken: 'x' }, 'Missing required node: state'],
				[{ state: 3 }, 'State node must be an object'],
				[{ state: { desired: [1] } }, 'Desired node must be an object'],
				[{ state: { reported: 'on' } }, 'Reported node must be an object'],
				[{ state: { delta: { a: 1 } } }, "State contains an invalid node: 'delta'"],
				[{ state: { desired: deep } }, 'JSON contains too many levels of nesting; maximum is 6'],
				[{ state: { desired: { a: 1 } }, clientToken: 'x'.repeat(65) }, 'Invalid clientToken'],
				[{ state: { desired: { a: 1 } }, version: 'one' }, 'Invalid version'],
			];
			for (const [body, message] of rows) rejected(await w.t.update(THING, s, body), 400, message, 'InvalidRequestException');
			rejected(await w.t.get(THING, s), 404);
			// six levels are fine
			accepted(await w.t.update(THING, s, { state: { desired: { l1: { l2: { l3: { l4: { l5: { l6: 1 } } } } } } } }));
		},
	},
	{
		title: 'delete answers the version and timestamp; the shadow is then 404; a new one continues the version',
		async run(w, s) {
			accepted(await w.t.update(THING, s, { state: { reported: { a: 1 } } }));
			accepted(await w.t.update(THING, s, { state: { reported: { a: 2 } } }));
			const now = w.tick();
			const d = accepted(await w.t.delete(THING, s, 'del'));
			assert.equal(d.version, 2);
			assert.equal(d.timestamp, now);
			if (w.t.name === 'mqtt') assert.equal(d.clientToken, 'del');
			const name = s === '' ? THING : s;
			rejected(await w.t.get(THING, s), 404, `No shadow exists with name: '${name}'`, 'ResourceNotFoundException');
			rejected(await w.t.delete(THING, s), 404, `No shadow exists with name: '${name}'`);
			// "deleting a shadow does not reset its version number to 0"
			const r = accepted(await w.t.update(THING, s, { state: { reported: { a: 3 } } }));
			assert.equal(r.version, 3);
			assert.deepEqual(accepted(await w.t.get(THING, s)).state, { reported: { a: 3 } });
		},
	},
	{
		title: 'the classic shadow and named shadows are separate documents',
		async run(w, s) {
			await w.t.delete(THING, '');
			accepted(await w.t.update(THING, s, { state: { reported: { named: true } } }));
			rejected(await w.t.get(THING, ''), 404, `No shadow exists with name: '${THING}'`);
			const c = accepted(await w.t.update(THING, '', { state: { reported: { classic: true } } }));
			assert.deepEqual(c.state, { reported: { classic: true } });
			assert.deepEqual(accepted(await w.t.get(THING, s)).state, { reported: { named: true } });
			assert.deepEqual(accepted(await w.t.get(THING, '')).state, { reported: { classic: true } });
			accepted(await w.t.delete(THING, ''));
		},
	},
];

describe('device shadow conformance', function () {
	this.timeout(30_000);
	let broker: Broker;
	let bus: BusControl;
	let shadow: ShadowService;
	let device: MqttClient;
	let inbox: Inbox;
	let nowMs = Date.now();

	before(async () => {
		const pki = await testPki();
		broker = await startBroker({ ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem });
		bus = createBus(silentLog);
		await bus.attach(broker);
		// the clock stays near real time: SigV4 allows 15 minutes of skew
		shadow = await startShadowService({ bus, clock: { now: () => nowMs } });
		device = await connectThing({ port: broker.port, identity: pki.device('robot-1') });
		inbox = new Inbox(device);
		await device.subscribeAsync(`$aws/things/${THING}/shadow/#`, { qos: 1 });
	});

	after(async () => {
		await device?.endAsync();
		await shadow?.close();
		bus?.detach();
		await broker?.close();
	});

	const world = (t: ShadowTransport): World => ({
		t,
		inbox,
		tick(ms = 1000) {
			nowMs += ms;
			return Math.floor(nowMs / 1000);
		},
		seconds: () => Math.floor(nowMs / 1000),
		async events(s, version) {
			const base = prefixOf(THING, s) + '/update/';
			// documents follows delta on the same connection, so once it is here a delta would be too
			const documents = await inbox.next((m) => m.topic === base + 'documents' && m.body.current?.version === version);
			const delta = inbox.messages.find((m) => m.topic === base + 'delta' && m.body.version === version);
			return { documents: documents.body, ...(delta ? { delta: delta.body } : {}) };
		},
	});

	for (const transport of ['mqtt', 'http'] as const) {
		describe('over ' + transport, () => {
			let t: ShadowTransport;
			before(() => {
				t = transport === 'mqtt' ? mqttTransport(device, inbox) : httpTransport(shadow.endpoint);
			});
			cases.forEach((c, i) => it(c.title, () => c.run(world(t), transport + '-' + i)));
		});
	}

	describe('HTTP data plane only', () => {
		it('ListNamedShadowsForThing pages through the named shadows, without the classic one or deleted ones', async () => {
			const t = httpTransport(shadow.endpoint);
			for (const n of ['list-a', 'list-b', 'list-c']) accepted(await t.update('robot-2', n, { state: { reported: { n } } }));
			accepted(await t.update('robot-2', '', { state: { reported: { classic: 1 } } }));
			accepted(await t.delete('robot-2', 'list-b'));
			const first = await t.client.send(new ListNamedShadowsForThingCommand({ thingName: 'robot-2', pageSize: 1 }));
			assert.deepEqual(first.results, ['list-a']);
			assert.ok(first.nextToken);
			const second = await t.client.send(new ListNamedShadowsForThingCommand({ thingName: 'robot-2', pageSize: 1, nextToken: first.nextToken }));
			assert.deepEqual(second.results, ['list-c']);
			assert.equal(second.nextToken, undefined);
			assert.equal(typeof second.timestamp, 'number');
		});

		it('an HTTP update reaches the device on MQTT as update/accepted, update/delta and update/documents', async () => {
			const t = httpTransport(shadow.endpoint);
			const from = inbox.messages.length;
			const r = accepted(await t.update(THING, 'schedule', { state: { desired: { week: [1, 2] } }, clientToken: 'app' }));
			const base = prefixOf(THING, 'schedule') + '/update/';
			const a = await inbox.next((m) => m.topic === base + 'accepted', from);
			assert.deepEqual(a.body, r);
			const d = await inbox.next((m) => m.topic === base + 'delta', from);
			assert.deepEqual(d.body.state, { week: [1, 2] });
			await inbox.next((m) => m.topic === base + 'documents', from);
		});

		it('refuses a request signed with the wrong secret', async () => {
			const bad = new IoTDataPlaneClient({
				endpoint: shadow.endpoint,
				region: LOCAL_REGION,
				credentials: { accessKeyId: 'AKIALOCALCLOUD000001', secretAccessKey: 'wrong' },
				maxAttempts: 1,
			});
			await assert.rejects(bad.send(new GetThingShadowCommand({ thingName: THING })), (e: { $metadata: { httpStatusCode: number }; name: string }) => {
				assert.equal(e.$metadata.httpStatusCode, 403);
				assert.equal(e.name, 'SignatureDoesNotMatch');
				return true;
			});
		});
	});
});
