/*
 * The storage adapter (../storage.ts) inside XS over the fake `preference` (fakes/preference.ts)
 * in both of the SDK's implementations: lin's JSON file (never fails, no limits) and ESP32's
 * NVS (15-character names, erase before set, "nvs set fail" when the partition is full).
 */
import * as assert from '../../../core/testing/assert';
import { createPreferenceStorage, nvsCost } from '../storage';
import Preference from './fakes/preference';
import { preferenceFake } from './fakes/preference';

const bytes = (...v: number[]) => Uint8Array.from(v);
const list = (b: Uint8Array | undefined) => (b ? [...b] : undefined);

describe('moddable storage adapter over Preference', () => {
	beforeEach(() => preferenceFake.reset());

	for (const mode of ['lin', 'esp32'] as const) {
		describe(mode, () => {
			beforeEach(() => preferenceFake.use(mode));

			it('writes, reads, lists and removes byte values under its own domain', () => {
				const s = createPreferenceStorage('robot');
				assert.deepEqual(s.write('a', bytes(1, 2, 3)), { ok: true });
				assert.deepEqual(s.write('b.c', bytes(4)), { ok: true });
				assert.deepEqual(list(s.read('a')), [1, 2, 3]);
				assert.deepEqual(s.keys().sort(), ['a', 'b.c']);
				assert.deepEqual(Preference.keys('other'), []);
				s.remove('a');
				assert.equal(s.read('a'), undefined);
				assert.deepEqual(s.keys(), ['b.c']);
				s.remove('never-there');
			});

			it('stores a copy of exactly the given bytes (a view into a larger buffer, reused after)', () => {
				const s = createPreferenceStorage('robot');
				const backing = bytes(9, 9, 1, 2, 9);
				s.write('k', backing.subarray(2, 4));
				backing.fill(0);
				assert.deepEqual(list(s.read('k')), [1, 2]);
				const r = s.read('k')!;
				r.fill(7);
				assert.deepEqual(list(s.read('k')), [1, 2], 'a read is a copy too');
			});

			it('an empty value reads back empty', () => {
				const s = createPreferenceStorage('robot');
				assert.deepEqual(s.write('empty', new Uint8Array(0)), { ok: true });
				assert.deepEqual(list(s.read('empty')), []);
			});

			it('a value of another type under its domain is not its own: absent', () => {
				Preference.set('robot', 'n', 5);
				Preference.set('robot', 's', 'text');
				const s = createPreferenceStorage('robot');
				assert.equal(s.read('n'), undefined);
				assert.equal(s.read('s'), undefined);
			});

			it('refuses a domain NVS cannot name', () => {
				assert.throws(() => createPreferenceStorage('a-domain-of-16ch'), /"domain" expected 1..15 characters/);
				assert.throws(() => createPreferenceStorage(''), /"domain"/);
			});

			it('answers `full` before calling set when the budget would pass, and keeps the old value', () => {
				const s = createPreferenceStorage('robot', { budget: nvsCost(64) + nvsCost(10) });
				assert.deepEqual(s.write('a', new Uint8Array(64)), { ok: true });
				assert.deepEqual(s.write('b', new Uint8Array(10)), { ok: true });
				const r = s.write('b', new Uint8Array(100));
				assert.equal(r.ok, false);
				assert.equal(!r.ok && r.error, 'full');
				assert.equal(s.read('b')?.length, 10, 'the old value stays');
				// replacing with the same size fits: the old value's room counts as free
				assert.deepEqual(s.write('b', new Uint8Array(10).fill(1)), { ok: true });
				s.remove('a');
				assert.deepEqual(s.write('b', new Uint8Array(100)), { ok: true });
			});

			it('counts what a restart finds in the domain against the budget', () => {
				createPreferenceStorage('robot').write('old', new Uint8Array(200));
				const s = createPreferenceStorage('robot', { budget: nvsCost(200) + nvsCost(8) });
				assert.equal(s.used(), nvsCost(200));
				assert.equal(s.write('new', new Uint8Array(40)).ok, false);
				assert.deepEqual(s.write('new', new Uint8Array(8)), { ok: true });
			});
		});
	}

	describe('esp32 NVS failures', () => {
		beforeEach(() => preferenceFake.use('esp32'));

		it("a set that fails is `failed` with the SDK's message, never a throw; the erased key leaves the account", () => {
			const s = createPreferenceStorage('robot');
			s.write('k', new Uint8Array(100));
			const before = s.used();
			preferenceFake.failNextSet = true;
			const r = s.write('k', new Uint8Array(10));
			assert.deepEqual(r, { ok: false, error: 'failed', message: 'nvs set fail' });
			assert.equal(s.read('k'), undefined, 'NVS erased the old value before the set failed');
			assert.equal(s.used(), before - nvsCost(100));
		});

		it('a partition fuller than the budget knows still answers `failed`, not a throw', () => {
			preferenceFake.use('esp32', 8); // 8 free entries of 32 bytes
			const s = createPreferenceStorage('robot');
			assert.deepEqual(s.write('a', new Uint8Array(64)), { ok: true });
			const r = s.write('b', new Uint8Array(200));
			assert.equal(r.ok, false);
			assert.equal(!r.ok && r.error, 'failed');
			assert.deepEqual(list(s.read('a')), [...new Uint8Array(64)]);
			assert.deepEqual(s.keys(), ['a']);
		});
	});
});
