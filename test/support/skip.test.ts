/* The skip policy itself: a missing install fails under CI=true with its command, else skips loudly. */
import assert from 'node:assert/strict';
import { cannotRun, skipLine } from './skip';

describe('test/support/skip: no silent skip', () => {
	const saved = process.env.CI;
	afterEach(() => {
		if (saved === undefined) delete process.env.CI;
		else process.env.CI = saved;
	});
	const missing = { untested: 'the thing', why: 'libthing.so not found', install: 'sudo apt-get install -y thing' };

	it('under CI=true a missing install is an error naming the install command, and nothing is skipped', () => {
		process.env.CI = 'true';
		let skipped = false;
		assert.throws(() => cannotRun({ skip: () => void (skipped = true) }, missing), /CI=true and the thing cannot run: libthing\.so not found\. Install it: sudo apt-get install -y thing/);
		assert.equal(skipped, false);
	});

	it('outside CI it skips, with one loud line naming what was not tested', () => {
		delete process.env.CI;
		const lines: string[] = [];
		const write = process.stderr.write;
		process.stderr.write = ((s: string) => (lines.push(s), true)) as typeof process.stderr.write;
		try {
			assert.throws(
				() =>
					cannotRun(
						{
							skip: () => {
								throw new Error('skipped');
							},
						},
						missing,
					),
				/^Error: skipped$/,
			);
		} finally {
			process.stderr.write = write;
		}
		assert.deepEqual(lines, [skipLine(missing) + '\n']);
		assert.match(lines[0]!, /^\*\*\* SKIPPED, NOT TESTED: the thing \(libthing\.so not found\); install: sudo apt-get install -y thing/);
	});

	it('a configuration skip (no install command) skips under CI too', () => {
		process.env.CI = 'true';
		const write = process.stderr.write;
		process.stderr.write = (() => true) as typeof process.stderr.write;
		try {
			assert.throws(
				() =>
					cannotRun(
						{
							skip: () => {
								throw new Error('skipped');
							},
						},
						{ untested: 'x', why: 'HIL_CLOUD=aws' },
					),
				/^Error: skipped$/,
			);
		} finally {
			process.stderr.write = write;
		}
	});
});
