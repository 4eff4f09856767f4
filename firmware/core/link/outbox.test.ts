/*
 * The outbox over a storage fake: durable entries survive a "reboot" (a new Outbox on
 * the same storage) with their packet ids; limits refuse, never drop; a corrupt record
 * is logged and removed.
 */
import * as assert from '../testing/assert';
import { bytes, memoryLog, memoryStorage, text } from '../testing/fakes';
import { DEFAULT_OUTBOX, Outbox } from './outbox';

/** Bytes an entry counts: 5 bytes of header, the topic and the payload. */
const cost = (topic: string, payload: Uint8Array): number => 5 + text(topic).length + payload.length;

describe('outbox', () => {
	it('refuses limits it cannot work with', () => {
		const s = memoryStorage();
		assert.throws(() => new Outbox(s, memoryLog(), { maxMessages: 0, maxBytes: 1024 }), /"limits"/);
		assert.throws(() => new Outbox(s, memoryLog(), { maxMessages: 4, maxBytes: 63 }), /"limits"/);
		assert.ok(Object.isFrozen(DEFAULT_OUTBOX));
	});

	it('keeps entries in the order accepted, counting messages and bytes', () => {
		const box = new Outbox(memoryStorage(), memoryLog());
		const a = box.add('a/1', bytes(1), false);
		const b = box.add('a/2', bytes(2, 2), true);
		assert.ok(a.ok && b.ok);
		assert.ok(b.value.seq > a.value.seq);
		assert.deepEqual(
			box.entries().map((e) => e.topic),
			['a/1', 'a/2'],
		);
		assert.equal(box.size, 2);
		assert.equal(box.bytes, cost('a/1', bytes(1)) + cost('a/2', bytes(2, 2)));
		assert.equal(a.value.packetId, 0);
	});

	it('writes only durable entries to storage, before add returns', () => {
		const s = memoryStorage();
		const box = new Outbox(s, memoryLog());
		box.add('volatile', bytes(1), false);
		assert.equal(s.keys().length, 0);
		box.add('durable', bytes(2), true);
		assert.equal(s.keys().length, 1);
		assert.ok(/^[a-z0-9._-]{1,15}$/.test(s.keys()[0]!));
	});

	it('a durable entry survives a reboot with its packet id; a volatile one does not', () => {
		const s = memoryStorage();
		const log = memoryLog();
		const box = new Outbox(s, log);
		const sent = box.add('mission/1', text('{"done":true}'), true);
		const queued = box.add('mission/2', text('{"done":false}'), true);
		box.add('telemetry', bytes(9), false);
		assert.ok(sent.ok && queued.ok);
		box.assign(sent.value, 4242);

		const after = new Outbox(s, log); // reboot
		assert.deepEqual(
			after.entries().map((e) => [e.seq, e.topic, e.payload, e.durable, e.packetId]),
			[
				[sent.value.seq, 'mission/1', text('{"done":true}'), true, 4242],
				[queued.value.seq, 'mission/2', text('{"done":false}'), true, 0],
			],
		);
		assert.equal(after.bytes, cost('mission/1', text('{"done":true}')) + cost('mission/2', text('{"done":false}')));
		assert.ok(log.events().includes('outbox.loaded'));
		// new entries continue after the loaded ones, so keys never collide
		const next = after.add('mission/3', bytes(), true);
		assert.ok(next.ok && next.value.seq > queued.value.seq);
		assert.equal(s.keys().length, 3);
	});

	it('acknowledge removes the entry sent with that id, from memory and storage', () => {
		const s = memoryStorage();
		const box = new Outbox(s, memoryLog());
		const a = box.add('a', bytes(1), true);
		const b = box.add('b', bytes(2), true);
		assert.ok(a.ok && b.ok);
		box.assign(a.value, 1);
		box.assign(b.value, 2);
		const before = box.bytes;
		const got = box.acknowledge(2);
		assert.equal(got?.topic, 'b');
		assert.deepEqual(
			box.entries().map((e) => e.topic),
			['a'],
		);
		assert.equal(box.bytes, before - cost('b', bytes(2)));
		assert.equal(s.keys().length, 1);
		assert.equal(new Outbox(s, memoryLog()).size, 1);
		// a duplicate PUBACK, or one for an id never sent, changes nothing
		assert.equal(box.acknowledge(2), undefined);
		assert.equal(box.acknowledge(77), undefined);
		assert.equal(box.size, 1);
	});

	it('an entry not yet sent (id 0) is never matched by acknowledge', () => {
		const box = new Outbox(memoryStorage(), memoryLog());
		box.add('a', bytes(), false);
		assert.equal(box.acknowledge(0), undefined);
		assert.equal(box.size, 1);
	});

	describe('limits: refuse the new message, keep the queued ones', () => {
		it('full by count', () => {
			const s = memoryStorage();
			const box = new Outbox(s, memoryLog(), { maxMessages: 2, maxBytes: 1024 });
			assert.ok(box.add('a', bytes(), true).ok);
			assert.ok(box.add('b', bytes(), true).ok);
			const r = box.add('c', bytes(), true);
			assert.deepEqual(r, { ok: false, error: { code: 'full', messages: 2, bytes: 2 * cost('a', bytes()) } });
			assert.deepEqual(
				box.entries().map((e) => e.topic),
				['a', 'b'],
			);
			assert.equal(s.keys().length, 2);
		});

		it('full by bytes, and room again after an acknowledge', () => {
			const box = new Outbox(memoryStorage(), memoryLog(), { maxMessages: 10, maxBytes: 100 });
			const a = box.add('a', new Uint8Array(60), false); // 66 bytes
			assert.ok(a.ok);
			const r = box.add('b', new Uint8Array(40), false); // 46 more: over 100
			assert.ok(!r.ok && r.error.code === 'full');
			assert.equal(box.size, 1);
			box.assign(a.value, 5);
			box.acknowledge(5);
			assert.ok(box.add('b', new Uint8Array(40), false).ok);
		});

		it('exactly at the byte limit fits', () => {
			const box = new Outbox(memoryStorage(), memoryLog(), { maxMessages: 10, maxBytes: 100 });
			assert.ok(box.add('a', new Uint8Array(100 - cost('a', bytes())), false).ok);
			assert.equal(box.bytes, 100);
		});

		it('a message larger than the whole outbox is too-large, even when empty', () => {
			const s = memoryStorage();
			const box = new Outbox(s, memoryLog(), { maxMessages: 10, maxBytes: 100 });
			const r = box.add('a', new Uint8Array(95), true);
			assert.deepEqual(r, { ok: false, error: { code: 'too-large', bytes: 101, limit: 100 } });
			assert.equal(box.size, 0);
			assert.equal(s.keys().length, 0);
		});
	});

	describe('corrupt records are logged and removed', () => {
		const ROWS: readonly (readonly [string, string, Uint8Array])[] = [
			['too short', 'ob.x1', bytes(1, 0, 0)],
			['unknown version', 'ob.x2', bytes(9, 0, 0, 0, 1, 0x61)],
			['topic length past the end', 'ob.x3', bytes(1, 0, 0, 0, 9, 0x61)],
			['empty topic', 'ob.x4', bytes(1, 0, 0, 0, 0)],
			['topic not UTF-8', 'ob.x5', bytes(1, 0, 0, 0, 1, 0xff)],
			['key is not a sequence number', 'ob.-', bytes(1, 0, 0, 0, 1, 0x61)],
		];
		for (const [why, key, value] of ROWS) {
			it(why, () => {
				const s = memoryStorage();
				const good = new Outbox(s, memoryLog()).add('ok', bytes(1), true);
				assert.ok(good.ok);
				s.write(key, value);
				s.write('other.key', bytes(1)); // not ours: left alone
				const log = memoryLog();
				const box = new Outbox(s, log);
				assert.deepEqual(
					box.entries().map((e) => e.topic),
					['ok'],
				);
				const line = log.lines.find((l) => l.event === 'outbox.corrupt');
				assert.ok(line, JSON.stringify(log.lines));
				assert.equal(line.level, 'error');
				assert.equal(line.fields.key, key);
				assert.equal(s.read(key), undefined);
				assert.ok(s.read('other.key'));
			});
		}
	});

	describe('storage faults: a refused write never costs a queued message', () => {
		const fill = (s: ReturnType<typeof memoryStorage>, n: number): Outbox => {
			const box = new Outbox(s, memoryLog());
			for (let i = 0; i < n; i++) assert.ok(box.add('t/' + i, bytes(i), true).ok);
			return box;
		};

		it('store full on add: `full` (storage), nothing queued, everything before still loads', () => {
			const s = memoryStorage();
			const box = fill(s, 3);
			s.faults.budget = s.used();
			const log = memoryLog();
			const refused = new Outbox(s, log);
			const r = refused.add('t/x', bytes(9, 9, 9), true);
			assert.deepEqual(r, { ok: false, error: { code: 'full', messages: 3, bytes: box.bytes, storage: true } });
			assert.equal(refused.size, 3);
			const line = log.lines.find((l) => l.event === 'outbox.storage_refused');
			assert.ok(line, JSON.stringify(log.lines));
			assert.equal(line.fields.result, 'full');
			// a QoS 1 message that need not survive a reboot does not touch the store
			assert.ok(refused.add('t/y', bytes(1), false).ok);
			assert.deepEqual(
				new Outbox(s, memoryLog()).entries().map((e) => e.topic),
				['t/0', 't/1', 't/2'],
			);
		});

		it('store failing on add: `storage-failed` with its message; the next add takes the same seq', () => {
			const s = memoryStorage();
			const box = fill(s, 1);
			s.faults.fail = () => 'failed';
			const r = box.add('t/x', bytes(1), true);
			assert.deepEqual(r, { ok: false, error: { code: 'storage-failed', message: 'injected fault' } });
			s.faults.fail = undefined;
			const again = box.add('t/x', bytes(1), true);
			assert.ok(again.ok);
			assert.equal(again.value.seq, 2);
		});

		it('a packet id the store refuses: the entry stays on storage unsent-looking and loads', () => {
			const s = memoryStorage();
			const box = fill(s, 2);
			s.faults.fail = () => 'full';
			const log = memoryLog();
			const reloaded = new Outbox(s, log);
			reloaded.assign(reloaded.entries()[0]!, 7);
			assert.ok(log.events().includes('outbox.id_unsaved'));
			assert.equal(reloaded.entries()[0]!.packetId, 7, 'this life still knows the id');
			s.faults.fail = undefined;
			const after = new Outbox(s, memoryLog());
			assert.deepEqual(
				after.entries().map((e) => [e.topic, e.packetId]),
				[
					['t/0', 0],
					['t/1', 0],
				],
			);
			assert.equal(box.size, 2);
		});

		it('assign is two-phase: op. written, then ob. dropped; both present (power lost between) loads once with the id', () => {
			const s = memoryStorage();
			const box = fill(s, 1);
			const e = box.entries()[0]!;
			const before = s.read('ob.' + e.seq.toString(36))!;
			box.assign(e, 5);
			assert.deepEqual(s.keys().sort(), ['op.1']);
			s.write('ob.1', before); // as if power was lost before ob.1 was dropped
			const after = new Outbox(s, memoryLog());
			assert.deepEqual(
				after.entries().map((x) => [x.seq, x.packetId]),
				[[1, 5]],
			);
			assert.deepEqual(s.keys().sort(), ['op.1']);
			assert.ok(after.acknowledge(5));
			assert.deepEqual(s.keys(), []);
		});

		// every write of a run, refused in turn: what was accepted is on storage afterwards
		for (const result of ['full', 'failed'] as const) {
			it(`each write refused in turn (${result}): every accepted message loads after a reboot`, () => {
				for (let n = 1; n <= 10; n++) {
					const s = memoryStorage({ fail: (_k, i) => (i === n ? result : undefined) });
					const box = new Outbox(s, memoryLog());
					const accepted: string[] = [];
					for (let i = 0; i < 4; i++) if (box.add('t/' + i, bytes(i), true).ok) accepted.push('t/' + i);
					for (const [i, e] of box.entries().entries()) box.assign(e, i + 1);
					const acked = box.acknowledge(1);
					const loaded = new Outbox(s, memoryLog()).entries().map((e) => e.topic);
					assert.deepEqual(
						loaded,
						accepted.filter((t) => t !== acked?.topic),
						'fault at write ' + n,
					);
					assert.ok(accepted.length >= 3, 'one refusal refuses one message');
				}
			});
		}
	});
});
