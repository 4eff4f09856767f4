// A test of the memory test (issue #20): the device scenarios measure the firmware within the
// ESP32's creation sizes only if a size below what they need makes them fail. This runs one
// scenario on the 32-bit build with growth off (test/device/run.ts with DEVICE_M32=1 and
// DEVICE_CREATION) at manifest.json's esp32 sizes, where it must pass, then once per lowered
// size, where it must fail with XS's own verdict (`memory full` or `stack overflow`), not with
// anything else.
//
//   npx tsx test/device/memory-floor.ts [SCENARIO] [knob=N ...]
//     default: ota chunk=49152 heap=3072 stack=384 (below the needs measured: docs/flashing.md;
//     the stock stack of 512 is the limit itself, and the TLS handshake alone takes 442 slots)
//
// DEVICE_WORK_DIR and DEVICE_BROKER_PORT pass through (use private ones beside another suite).
// Exit 0 when every run ended as expected; one line per run.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

/** What a run's output says: passed, failed short of memory (which), or failed otherwise. */
export function verdict(output: string): { kind: 'pass' } | { kind: 'short'; what: string } | { kind: 'other'; what: string } {
	const abort = /XS abort: (memory full|JavaScript stack overflow|stack overflow)/.exec(output);
	if (abort) return { kind: 'short', what: abort[1]! };
	if (/^0 failed|, 0 failed/m.test(output) && /[1-9]\d* passed/.test(output)) return { kind: 'pass' };
	const fail = /^device \S+: FAIL: (.*)$/m.exec(output);
	return { kind: 'other', what: fail?.[1]?.slice(0, 300) ?? output.trim().split('\n').slice(-3).join(' | ') };
}

function run(scenario: string, creation: string): string {
	const r = spawnSync(resolve(root, 'node_modules/.bin/tsx'), [join(here, 'run.ts'), scenario], {
		encoding: 'utf8',
		env: { ...process.env, DEVICE_M32: '1', DEVICE_CREATION: creation, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
		maxBuffer: 256 << 20,
	});
	return r.stdout + r.stderr;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const args = process.argv.slice(2);
	const scenario = args.find((a) => !a.includes('=')) ?? 'ota';
	const knobs = args.filter((a) => a.includes('='));
	const lowered = knobs.length ? knobs : ['chunk=49152', 'heap=3072', 'stack=384'];
	let bad = 0;
	const at = verdict(run(scenario, 'esp32'));
	console.log(`memory-floor: ${scenario} at the esp32 sizes: ${at.kind === 'pass' ? 'PASS (as it must)' : `FAIL: ${at.kind === 'short' ? at.what : at.what}`}`);
	if (at.kind !== 'pass') bad++;
	for (const k of lowered) {
		const v = verdict(run(scenario, `esp32,${k}`));
		const ok = v.kind === 'short';
		if (!ok) bad++;
		console.log(
			`memory-floor: ${scenario} with ${k}: ${v.kind === 'short' ? `failed with "${v.what}" (as it must)` : v.kind === 'pass' ? 'PASSED: this size is not below what the scenario needs, or the scenario does not measure memory' : `failed for another reason: ${v.what}`}`,
		);
	}
	console.log(bad ? `memory-floor: ${bad} run(s) not as expected` : 'memory-floor: the scenario fails below its needs and passes at the esp32 sizes');
	process.exitCode = bad ? 1 : 0;
}
