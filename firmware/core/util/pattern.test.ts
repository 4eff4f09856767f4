import * as assert from '../testing/assert';
import { pattern } from './pattern';

describe('pattern: a RegExp made on first use', () => {
	it('makes its RegExp once, on the first test or exec, and answers as the RegExp does', () => {
		let made = 0;
		const version = pattern(() => (made++, /^(\d+)\.(\d+)$/));
		assert.equal(made, 0, 'nothing made while the module loads');
		assert.equal(version.test('1.2'), true);
		assert.equal(version.test('1.x'), false);
		assert.deepEqual([...(version.exec('10.20') ?? [])], ['10.20', '10', '20']);
		assert.equal(version.exec('1'), null);
		assert.equal(made, 1);
	});

	it('refuses a g or y flag (state between calls) on first use', () => {
		assert.throws(() => pattern(() => /a/g).test('a'), /g or y flag/);
		assert.throws(() => pattern(() => /a/y).exec('a'), /g or y flag/);
	});
});
