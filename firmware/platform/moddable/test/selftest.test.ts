/*
 * The platform's known-answer self-test (../selftest.ts) inside XS over the crypto fakes: every
 * check passes over SDK behaviour as the fakes model it, so a change to the adapters or to the
 * self-test that breaks a check fails here, not only on the device.
 */
import * as assert from '../../../core/testing/assert';
import { runSelfTest } from '../testcmd/selftest';

describe('moddable self-test over the SDK crypto fakes', () => {
	it('passes every check and reports its timings', () => {
		const r = runSelfTest();
		assert.deepEqual(r.failed, []);
		assert.ok(r.passed >= 12, 'checks run: ' + r.passed);
		for (const k of ['keyParseMs', 'oaepUnwrapMs', 'signMs', 'gcmKBps']) assert.equal(typeof r.timings[k], 'number', k);
	});
});
