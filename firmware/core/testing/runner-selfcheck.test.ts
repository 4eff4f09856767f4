/*
 * Proves the test runners (mocha on Node, tools/xs-test.ts in XS) drive the BDD interface
 * the core's tests use: sync and async tests, hooks in mocha's order, assertions. How the XS
 * runner treats skips, .only and unhandled rejections is checked from outside, on fixture
 * files (tools/xs-test.test.ts): a skip here would show as pending in every run.
 */

import * as assert from './assert';

describe('runner self-check', () => {
	const log: string[] = [];

	before(() => {
		log.push('before');
	});
	beforeEach(() => {
		log.push('beforeEach');
	});
	afterEach(() => {
		log.push('afterEach');
	});

	it('runs a sync test', () => {
		assert.equal(1 + 1, 2);
		assert.deepEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]));
	});

	it('awaits an async test', async () => {
		const value = await Promise.resolve(42);
		assert.equal(value, 42);
	});

	it('supports a done callback', (done) => {
		void Promise.resolve().then(() => done());
	});

	it('sees rejections and throws', async () => {
		await assert.rejects(Promise.reject(new Error('no')), /no/);
		assert.throws(() => assert.equal(1, 2), /expected 2, got 1/);
	});

	describe('nested', () => {
		beforeEach(() => {
			log.push('inner beforeEach');
		});
		it('runs outer hooks before inner ones', () => {
			assert.deepEqual(log.slice(-2), ['beforeEach', 'inner beforeEach']);
		});
	});

	it('ran before once and each hook around each test', () => {
		assert.equal(log.filter((x) => x === 'before').length, 1);
		// as mocha: a suite's own tests run before its child suites, so 4 earlier tests ran
		// plus this one
		assert.equal(log.filter((x) => x === 'beforeEach').length, 5);
		assert.equal(log.filter((x) => x === 'afterEach').length, 4);
	});
});
