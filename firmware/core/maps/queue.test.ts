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
	q.listen({
		uploaded: (m) => events.push('uploaded ' + m),
		failed: (m, e, again) => events.push('failed ' + m + ' ' + e.code + (again ? ' retry' : '')),
		dropped: (m, why) => events.push('dropped ' + m + ' ' + why),
	});
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
		assert.deepEqual(
			t.q.pending().map((j) => j.missionId),
			['m-2', 'm-3', 'm-4'],
		);
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

	it("a failure that may be the robot's own is tried again after a delay, then the map is dropped", async () => {
		const t = setup();
		t.results.push(err({ code: 'bad-slot', reason: 'url' }), err({ code: 'unwrap' }));
		t.q.add(job(1));
		t.q.kick();
		await settle();
		assert.deepEqual(t.events, ['failed m-1 bad-slot retry']);
		t.time.advance(29_999);
		await settle();
		assert.equal(t.calls.length, 1);
		t.time.advance(1);
		await settle();
		assert.equal(t.calls.length, 2);
		assert.deepEqual(t.events, ['failed m-1 bad-slot retry', 'failed m-1 unwrap', 'dropped m-1 failures']);
		assert.deepEqual(t.q.pending(), []);
	});

	// the review: the cloud's "retry later" was taken as a final refusal and the owed map deleted
	it("the cloud's unavailable, slot timeouts, network and HTTP failures never drop the map: it is tried until it goes", async () => {
		const t = setup();
		const later: UploadError[] = [
			{ code: 'slot-refused', reason: 'unavailable: no data key: KMS failed, try again later', retryable: true },
			{ code: 'slot-timeout' },
			{ code: 'network', reason: 'reset' },
			{ code: 'http', status: 503 },
			{ code: 'slot-refused', reason: 'unavailable: no data key: KMS failed, try again later', retryable: true },
		];
		for (const e of later) t.results.push(err(e));
		t.q.add(job(1));
		t.q.kick();
		await settle();
		for (let i = 0; i < later.length; i++) {
			t.time.advance(60_000);
			await settle();
		}
		assert.deepEqual(t.calls, ['m-1', 'm-1', 'm-1', 'm-1', 'm-1', 'm-1']);
		assert.deepEqual(t.events, ['failed m-1 slot-refused retry', 'failed m-1 slot-timeout retry', 'failed m-1 network retry', 'failed m-1 http retry', 'failed m-1 slot-refused retry', 'uploaded m-1']);
		assert.ok(!t.log.events().includes('map.dropped'));
	});

	it('a refusal or a map that is gone drops it at once; the next one goes', async () => {
		const t = setup({ map: (j) => (j.missionId === 'm-2' ? undefined : { length: 1, open: () => () => undefined }) });
		t.results.push(err({ code: 'slot-refused', reason: 'too_large: bytes: 20000000, limit 16777216', retryable: false }));
		t.q.add(job(1));
		t.q.add(job(2));
		t.q.add(job(3));
		t.q.kick();
		await settle();
		assert.deepEqual(t.events, ['failed m-1 slot-refused', 'dropped m-1 refused', 'dropped m-2 unreadable', 'uploaded m-3']);
		assert.deepEqual(t.calls, ['m-1', 'm-3']);
	});

	describe('storage faults', () => {
		for (const result of ['full', 'failed'] as const)
			it(`a map the store cannot owe (${result}) is dropped (storage); the maps owed before stay owed, on storage too`, () => {
				const t = setup({ connected: false });
				assert.ok(t.q.add(job(1)));
				assert.ok(t.q.add(job(2)));
				t.storage.faults.fail = () => result;
				assert.equal(t.q.add(job(3)), false);
				assert.deepEqual(t.events, ['dropped m-3 storage']);
				assert.deepEqual(t.q.pending(), [job(1), job(2)]);
				assert.ok(t.log.events().includes('map.list_unsaved'));
				t.storage.faults.fail = undefined;
				assert.deepEqual(setup({ connected: false, storage: t.storage }).q.pending(), [job(1), job(2)]);
			});

		it('a full list pushing out the oldest, refused: nothing is dropped but the new map', () => {
			const t = setup({ connected: false });
			for (const n of [1, 2, 3]) t.q.add(job(n));
			t.storage.faults.fail = () => 'full';
			assert.equal(t.q.add(job(4)), false);
			assert.deepEqual(t.events, ['dropped m-4 storage']);
			assert.deepEqual(
				t.q.pending().map((j) => j.missionId),
				['m-1', 'm-2', 'm-3'],
			);
		});

		it('each write refused in turn: every map accepted and not uploaded is owed after a reboot', async () => {
			for (let n = 1; n <= 8; n++) {
				const storage = memoryStorage({ fail: (_k, i) => (i === n ? 'full' : undefined) });
				const t = setup({ connected: false, storage });
				const accepted: string[] = [];
				for (const k of [1, 2, 3]) if (t.q.add(job(k))) accepted.push('m-' + k);
				t.link.set({ value: 'connected', sessionPresent: false, attempt: 0, flaps: 0, since: 0 });
				t.results.push(ok({ attempts: 1, bytes: 10 }), err<UploadError>({ code: 'network', reason: 'down' }));
				await settle();
				const uploaded = t.events.filter((e) => e.startsWith('uploaded ')).map((e) => e.slice(9));
				storage.faults.fail = undefined;
				const loaded = setup({ connected: false, storage })
					.q.pending()
					.map((j) => j.missionId);
				for (const m of accepted) if (!uploaded.includes(m)) assert.ok(loaded.includes(m), 'write ' + n + ': ' + m + ' lost, loaded ' + JSON.stringify(loaded));
				assert.ok(accepted.length >= 2, 'one refusal refuses at most one map');
			}
		});
	});
});
