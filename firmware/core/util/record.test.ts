import * as assert from '../testing/assert';
import { memoryStorage, text } from '../testing/fakes';
import { isScratchKey, readRecord, removeRecord, writeRecord } from './record';
import { utf8Decode } from './utf8';

const read = (s: ReturnType<typeof memoryStorage>, key = 'rec'): string | undefined => {
	const v = readRecord(s, key);
	return v ? utf8Decode(v) : undefined;
};

describe('two-phase records', () => {
	it('writes, reads back, and leaves only the main key', () => {
		const s = memoryStorage();
		assert.deepEqual(writeRecord(s, 'rec', text('one')), { ok: true });
		assert.deepEqual(writeRecord(s, 'rec', text('two')), { ok: true });
		assert.equal(read(s), 'two');
		assert.deepEqual(s.keys(), ['rec']);
	});

	// the store erases a refused key's old value (as Preference.set on ESP32): a failure at any
	// one of a write's steps leaves the old value or the new one, never neither
	for (const result of ['full', 'failed'] as const) {
		for (let n = 1; n <= 2; n++) {
			it(`write step ${n} refused (${result}): old or new, never neither; the next write completes`, () => {
				const s = memoryStorage();
				writeRecord(s, 'rec', text('old'));
				const base = s.writes;
				s.faults.fail = (_key, i) => (i === base + n ? result : undefined);
				const w = writeRecord(s, 'rec', text('new'));
				const now = read(s);
				if (w.ok) assert.equal(now, 'new');
				else {
					assert.equal(w.error, result);
					assert.equal(now, 'old');
				}
				s.faults.fail = undefined;
				assert.deepEqual(writeRecord(s, 'rec', text('newer')), { ok: true });
				assert.equal(read(s), 'newer');
				assert.deepEqual(s.keys(), ['rec']);
			});
		}
	}

	it('a leftover scratch copy (power lost mid-write) is the record, and is settled first', () => {
		const s = memoryStorage();
		writeRecord(s, 'rec', text('old'));
		s.write('rec.new', text('newer'));
		assert.equal(read(s), 'newer');
		// the settle refused: the scratch copy must survive, and the write is refused
		s.faults.fail = (key) => (key === 'rec' ? 'full' : undefined);
		const w = writeRecord(s, 'rec', text('newest'));
		assert.equal(w.ok, false);
		assert.equal(read(s), 'newer');
		s.faults.fail = undefined;
		assert.ok(writeRecord(s, 'rec', text('newest')).ok);
		assert.equal(read(s), 'newest');
		assert.deepEqual(s.keys(), ['rec']);
	});

	it('a store without room for the second copy refuses and keeps the old value', () => {
		const s = memoryStorage({ budget: 10 });
		assert.ok(writeRecord(s, 'rec', text('12345')).ok);
		const w = writeRecord(s, 'rec', text('123456'));
		assert.deepEqual(w.ok ? 'ok' : w.error, 'full');
		assert.equal(read(s), '12345');
	});

	it('remove drops both keys; scratch keys are recognised; long keys are refused', () => {
		const s = memoryStorage();
		writeRecord(s, 'rec', text('x'));
		s.write('rec.new', text('y'));
		removeRecord(s, 'rec');
		assert.deepEqual(s.keys(), []);
		assert.ok(isScratchKey('rec.new'));
		assert.ok(!isScratchKey('mr.new1'));
		assert.throws(() => writeRecord(s, 'abcdefghijkl', text('x')), /at most 11/);
	});
});
