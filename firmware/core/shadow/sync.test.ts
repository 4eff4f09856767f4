/*
 * The sync runner over a store that refuses writes (Node and XS): a value is saved before it
 * is applied, so a refusal leaves the robot running (and storing) what it ran before, and
 * nothing is reported that the robot would not come back with after a reboot.
 */
import * as assert from '../testing/assert';
import { fakeTime, fixedRandom, memoryLog, memoryStorage, settle } from '../testing/fakes';
import { fakeMessenger } from '../testing/messenger';
import { readRecord } from '../util/record';
import { utf8Decode } from '../util/utf8';
import { ShadowClient } from './client';
import type { Codec } from './reconcile';
import { ShadowSync } from './sync';

const P = '$aws/things/robot-1/shadow/name/v';
const codec: Codec<number> = {
	key: 'v',
	validate: (x) => (typeof x === 'number' && Number.isInteger(x) && x >= 0 ? { ok: true, value: x } : { ok: false, error: 'bad' }),
	equal: (a, b) => a === b,
	toJson: (v) => v,
};

function setup() {
	const time = fakeTime(1_800_000_000_000);
	const link = fakeMessenger('offline');
	const storage = memoryStorage();
	const log = memoryLog();
	const ports = { timers: time.timers, clock: time.clock, random: fixedRandom(0.5), storage, log };
	const applied: number[] = [];
	const boot = () =>
		new ShadowSync(link, new ShadowClient(link, ports, { thing: 'robot-1', name: 'v', timeoutMs: 1000 }), ports, {
			codec,
			storageKey: 'v',
			initial: 0,
			onApply: (v) => void applied.push(v),
			backoff: { baseMs: 500, capMs: 500 },
		});
	const stored = () => {
		const raw = readRecord(storage, 'v');
		return raw ? (JSON.parse(utf8Decode(raw)!) as { v: number }).v : undefined;
	};
	return { time, link, storage, log, applied, boot, stored };
}

/** The last request of `op` the robot published, and its clientToken. */
const last = (link: ReturnType<typeof fakeMessenger>, op: string) => [...link.sent].reverse().find((m) => m.topic === P + '/' + op);

describe('shadow sync: a store that refuses writes', () => {
	it('a local edit the store refuses is refused to its caller: nothing applied, the stored value stays', () => {
		const t = setup();
		const sync = t.boot();
		assert.ok(sync.edit(3).ok);
		t.storage.faults.fail = () => 'full';
		assert.deepEqual(sync.edit(4), { ok: false, error: 'storage: full' });
		assert.equal(sync.value, 3);
		assert.deepEqual(t.applied, [0, 3]);
		assert.ok(t.log.events().includes('sync.refused'));
		t.storage.faults.fail = undefined;
		assert.equal(t.stored(), 3);
		assert.ok(sync.edit(4).ok);
		assert.equal(t.stored(), 4);
	});

	it('a desired value the store refuses is not applied nor reported: read again after a backoff, applied once it fits', async () => {
		const t = setup();
		const sync = t.boot();
		t.storage.faults.fail = () => 'full';
		t.link.set('connecting');
		t.link.set('connected');
		const get = last(t.link, 'get')!;
		t.link.deliver(P + '/get/accepted', { state: { desired: { v: 7 } }, version: 1, timestamp: 1, clientToken: get.body.clientToken });
		await settle();
		assert.equal(last(t.link, 'update'), undefined, 'nothing reported');
		assert.deepEqual(t.applied, [0]);
		assert.equal(sync.state.value, 'backoff');
		t.storage.faults.fail = undefined;
		t.time.advance(600);
		const again = last(t.link, 'get')!;
		assert.notEqual(again.seq, get.seq, 'read again');
		t.link.deliver(P + '/get/accepted', { state: { desired: { v: 7 } }, version: 1, timestamp: 1, clientToken: again.body.clientToken });
		await settle();
		assert.deepEqual(t.applied, [0, 7]);
		assert.equal(t.stored(), 7);
		const update = last(t.link, 'update')!;
		assert.equal((update.body.state as { reported: { v: number } }).reported.v, 7);
	});
});
