/*
 * The MQTT session as a table: [session, event, time and outbox] -> [session, effects].
 * Runs on Node and in XS; link.test.ts drives the same step through the runner and
 * test/link*.test.ts over real brokers.
 */
import * as assert from '../testing/assert';
import { text } from '../testing/fakes';
import type { Packet } from '../mqtt/packet';
import { SUBACK_FAILURE } from '../mqtt/packet';
import { MAX_FILTERS_PER_SUBSCRIBE, NEW_SESSION, keepAlivePeriod, sessionStep, type Queued, type Session, type SessionConfig, type SessionEffect, type SessionEvent, type Subscription } from './session';

const C: SessionConfig = { clientId: 'robot-1', keepAlive: 60, pingTimeoutMs: 10_000, maxInflight: 2, will: undefined };
const P = text('x');

function session(over: Partial<Session> & { subs?: ReadonlyMap<string, Subscription> } = {}): Session {
	return { ...NEW_SESSION, ...over };
}
const granted = (qos: 0 | 1 = 1): Subscription => ({ qos, status: 'granted' });
const pendingSub = (qos: 0 | 1 = 1): Subscription => ({ qos, status: 'pending' });
const q = (seq: number, packetId = 0): Queued => ({ seq, topic: 't/' + seq, payload: P, packetId });
const pub = (seq: number, packetId: number, dup: boolean): Packet => ({ type: 'publish', topic: 't/' + seq, payload: P, qos: 1, retain: false, dup, packetId });
const connect: Packet = { type: 'connect', clientId: 'robot-1', cleanSession: false, keepAlive: 60 };

/** A session as plain data: the assert library compares objects by their keys, so Maps become entry lists. */
function view(s: Session): unknown {
	return { ...s, subs: [...s.subs], pending: [...s.pending] };
}

const up = session({ up: true, nextId: 5, lastWrite: 1000, lastRead: 1000 });
const upSubs = session({
	up: true,
	nextId: 5,
	lastWrite: 1000,
	lastRead: 1000,
	subs: new Map([
		['a/#', granted()],
		['b', granted(0)],
	]),
	pending: new Map([[3, ['a/#', 'b']]]),
});

type Row = readonly [name: string, before: Session, event: SessionEvent, now: number, queue: readonly Queued[], after: Session, effects: readonly SessionEffect[]];

const ROWS: readonly Row[] = [
	[
		'opened: CONNECT, one SUBSCRIBE for the filters, resends with DUP and old ids, then new ones up to the window',
		session({
			nextId: 7,
			subs: new Map([
				['a/#', granted()],
				['b', granted(0)],
			]),
		}),
		{ type: 'opened' },
		2000,
		[q(1, 7), q(2), q(3)],
		session({
			up: true,
			nextId: 10,
			lastWrite: 2000,
			subs: new Map([
				['a/#', pendingSub()],
				['b', pendingSub(0)],
			]),
			pending: new Map([[8, ['a/#', 'b']]]),
		}),
		[
			{ type: 'assign', seq: 2, packetId: 9 },
			{
				type: 'send',
				packets: [
					connect,
					{
						type: 'subscribe',
						packetId: 8,
						subscriptions: [
							{ topic: 'a/#', qos: 1 },
							{ topic: 'b', qos: 0 },
						],
					},
					pub(1, 7, true),
					pub(2, 9, false),
				],
			},
		],
	],
	['opened with no filters and an empty outbox: CONNECT alone', session(), { type: 'opened' }, 5, [], session({ up: true, lastWrite: 5 }), [{ type: 'send', packets: [connect] }]],
	['connack: the keep-alive clock starts from it', up, { type: 'connack' }, 4000, [], session({ ...up, lastRead: 4000 }), []],
	['closed: SUBSCRIBEs in the air and the ping are forgotten, filters stay', session({ ...upSubs, pingSentAt: 1500 }), { type: 'closed' }, 2000, [], session({ ...upSubs, up: false, pending: new Map() }), []],
	[
		'subscribe while up: a SUBSCRIBE with a fresh id',
		up,
		{ type: 'subscribe', filter: 'c', qos: 1 },
		1100,
		[],
		session({ ...up, nextId: 6, lastWrite: 1100, subs: new Map([['c', pendingSub()]]), pending: new Map([[5, ['c']]]) }),
		[{ type: 'send', packets: [{ type: 'subscribe', packetId: 5, subscriptions: [{ topic: 'c', qos: 1 }] }] }],
	],
	['subscribe while down: registered, sent on the next connection', session(), { type: 'subscribe', filter: 'c', qos: 0 }, 1, [], session({ subs: new Map([['c', pendingSub(0)]]) }), []],
	[
		'an id held by an outbox entry is skipped [MQTT-2.3.1-2]',
		up,
		{ type: 'subscribe', filter: 'c', qos: 1 },
		1000,
		[q(1, 5)],
		session({ ...up, nextId: 7, subs: new Map([['c', pendingSub()]]), pending: new Map([[6, ['c']]]) }),
		[{ type: 'send', packets: [{ type: 'subscribe', packetId: 6, subscriptions: [{ topic: 'c', qos: 1 }] }] }],
	],
	[
		'ids wrap from 65535 to 1, never 0',
		session({ ...up, nextId: 0xffff }),
		{ type: 'queued' },
		1000,
		[q(1), q(2)],
		session({ ...up, nextId: 2 }),
		[
			{ type: 'assign', seq: 1, packetId: 0xffff },
			{ type: 'assign', seq: 2, packetId: 1 },
			{ type: 'send', packets: [pub(1, 0xffff, false), pub(2, 1, false)] },
		],
	],
	[
		'unsubscribe of a registered filter',
		upSubs,
		{ type: 'unsubscribe', filter: 'b' },
		1000,
		[],
		session({
			...upSubs,
			nextId: 6,
			subs: new Map([['a/#', granted()]]),
			pending: new Map([
				[3, ['a/#', 'b']],
				[5, ['b']],
			]),
		}),
		[{ type: 'send', packets: [{ type: 'unsubscribe', packetId: 5, topics: ['b'] }] }],
	],
	['unsubscribe of an unknown filter: nothing', upSubs, { type: 'unsubscribe', filter: 'zz' }, 1000, [], upSubs, []],
	['queued: the window is full, nothing new goes', up, { type: 'queued' }, 1000, [q(1, 1), q(2, 2), q(3)], up, []],
	[
		'queued: room for one',
		up,
		{ type: 'queued' },
		1200,
		[q(1, 1), q(2)],
		session({ ...up, nextId: 6, lastWrite: 1200 }),
		[
			{ type: 'assign', seq: 2, packetId: 5 },
			{ type: 'send', packets: [pub(2, 5, false)] },
		],
	],
	['queued while down: nothing', session(), { type: 'queued' }, 1000, [q(1)], session(), []],
	['send while up', up, { type: 'send', packet: { type: 'puback', packetId: 9 } }, 1300, [], session({ ...up, lastWrite: 1300 }), [{ type: 'send', packets: [{ type: 'puback', packetId: 9 }] }]],
	['send while down: dropped', session(), { type: 'send', packet: { type: 'disconnect' } }, 1300, [], session(), []],
	['received: a read clears the ping', session({ ...up, pingSentAt: 1100 }), { type: 'received' }, 1400, [], session({ ...up, lastRead: 1400 }), []],
	['puback for an entry in flight', up, { type: 'puback', packetId: 4 }, 1000, [q(1, 4)], up, [{ type: 'acknowledged', packetId: 4 }]],
	['puback for an id nobody holds: logged', up, { type: 'puback', packetId: 4 }, 1000, [q(1, 3)], up, [{ type: 'log', level: 'debug', event: 'mqtt.puback_unknown', fields: { packetId: 4 } }]],
	['puback 0 never matches an unsent entry [MQTT-2.3.1-1]', up, { type: 'puback', packetId: 0 }, 1000, [q(1)], up, [{ type: 'log', level: 'debug', event: 'mqtt.puback_unknown', fields: { packetId: 0 } }]],
	[
		'suback: each filter granted or refused, told in order',
		upSubs,
		{ type: 'suback', packetId: 3, granted: [1, SUBACK_FAILURE] },
		1000,
		[],
		session({
			...upSubs,
			subs: new Map([
				['a/#', granted()],
				['b', { qos: 0, status: 'refused' }],
			]),
			pending: new Map(),
		}),
		[
			{ type: 'subscription', filter: 'a/#', granted: 1 },
			{ type: 'log', level: 'error', event: 'mqtt.subscribe_refused', fields: { filter: 'b' } },
			{ type: 'subscription', filter: 'b', granted: SUBACK_FAILURE },
		],
	],
	[
		'suback with the wrong number of codes: a protocol error [MQTT-3.9.3-1]',
		upSubs,
		{ type: 'suback', packetId: 3, granted: [1] },
		1000,
		[],
		session({ ...upSubs, pending: new Map() }),
		[{ type: 'protocolError', message: 'SUBACK with 1 codes for 2 filters [MQTT-3.9.3-1]' }],
	],
	['suback for an unknown id: logged', upSubs, { type: 'suback', packetId: 9, granted: [1] }, 1000, [], upSubs, [{ type: 'log', level: 'debug', event: 'mqtt.suback_unknown', fields: { packetId: 9 } }]],
	['unsuback clears its id', session({ ...up, pending: new Map([[5, ['b']]]) }), { type: 'unsuback', packetId: 5 }, 1000, [], up, []],
	['tick before the keep-alive: nothing', up, { type: 'tick' }, 1000 + 59_999, [], up, []],
	['tick after keep-alive seconds without a write: PINGREQ', up, { type: 'tick' }, 61_000, [], session({ ...up, lastWrite: 61_000, pingSentAt: 61_000 }), [{ type: 'send', packets: [{ type: 'pingreq' }] }]],
	[
		'tick after keep-alive seconds without a read, writes going on: PINGREQ (a half-open link)',
		session({ ...up, lastWrite: 60_000 }),
		{ type: 'tick' },
		61_000,
		[],
		session({ ...up, lastWrite: 61_000, pingSentAt: 61_000 }),
		[{ type: 'send', packets: [{ type: 'pingreq' }] }],
	],
	['tick with a ping out, still in time', session({ ...up, pingSentAt: 61_000 }), { type: 'tick' }, 70_999, [], session({ ...up, pingSentAt: 61_000 }), []],
	['tick with a ping out too long: lost', session({ ...up, pingSentAt: 61_000 }), { type: 'tick' }, 71_000, [], session({ ...up, pingSentAt: 61_000 }), [{ type: 'lost', reason: 'no PINGRESP within 10000 ms' }]],
	['tick while down: nothing', session(), { type: 'tick' }, 100_000, [], session(), []],
];

describe('link session', () => {
	for (const [name, before, event, now, queue, after, effects] of ROWS) {
		it(name, () => {
			const frozen = view(before);
			const r = sessionStep(before, event, { now, queue }, C);
			assert.deepEqual(view(r.session), view(after));
			assert.deepEqual(r.effects, effects);
			assert.deepEqual(view(before), frozen, 'the step does not change the session it is given');
		});
	}

	it('the will goes in every CONNECT', () => {
		const will = { topic: 'robots/robot-1/gone', payload: P, qos: 1 as const, retain: false };
		const r = sessionStep(NEW_SESSION, { type: 'opened' }, { now: 0, queue: [] }, { ...C, will });
		assert.deepEqual(r.effects, [{ type: 'send', packets: [{ ...connect, will }] }]);
	});

	it('more filters than one SUBSCRIBE may carry go in several, each with its own id', () => {
		const subs = new Map<string, Subscription>();
		for (let i = 0; i < MAX_FILTERS_PER_SUBSCRIBE + 1; i++) subs.set('f/' + i, granted());
		const r = sessionStep(session({ subs }), { type: 'opened' }, { now: 0, queue: [] }, C);
		assert.deepEqual(
			[...r.session.pending].map(([id, f]) => [id, f.length]),
			[
				[1, MAX_FILTERS_PER_SUBSCRIBE],
				[2, 1],
			],
		);
	});

	it('an id handed out earlier in the same step is not handed out again', () => {
		// the outbox learns an id only when the runner performs `assign`: the step must remember its own
		const queue = [q(1), q(2), q(3)];
		const r = sessionStep(session({ up: true }), { type: 'queued' }, { now: 0, queue }, { ...C, maxInflight: 3 });
		assert.deepEqual(
			r.effects.filter((e) => e.type === 'assign').map((e) => (e as { packetId: number }).packetId),
			[1, 2, 3],
		);
	});

	it('keeps the keep-alive timer a quarter of the shorter deadline, at least 250 ms', () => {
		assert.equal(keepAlivePeriod(C), 2500);
		assert.equal(keepAlivePeriod({ ...C, keepAlive: 1, pingTimeoutMs: 100 }), 250);
	});
});
