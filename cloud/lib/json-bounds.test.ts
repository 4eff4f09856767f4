import assert from 'node:assert/strict';
import { checkJsonBounds } from './json-bounds';
import { copyJson } from '../local/rules/index';

describe('JSON bounds, checked without recursion', () => {
	const deep = JSON.parse('['.repeat(60_000) + ']'.repeat(60_000)) as unknown;

	it('refuses nesting past the limit without overflowing the stack, and a value past the size', () => {
		assert.deepEqual(checkJsonBounds(deep, { maxDepth: 8, maxBytes: 1e6 }), { ok: false, reason: 'depth', message: 'nested deeper than 8 levels' });
		assert.deepEqual(checkJsonBounds({ a: 'x'.repeat(100) }, { maxDepth: 8, maxBytes: 50 }), { ok: false, reason: 'size', message: 'over 50 bytes' });
	});

	it("takes what fits, and its byte count is never below JSON.stringify's", () => {
		const v = { a: [1, 'two', { b: null, c: true }], d: 'é' };
		const n = new TextEncoder().encode(JSON.stringify(v)).length;
		assert.deepEqual(checkJsonBounds(v, { maxDepth: 3, maxBytes: 2 * n }), { ok: true });
		assert.equal(checkJsonBounds(v, { maxDepth: 3, maxBytes: n - 1 }).ok, false, 'an upper bound');
		assert.equal(checkJsonBounds(v, { maxDepth: 2, maxBytes: 1000 }).ok, false);
	});

	it('copies a JSON value as Lambda would hand it over, at any depth', () => {
		const v = { a: [1, { b: 'c' }], d: null };
		const c = copyJson(v);
		assert.deepEqual(c, v);
		assert.notEqual(c, v);
		assert.equal(checkJsonBounds(copyJson(deep), { maxDepth: 70_000, maxBytes: 1e6 }).ok, true);
	});
});
