/* The budget search's bisection, on a fake device run with a known threshold. */
import assert from 'node:assert/strict';
import { searchSmallest, type Outcome } from './budget-search';

describe('tools/budget-search: smallest creation size that passes', () => {
	const device =
		(needs: number, calls: number[]) =>
		async (size: number): Promise<Outcome> => {
			calls.push(size);
			return size >= needs ? 'pass' : 'memory';
		};

	it('finds the smallest passing multiple of the step, with the size below it that ran out', async () => {
		const calls: number[] = [];
		const f = await searchSmallest('chunk', 122_880, 4096, 0, device(98_000, calls));
		assert.equal(f.needed, 98_304); // 24 blocks of 4 KB: the first multiple at or above 98,000
		assert.equal(f.below, 94_208);
		assert.equal(calls[0], 122_880, 'the board size first');
		assert.ok(calls.length <= 7, 'bisection, not a walk: ' + calls.length + ' runs');
		assert.deepEqual(
			f.tries.map((t) => t.size),
			calls,
		);
	});

	it('a board size that does not pass, and a run that fails for another reason, stop the search', async () => {
		await assert.rejects(searchSmallest('heap', 4608, 256, 0, device(5000, [])), /does not pass/);
		await assert.rejects(
			searchSmallest('stack', 1024, 64, 0, async (n) => (n < 700 ? { failed: 'exit 1: TLS handshake' } : 'pass')),
			/another reason than memory: exit 1: TLS handshake/,
		);
	});

	it('when everything down to the floor passes, nothing below is named', async () => {
		const f = await searchSmallest('stack', 512, 64, 0, device(0, []));
		assert.equal(f.needed, 64);
		assert.equal(f.below, undefined);
	});
});
