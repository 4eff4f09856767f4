/*
 * The XS runner (tools/xs-test.ts) on fixture files: what it must refuse to report green.
 * Each case runs the runner as `npm run test:xs` does, on one fixture, and reads its exit
 * code and report.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function runXs(fixture: string, ci = false): { status: number | null; out: string } {
	const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0' };
	if (ci) env.CI = 'true';
	else delete env.CI;
	const r = spawnSync(process.execPath, ['--import', 'tsx', 'tools/xs-test.ts', 'tools/xs/fixtures/' + fixture], { cwd: ROOT, encoding: 'utf8', env });
	return { status: r.status, out: r.stdout + r.stderr };
}

describe('tools/xs-test.ts refuses what mocha refuses', function () {
	this.timeout(60_000);

	it('a .only fails the file and runs none of its tests (forbid-only)', () => {
		const r = runXs('only.fixture.ts');
		assert.equal(r.status, 1, r.out);
		assert.match(r.out, /\.only is used in this file: the XS runner forbids it/);
		assert.match(r.out, /0 passed, 1 failed/);
	});

	it('an unhandled promise rejection fails the file, with the rejection', () => {
		const r = runXs('unhandled.fixture.ts');
		assert.equal(r.status, 1, r.out);
		assert.match(r.out, /unhandled rejection\)[\s\S]*Unhandled exception Error: nobody catches this/);
		assert.match(r.out, /1 passed, 1 failed/);
	});

	it('skips are pending, their bodies never run, and the report counts them', () => {
		const r = runXs('skip.fixture.ts');
		assert.equal(r.status, 0, r.out);
		assert.match(r.out, /3 pending/);
		assert.match(r.out, /1 passed, 0 failed/);
	});

	it('under CI=true the same skips fail the run', () => {
		const r = runXs('skip.fixture.ts', true);
		assert.equal(r.status, 1, r.out);
		assert.match(r.out, /3 pending: CI=true and nothing may skip in CI/);
	});
});
