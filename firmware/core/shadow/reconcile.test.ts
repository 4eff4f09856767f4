import * as assert from '../testing/assert';
import type { ShadowDocument } from './client';
import { decide, newestTimestamp, step, type Codec, type Owned, type SyncState } from './reconcile';

/** A value that is a whole number 0..100, as the schedule stands in for here. */
const codec: Codec<number> = {
	key: 'v',
	validate: (x) => (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 100 ? { ok: true, value: x } : { ok: false, error: 'expected 0..100, got ' + JSON.stringify(x) }),
	equal: (a, b) => a === b,
	toJson: (v) => v,
};

const clean = (value: number, editedAt?: number): Owned<number> => ({ value, editedAt, dirty: false });
const dirty = (value: number, editedAt?: number): Owned<number> => ({ value, editedAt, dirty: true });

function doc(state: ShadowDocument['state'], version = 5, desiredAt?: number): ShadowDocument {
	return { state, version, timestamp: 1000, ...(desiredAt !== undefined ? { metadata: { desired: { v: { timestamp: desiredAt } } } } : {}) };
}

describe('reconcile: decide', () => {
	const rows: [string, Owned<number>, ShadowDocument | undefined, ReturnType<typeof decide<number>>][] = [
		['no shadow yet: report what runs', clean(1), undefined, { after: clean(1), update: { reported: { v: 1 } } }],
		['reported equal, no desired: nothing to do', clean(1), doc({ reported: { v: 1 } }), { after: clean(1) }],
		['reported stale: report', clean(2), doc({ reported: { v: 1 } }), { after: clean(2), update: { reported: { v: 2 } } }],
		[
			'desired valid: apply, report, clear',
			clean(1),
			doc({ desired: { v: 7 }, reported: { v: 1 } }, 5, 100),
			{ after: clean(7, 100_000), update: { desired: { v: null }, reported: { v: 7, vError: null } }, log: ['sync.desired_applied', ''] },
		],
		[
			'desired invalid: keep running, error in reported, clear desired',
			clean(1),
			doc({ desired: { v: 700 }, reported: { v: 1 } }, 6, 100),
			{
				after: clean(1),
				update: { desired: { v: null }, reported: { vError: { message: 'expected 0..100, got 700', version: 6 } } },
				log: ['sync.desired_rejected', 'expected 0..100, got 700'],
			},
		],
		[
			'local edit newer than desired: local wins',
			dirty(3, 200_000),
			doc({ desired: { v: 7 } }, 5, 100),
			{ after: clean(3, 200_000), update: { desired: { v: null }, reported: { v: 3, vError: null } }, log: ['sync.local_wins', 'robot edit newer than desired'] },
		],
		['local edit older than desired: desired wins', dirty(3, 50_000), doc({ desired: { v: 7 } }, 5, 100), { after: clean(7, 100_000), update: { desired: { v: null }, reported: { v: 7, vError: null } }, log: ['sync.desired_applied', ''] }],
		[
			'local edit in the same second as desired: the app wins',
			dirty(3, 100_900),
			doc({ desired: { v: 7 } }, 5, 100),
			{ after: clean(7, 100_000), update: { desired: { v: null }, reported: { v: 7, vError: null } }, log: ['sync.desired_applied', ''] },
		],
		[
			'local edit with an unknown clock loses to any desired',
			dirty(3, undefined),
			doc({ desired: { v: 7 } }, 5, 100),
			{ after: clean(7, 100_000), update: { desired: { v: null }, reported: { v: 7, vError: null } }, log: ['sync.desired_applied', ''] },
		],
		['local edit, no desired: report it', dirty(3, undefined), doc({ reported: { v: 3 } }), { after: clean(3), update: { reported: { v: 3 } } }],
	];
	for (const [name, owned, d, expected] of rows) it(name, () => assert.deepEqual(decide(codec, owned, d), expected));

	it('newestTimestamp takes the newest leaf of nested metadata', () => {
		assert.equal(newestTimestamp({ a: { timestamp: 3 }, b: [{ c: { timestamp: 9 } }, { timestamp: 4 }] }), 9);
		assert.equal(newestTimestamp(undefined), 0);
	});
});

describe('reconcile: step', () => {
	const offline: SyncState<number> = { value: 'offline', owned: clean(1) };
	it('online reads', () => assert.deepEqual(step(codec, offline, { type: 'online' }), { state: { value: 'reading', owned: clean(1), attempt: 1 }, effects: [{ type: 'get' }] }));
	it('events that do not apply give undefined', () => {
		assert.equal(step(codec, offline, { type: 'delta' }), undefined);
		assert.equal(step(codec, offline, { type: 'written' }), undefined);
		assert.equal(step(codec, { value: 'synced', owned: clean(1) }, { type: 'online' }), undefined);
	});
	it('a desired value is applied before the write, and synced after it', () => {
		const reading: SyncState<number> = { value: 'reading', owned: clean(1), attempt: 1 };
		const s1 = step(codec, reading, { type: 'read', doc: doc({ desired: { v: 9 }, reported: { v: 1 } }, 4, 10) })!;
		assert.deepEqual(
			s1.effects.map((e) => e.type),
			['log', 'apply', 'update'],
		);
		assert.deepEqual(s1.effects[2], { type: 'update', state: { desired: { v: null }, reported: { v: 9, vError: null } }, version: 4 });
		assert.equal(s1.state.value, 'writing');
		const s2 = step(codec, s1.state, { type: 'written' })!;
		assert.deepEqual(s2, { state: { value: 'synced', owned: clean(9, 10_000) }, effects: [] });
	});
	it('409 reads again at once; a timeout backs off', () => {
		const writing: SyncState<number> = { value: 'writing', owned: clean(1), base: clean(1), after: clean(1), attempt: 2 };
		assert.deepEqual(step(codec, writing, { type: 'writeFailed', error: { code: 'rejected', status: 409, message: 'Version conflict' } }), {
			state: { value: 'reading', owned: clean(1), attempt: 2 },
			effects: [{ type: 'get' }],
		});
		const t = step(codec, writing, { type: 'writeFailed', error: { code: 'timeout' } })!;
		assert.equal(t.state.value, 'backoff');
		assert.deepEqual(t.effects[0], { type: 'wait', attempt: 2 });
		assert.deepEqual(step(codec, t.state, { type: 'retry' }), { state: { value: 'reading', owned: clean(1), attempt: 3 }, effects: [{ type: 'get' }] });
	});
	it('a local edit while synced applies at once and reports; while offline it waits', () => {
		const s = step(codec, { value: 'synced', owned: clean(1) }, { type: 'localEdit', value: 4, at: 77 })!;
		assert.deepEqual(s, { state: { value: 'reading', owned: dirty(4, 77), attempt: 1 }, effects: [{ type: 'apply', owned: dirty(4, 77) }, { type: 'get' }] });
		const o = step(codec, offline, { type: 'localEdit', value: 4, at: 77 })!;
		assert.deepEqual(o, { state: { value: 'offline', owned: dirty(4, 77) }, effects: [{ type: 'apply', owned: dirty(4, 77) }] });
	});
	it('a local edit during a write makes it read again after the write', () => {
		const writing: SyncState<number> = { value: 'writing', owned: clean(9), base: clean(9), after: clean(9), attempt: 1 };
		const e = step(codec, writing, { type: 'localEdit', value: 5, at: 99 })!;
		assert.equal(e.state.value, 'writing');
		assert.deepEqual(step(codec, e.state, { type: 'written' }), { state: { value: 'reading', owned: dirty(5, 99), attempt: 1 }, effects: [{ type: 'get' }] });
	});
	it('the dirty flag is cleared on storage only once the write landed', () => {
		const reading: SyncState<number> = { value: 'reading', owned: dirty(3, 500_000), attempt: 1 };
		const s1 = step(codec, reading, { type: 'read', doc: doc({ desired: { v: 7 } }, 5, 100) })!;
		assert.ok(!s1.effects.some((e) => e.type === 'apply' || e.type === 'persist'), 'nothing persisted before the write');
		const s2 = step(codec, s1.state, { type: 'written' })!;
		assert.deepEqual(s2.effects, [{ type: 'persist', owned: clean(3, 500_000) }]);
	});
	it('going offline keeps the owned value', () => {
		assert.deepEqual(step(codec, { value: 'reading', owned: dirty(2, 1), attempt: 1 }, { type: 'offline' }), { state: { value: 'offline', owned: dirty(2, 1) }, effects: [] });
	});
});
