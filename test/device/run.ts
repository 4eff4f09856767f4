// Device suite (issue #13: every capability adds a scenario) on the real Moddable runtime
// (`lin` under mcsim, through the project's own runner test/device/headless.ts) against the
// whole local cloud, in memory. Every scenario runs the shipped entry, firmware/main.ts, as
// the test build test/device/manifest.json makes it (the product's manifest plus test control
// and the scenario's test configuration): scenarios/<name>.ts holds each one's host half,
// suite.ts what they share; this file only orchestrates.
//
//   npx tsx test/device/run.ts [scenario ...]     (DEVICE_TRACE=1: print every line the app traces)
//
// One build (build/device/out) serves every scenario: the test configuration is the mcconfig
// define test={...}, so between power-ons only mc/config is rebuilt. Credentials and the
// endpoint record are written by the provisioning code (tools/provision/board.ts) into the
// app's Preference file before each power-on, as data, never resources of the image.
// DEVICE_WORK_DIR and DEVICE_BROKER_PORT: a second suite beside the first.
//
// Output: one line per scenario, `device-metric {...}` JSON lines, then `N passed, N failed`.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The SDK is the user's toolchain (MODDABLE). `npm run test:device` without one fails with the
// install pointer; `npm test` passes --if-sdk, and then says loudly that the firmware did not run.
{
	const { sdkProblem, INSTALL_POINTER } = await import('./headless');
	const problem = sdkProblem();
	if (problem) {
		if (process.argv.includes('--if-sdk')) {
			console.log(`\n*** DEVICE SUITE NOT RUN: ${problem}: the firmware was NOT tested on the real Moddable runtime on this machine ***\n*** to run it: ${INSTALL_POINTER} ***\n`);
			process.exit(0);
		}
		console.log(`device suite cannot run: ${problem}: ${INSTALL_POINTER}`);
		process.exit(1);
	}
}

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const work = resolve(root, process.env.DEVICE_WORK_DIR ?? 'build/device');
const PORT = Number(process.env.DEVICE_BROKER_PORT ?? 28883);
/** The test build's self-test deadline for a new firmware image (60 s in production): a healthy boot passes in under 1 s. */
const SELF_TEST_MS = 8_000;

async function main(): Promise<number> {
	const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
	const { SCENARIOS } = await import('./scenarios/index');
	const { Suite, metric } = await import('./suite');
	const unknown = only.filter((n) => n !== 'build' && !SCENARIOS.some((s) => s.name === n));
	if (unknown.length) {
		console.log(`unknown scenario(s) ${unknown.join(', ')}; known: build, ${SCENARIOS.map((s) => s.name).join(', ')}`);
		return 2;
	}
	let passed = 0;
	let failed = 0;
	let skipped = 0;
	// the production image (manifest.json at the root) must build with mcconfig for lin
	if (!only.length || only.includes('build')) {
		const t0 = Date.now();
		const b = spawnSync(resolve(root, 'node_modules/.bin/tsx'), [join(here, 'headless.ts'), '--build-only', '--out', join(work, 'prod'), root], {
			encoding: 'utf8',
			env: process.env,
		});
		const ms = Date.now() - t0;
		if (b.status === 0) passed++;
		else failed++;
		console.log(`device build (production manifest.json, lin): ${b.status === 0 ? 'PASS' : `FAIL: headless exit ${b.status}`} (${ms} ms)`);
		if (b.status !== 0) for (const l of (b.stdout + b.stderr).split('\n').slice(-30)) console.log('  | ' + l);
	}
	const suite = await Suite.start({ root, work, port: PORT, echo: process.env.DEVICE_TRACE === '1', selfTestMs: SELF_TEST_MS });
	try {
		for (const scenario of SCENARIOS) {
			if (only.length && !only.includes(scenario.name)) continue;
			const first = suite.runs.length;
			const t0 = Date.now();
			let outcome: string | undefined | { readonly skip: string };
			try {
				outcome = await scenario.run(suite);
			} catch (e) {
				outcome = String((e as Error)?.message ?? e);
			}
			await suite.offAll();
			const runs = suite.runs.slice(first);
			const timings = runs.map((r) => `${r.label}: build ${r.result.buildMs ?? '?'} ms, run ${r.result.runMs ?? '?'} ms`).join('; ');
			for (const r of runs) {
				metric({ name: 'device.scenario', scenario: scenario.name, run: r.label, buildMs: r.result.buildMs, runMs: r.result.runMs });
				const peaks = peakInstruments(r.lines);
				if (peaks)
					metric({
						name: 'device.memory',
						scenario: scenario.name,
						run: r.label,
						bits: process.env.DEVICE_M32 === '1' ? 32 : 64,
						creation: process.env.DEVICE_CREATION ? `${process.env.DEVICE_CREATION} growth off` : 'lin',
						...peaks,
					});
				// a build or environment failure, or the app's own abort, fails the scenario whatever its checks said
				if (r.result.code === 2 || r.lines.some((l) => l.includes('XS abort'))) outcome ??= `${r.label}: ${r.lines.filter((l) => /run-headless: build failed|XS abort/.test(l))[0] ?? 'headless exit ' + r.result.code}`;
			}
			if (typeof outcome === 'object') {
				if (process.env.CI === 'true') outcome = `cannot run here (${outcome.skip}), and nothing skips under CI=true`;
				else {
					skipped++;
					console.log(`device ${scenario.name}: SKIPPED: ${outcome.skip}`);
					continue;
				}
			}
			if (outcome) failed++;
			else passed++;
			console.log(`device ${scenario.name}: ${outcome ? 'FAIL: ' + outcome : 'PASS'} (${Date.now() - t0} ms; ${timings})`);
			if (outcome && process.env.DEVICE_TRACE !== '1') for (const l of runs.flatMap((r) => r.lines.filter((x) => !x.startsWith('instruments')).slice(-25))) console.log('  | ' + l);
		}
	} finally {
		await suite.close();
	}
	console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
	return failed ? 1 : 0;
}

/**
 * Peak values of the `instruments:` lines that debug builds print once a second: first
 * `instruments key: Pixels drawn,...,Chunk used,Chunk available,Slot used,...`, then
 * `instruments: 0,0,...` (values in key order; chunk and slot figures in bytes).
 */
function peakInstruments(lines: readonly string[]): Record<string, number> | undefined {
	const keyLine = lines.find((l) => l.startsWith('instruments key:'));
	if (!keyLine) return undefined;
	const keys = keyLine
		.slice('instruments key:'.length)
		.split(',')
		.map((k) =>
			k
				.trim()
				.replace(/\s+(\w)/g, (_, c: string) => c.toUpperCase())
				.replace(/^\w/, (c) => c.toLowerCase()),
		);
	const peaks: Record<string, number> = {};
	let samples = 0;
	for (const l of lines) {
		if (!l.startsWith('instruments:')) continue;
		samples++;
		l.slice('instruments:'.length)
			.split(',')
			.forEach((v, i) => {
				const k = keys[i];
				if (k) peaks[k] = Math.max(peaks[k] ?? 0, Number(v));
			});
	}
	if (!samples) return undefined;
	const pick = ['chunkUsed', 'chunkAvailable', 'slotUsed', 'slotAvailable', 'stackUsed', 'stackAvailable', 'keysUsed', 'modulesLoaded', 'garbageCollections', 'networkBytesRead', 'networkBytesWritten'];
	return Object.fromEntries([['samples', samples], ...pick.filter((k) => k in peaks).map((k) => [k + 'Peak', peaks[k]!])]);
}

process.exitCode = await main();
