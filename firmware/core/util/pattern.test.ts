import * as assert from '../testing/assert';
import { pattern } from './pattern';

describe('pattern: a RegExp made when used', () => {
	it('makes its RegExp at each test or exec, never before, and answers as the RegExp does', () => {
		let made = 0;
		const version = pattern(() => (made++, /^(\d+)\.(\d+)$/));
		assert.equal(made, 0, 'nothing made while the module loads');
		assert.equal(version.test('1.2'), true);
		assert.equal(version.test('1.x'), false);
		assert.deepEqual([...(version.exec('10.20') ?? [])], ['10.20', '10', '20']);
		assert.equal(version.exec('1'), null);
		assert.equal(made, 4);
	});

	it('refuses a g or y flag (state between calls)', () => {
		assert.throws(() => pattern(() => /a/g).test('a'), /g or y flag/);
		assert.throws(() => pattern(() => /a/y).exec('a'), /g or y flag/);
	});
});
