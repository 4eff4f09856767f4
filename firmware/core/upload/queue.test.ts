import * as assert from '../testing/assert';
import { fakeTime, fixedRandom, memoryLog, memoryStorage } from '../testing/fakes';
import type { LinkListener } from '../link/link';
import type { LinkState } from '../link/machine';
import { err, ok } from '../util/result';
import { MAPS_KEY, MapQueue, type MapJob, type Uploads } from './queue';
import type { MapSource, UploadError } from './uploader';

type Outcome = ReturnType<Uploads['upload']> extends Promise<infer R> ? R : never;

function setup(options: { connected?: boolean; storage?: ReturnType<typeof memoryStorage>; map?: (job: MapJob) => MapSource | undefined; maxPending?: number } = {}) {
	const time = fakeTime();
	const storage = options.storage ?? memoryStorage();
	const listeners: LinkListener[] = [];
	const link = {
		state: (options.connected === false ? { value: 'offline' } : { value: 'connected', sessionPresent: false }) as LinkState,
		listen(l: LinkListener) {
			listeners.push(l);
			return () => undefined;
		},
		set(s: LinkState) {
			this.state = s;
			for (const l of listeners) l.state?.(s);
		},
	};
	const results: Outcome[] = [];
	const calls: string[] = [];
	const uploads: Uploads = {
		async upload(missionId, map, onProgress) {
			calls.push(missionId);
			onProgress?.(map.length, map.length);
			return results.shift() ?? ok({ attempts: 1, bytes: map.length });
		},
	};
	const log = memoryLog();
	const events: string[] = [];
	const q = new MapQueue(uploads, link, { storage, clock: time.clock, timers: time.timers, random: fixedRandom(0.5), log }, options.map ?? ((j) => ({ length: 10, open: () => () => undefined }) as MapSource & { job?: MapJob }), {
		maxPending: options.maxPending ?? 3,
		maxFailures: 2,
		retry: { baseMs: 60_000, capMs: 60_000 },
	});
	current = { time };
	q.listen({ uploaded: (m) => events.push('uploaded ' + m), failed: (m, e, again) => events.push('failed ' + m + ' ' + e.code + (again ? ' retry' : '')), dropped: (m, why) => events.push('dropped ' + m + ' ' + why) });
	return { q, link, results, calls, time, storage, log, events };
}

/** Fires the 0 ms kick timer and lets the uploads' promises run. */
let current: { time: { advance(ms: number): void } } | undefined;
const settle = async () => {
	for (let k = 0; k < 4; k++) {
		current?.time.advance(0);
		for (let i = 0; i < 20; i++) await Promise.resolve();
	}
};
const job = (n: number): MapJob => ({ missionId: 'm-' + n, areaM2: n });

describe('map queue', () => {
	it('owes a map in storage at once and reads it back at boot; bounded, the oldest goes first', () => {
		const t = setup({ connected: false });
		t.q.add(job(1));
		t.q.add(job(1));
		assert.ok(t.storage.read(MAPS_KEY), 'persisted when added');
		for (const n of [2, 3, 4]) t.q.add(job(n));
		assert.deepEqual(t.q.pending().map((j) => j.missionId), ['m-2', 'm-3', 'm-4']);
		assert.deepEqual(t.events, ['dropped m-1 full']);
		const again = setup({ connected: false, storage: t.storage });
		assert.deepEqual(again.q.pending(), [job(2), job(3), job(4)]);
	});

	it('uploads oldest first while connected; offline it waits for the next connection', async () => {
		const t = setup({ connected: false });
		t.q.add(job(1));
		t.q.add(job(2));
		t.q.kick();
		await settle();
		assert.deepEqual(t.calls, []);
		t.link.set({ value: 'connected', sessionPresent: false, attempt: 0, flaps: 0, since: 0 });
		await settle();
		assert.deepEqual(t.calls, ['m-1', 'm-2']);
		assert.deepEqual(t.events, ['uploaded m-1', 'uploaded m-2']);
		assert.equal(t.storage.read(MAPS_KEY), undefined, 'nothing owed: the key is gone');
	});

	it('an upload that finds the link gone is not a failure', async () => {
		const t = setup();
		t.results.push(err({ code: 'offline' } as UploadError));
		t.q.add(job(1));
		t.q.kick();
		await settle();
		assert.deepEqual(t.events, ['failed m-1 offline retry']);
		assert.equal(t.time.pending(), 0, 'no timer: the next connection tries');
		t.link.set({ value: 'connected', sessionPresent: true, attempt: 0, flaps: 0, since: 0 });
		await settle();
		assert.deepEqual(t.events, ['failed m-1 offline retry', 'uploaded m-1']);
	});

	it('a failure that may pass is tried again after a delay, then the map is dropped', async () => {
		const t = setup();
		t.results.push(err({ code: 'network', reason: 'reset' }), err({ code: 'http', status: 500 }));
		t.q.add(job(1));
		t.q.kick();
		await settle();
		assert.deepEqual(t.events, ['failed m-1 network retry']);
		t.time.advance(29_999);
		await settle();
		assert.equal(t.calls.length, 1);
		t.time.advance(1);
		await settle();
		assert.equal(t.calls.length, 2);
		assert.deepEqual(t.events, ['failed m-1 network retry', 'failed m-1 http', 'dropped m-1 failures']);
		assert.deepEqual(t.q.pending(), []);
	});

	it('a refusal or a map that is gone drops it at once; the next one goes', async () => {
		const t = setup({ map: (j) => (j.missionId === 'm-2' ? undefined : { length: 1, open: () => () => undefined }) });
		t.results.push(err({ code: 'slot-refused', reason: 'invalid_request: bytes' }));
		t.q.add(job(1));
		t.q.add(job(2));
		t.q.add(job(3));
		t.q.kick();
		await settle();
		assert.deepEqual(t.events, ['failed m-1 slot-refused', 'dropped m-1 refused', 'dropped m-2 unreadable', 'uploaded m-3']);
		assert.deepEqual(t.calls, ['m-1', 'm-3']);
	});
});
