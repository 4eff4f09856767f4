/*
 * Property: whatever the interleaving of app edits, robot edits, disconnects,
 * reboots, and lost, duplicated and reordered shadow messages, the robot and its
 * shadow converge to the newest edit, `desired` ends empty, and the robot never
 * runs a value nobody set. The robot side is the firmware's own ShadowClient and
 * ShadowSync; the cloud side the local cloud's shadow operations (the same code
 * that serves MQTT and HTTP), joined by a faulty network under the test's control.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ShadowClient } from '../firmware/core/shadow/client';
import type { Messenger } from '../firmware/core/link/requests';
import { ShadowSync } from '../firmware/core/shadow/sync';
import type { Codec } from '../firmware/core/shadow/reconcile';
import type { LinkListener, Message, MessageHandler } from '../firmware/core/link/link';
import type { LinkState } from '../firmware/core/link/machine';
import { topicMatches } from '../firmware/core/mqtt/topic';
import { fakeTime, memoryLog, memoryStorage, seededRandom } from '../firmware/core/testing/fakes';
import { ok } from '../firmware/core/util/result';
import { createShadowOperations } from '../cloud/local/shadow/service';
import { createShadowStore } from '../cloud/local/shadow/store';

const THING = 'robot-1';
const NAME = 'schedule';
const PREFIX = `$aws/things/${THING}/shadow/name/${NAME}`;

const codec: Codec<number> = {
	key: 'v',
	validate: (x) => (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 1000 ? { ok: true, value: x } : { ok: false, error: 'bad' }),
	equal: (a, b) => a === b,
	toJson: (v) => v,
};

type Action =
	| { a: 'app'; v: number }
	| { a: 'robot'; v: number }
	| { a: 'down' }
	| { a: 'up' }
	| { a: 'reboot' }
	| { a: 'wait'; ms: number }
	/** The robot's store refuses every write (full) from now on, or takes them again. */
	| { a: 'store'; full: boolean };

const action: fc.Arbitrary<Action> = fc.oneof(
	fc.record({ a: fc.constant('app' as const), v: fc.integer({ min: 1, max: 1000 }) }),
	fc.record({ a: fc.constant('robot' as const), v: fc.integer({ min: 1, max: 1000 }) }),
	fc.constant({ a: 'down' as const }),
	fc.constant({ a: 'up' as const }),
	fc.constant({ a: 'reboot' as const }),
	fc.record({ a: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 5000 }) }),
);
const withStore: fc.Arbitrary<Action> = fc.oneof(action, fc.record({ a: fc.constant('store' as const), full: fc.boolean() }));

async function settle(): Promise<void> {
	for (let i = 0; i < 20; i++) await Promise.resolve();
}

async function run(actions: Action[], seed: number, faults: { drop: number; dup: number; delay: number }): Promise<void> {
	const time = fakeTime(1_700_000_000_000); // the clock is also the cloud's: edits order by it
	const rnd = seededRandom(seed);
	const cloud = createShadowOperations(createShadowStore(), { now: () => time.clock.now()! });
	const storage = memoryStorage();
	const applied = new Set<number>([0]);
	const set = new Set<number>([0]);
	const edits: { v: number; at: number }[] = [];

	// ---- the network: a queue of deliveries, each may be dropped, doubled or held back
	let connected = false;
	let queue: { to: 'cloud' | 'robot'; topic: string; payload: Uint8Array }[] = [];
	let held: typeof queue = [];
	let healthy = false;
	const send = (m: (typeof queue)[number]) => {
		if (!connected) return;
		const r = rnd();
		if (!healthy && r < faults.drop) return;
		if (!healthy && r < faults.drop + faults.delay) return void held.push(m);
		queue.push(m);
		if (!healthy && r < faults.drop + faults.delay + faults.dup) queue.push(m);
	};

	// ---- the robot: firmware ShadowClient + ShadowSync over a fake link
	let subs = new Map<string, MessageHandler>();
	let linkListeners: LinkListener[] = [];
	let state: LinkState = { value: 'offline' };
	let seq = 0;
	const link: Messenger = {
		get state() {
			return state;
		},
		subscribe(filter, handler) {
			subs.set(filter, handler);
			return ok(undefined);
		},
		publish(topic, payload) {
			send({ to: 'cloud', topic, payload: payload.slice() });
			return ok(++seq);
		},
		withdraw: () => false,
		listen(l) {
			linkListeners.push(l);
			return () => {};
		},
	};
	const setLink = (s: LinkState) => {
		state = s;
		for (const l of linkListeners) l.state?.(s);
	};
	const ports = { timers: time.timers, clock: time.clock, random: { random: rnd }, storage, log: memoryLog() };
	let sync!: ShadowSync<number>;
	const boot = () => {
		subs = new Map();
		linkListeners = [];
		const client = new ShadowClient(link, ports, { thing: THING, name: NAME, timeoutMs: 2000 });
		sync = new ShadowSync(link, client, ports, { codec, storageKey: 'sched', initial: 0, onApply: (v) => applied.add(v), backoff: { baseMs: 500, capMs: 4000 } });
	};
	boot();

	// the cloud publishes what AWS would, to whoever subscribed
	cloud.onChange((c) => {
		if (c.kind !== 'update' || c.thing !== THING || c.name !== NAME) return;
		send({ to: 'robot', topic: PREFIX + '/update/accepted', payload: new TextEncoder().encode(JSON.stringify(c.accepted)) });
		if (c.delta) send({ to: 'robot', topic: PREFIX + '/update/delta', payload: new TextEncoder().encode(JSON.stringify(c.delta)) });
	});

	const flush = async () => {
		for (let i = 0; i < 50 && queue.length; i++) {
			const batch = queue;
			queue = [];
			for (const m of batch) {
				if (!connected) continue;
				if (m.to === 'cloud') {
					const op = m.topic.slice(PREFIX.length + 1) as 'get' | 'update';
					const r = op === 'get' ? cloud.get(THING, NAME, m.payload) : cloud.update(THING, NAME, m.payload);
					const body = r.ok ? r.value : r.error;
					send({ to: 'robot', topic: `${PREFIX}/${op}/${r.ok ? 'accepted' : 'rejected'}`, payload: new TextEncoder().encode(JSON.stringify(body)) });
				} else {
					const msg: Message = { topic: m.topic, payload: m.payload, qos: 1, dup: false, retain: false };
					for (const [f, h] of subs) if (topicMatches(f, m.topic)) await h(msg);
				}
			}
			await settle();
		}
	};
	const up = async () => {
		if (connected) return;
		connected = true;
		setLink({ value: 'connecting', attempt: 0, flaps: 0 });
		setLink({ value: 'connected', sessionPresent: true, attempt: 0, flaps: 0, since: 0 });
		await settle();
		await flush();
	};
	const down = async () => {
		connected = false;
		queue = [];
		held = [];
		setLink({ value: 'waiting', attempt: 1, flaps: 0, reason: 'test' });
		await settle();
	};

	for (const act of actions) {
		// what was held back arrives one action late: a reply can cross an edit
		queue.push(...held);
		held = [];
		time.advance(1100); // edits a whole second apart: AWS metadata has second resolution
		switch (act.a) {
			case 'app': {
				const r = cloud.update(THING, NAME, JSON.stringify({ state: { desired: { v: act.v } } }));
				assert.ok(r.ok);
				edits.push({ v: act.v, at: time.now() });
				set.add(act.v);
				break;
			}
			case 'robot': {
				// a full store refuses the edit: it never happened
				const r = sync.edit(act.v);
				assert.equal(r.ok, !storage.faults.fail, JSON.stringify(r));
				if (!r.ok) break;
				edits.push({ v: act.v, at: time.now() });
				set.add(act.v);
				break;
			}
			case 'store':
				storage.faults.fail = act.full ? () => 'full' : undefined;
				break;
			case 'down':
				await down();
				break;
			case 'up':
				await up();
				break;
			case 'reboot':
				await down();
				boot();
				break;
			case 'wait':
				time.advance(act.ms);
				break;
		}
		await settle();
		await flush();
	}

	// heal: a lost QoS 1 message means a lost connection, so end with a reconnect
	await down();
	healthy = true;
	storage.faults.fail = undefined;
	await up();
	for (let i = 0; i < 40 && sync.state.value !== 'synced'; i++) {
		queue.push(...held);
		held = [];
		time.advance(2000);
		await settle();
		await flush();
	}
	const doc = cloud.get(THING, NAME, '{}');
	const expected = edits.length ? edits[edits.length - 1]!.v : 0;
	assert.equal(sync.state.value, 'synced', 'sync settles');
	assert.equal(sync.value, expected, 'the robot runs the newest edit');
	if (edits.length || doc.ok) {
		assert.ok(doc.ok, 'the shadow exists');
		assert.equal((doc.value.state.reported as { v?: number } | undefined)?.v, expected, 'reported says so');
		assert.equal((doc.value.state.desired as { v?: number } | undefined)?.v, undefined, 'desired ends empty');
	}
	for (const v of applied) assert.ok(set.has(v), 'the robot ran ' + v + ', which nobody set');
}

describe('schedule shadow sync converges (property)', function () {
	this.timeout(120_000);
	it('over random interleavings on a faulty network', async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(action, { maxLength: 30 }), fc.integer(), async (actions, seed) => {
				await run(actions, seed, { drop: 0.15, dup: 0.1, delay: 0.15 });
			}),
			{ numRuns: Number(process.env.SYNC_RUNS ?? 300) },
		);
	});
	it("with the robot's store refusing writes at random times: no edit lost, none run that nobody set", async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(withStore, { maxLength: 30 }), fc.integer(), async (actions, seed) => {
				await run(actions, seed, { drop: 0.1, dup: 0.1, delay: 0.1 });
			}),
			{ numRuns: Number(process.env.SYNC_RUNS ?? 300) },
		);
	});
	it('on a perfect network too', async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(action, { maxLength: 30 }), fc.integer(), async (actions, seed) => run(actions, seed, { drop: 0, dup: 0, delay: 0 })),
			{ numRuns: 100 },
		);
	});
});
