/*
 * The device budget's "needed" row, searched on the real runtime instead of written by hand
 * (issue 22): for each XS creation knob (chunk bytes, slot heap, stack slots) the smallest size at
 * which the memory scenarios still pass with heap growth off, the other knobs at the board's
 * sizes from manifest.json. Each try is one device run, `DEVICE_CREATION=<board>,<knob>=<n>`
 * (test/device/creation.ts builds the test app with that creation, incremental 0, so a shortfall
 * aborts with `memory full` as on the board). Run it on the 32-bit build (DEVICE_M32=1): slot and
 * stack counts are the board's only when a slot is 16 bytes.
 *
 *   DEVICE_M32=1 npx tsx tools/budget-search.ts [--board esp32] [--scenarios a,b] [--knobs chunk,heap,stack]
 *
 * The result goes into bench/results.json as section `device.budget` (with its date, load
 * average, git revision, SDK version and build), where tools/readme-figures.ts reads it for
 * README's device budget. A run that fails for another reason than memory stops the search:
 * only `memory full` (or XS's "not enough memory" abort) counts as too small.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export type Knob = 'chunk' | 'heap' | 'stack';
/** What one device run said at a size. */
export type Outcome = 'pass' | 'memory' | { readonly failed: string };

/** Search granularity per knob: a chunk block, a slot page, a stack page. */
export const STEP: Readonly<Record<Knob, number>> = Object.freeze({ chunk: 4096, heap: 256, stack: 64 });

export interface Found {
	readonly knob: Knob;
	/** the smallest size tried that passed */
	readonly needed: number;
	/** the largest size tried that ran out of memory (undefined: none did, down to `floor`) */
	readonly below: number | undefined;
	readonly tries: readonly { readonly size: number; readonly outcome: 'pass' | 'memory' }[];
}

/**
 * Bisection over multiples of `step` between `floor` (exclusive when it fails) and `start`,
 * which must pass. Invariant: `hi` passed, `lo` ran out of memory (or is the floor, untried).
 * Throws when a run fails for another reason, or when `start` itself does not pass.
 */
export async function searchSmallest(knob: Knob, start: number, step: number, floor: number, run: (size: number) => Promise<Outcome>): Promise<Found> {
	if (!(step > 0) || !(start >= floor + step)) throw new RangeError(`"start" expected >= floor + step, got start ${start}, floor ${floor}, step ${step}`);
	const tries: { size: number; outcome: 'pass' | 'memory' }[] = [];
	const attempt = async (size: number): Promise<boolean> => {
		const o = await run(size);
		if (typeof o === 'object') throw new Error(`${knob}=${size}: the run failed for another reason than memory: ${o.failed}`);
		tries.push({ size, outcome: o });
		return o === 'pass';
	};
	if (!(await attempt(start))) throw new Error(`${knob}=${start} (the board's size) does not pass: nothing to search below it`);
	let hi = start;
	let lo = floor;
	let loFailed = false;
	while (hi - lo > step) {
		const mid = lo + Math.floor((hi - lo) / 2 / step) * step;
		const at = mid <= lo ? lo + step : mid;
		if (await attempt(at)) hi = at;
		else {
			lo = at;
			loFailed = true;
		}
	}
	return { knob, needed: hi, below: loFailed ? lo : undefined, tries };
}

/** One device run of `scenarios` at `knob`=`size`: pass, out of memory, or another failure. */
function deviceRun(board: string, scenarios: readonly string[], knob: Knob, size: number): Promise<Outcome> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/device/run.ts'), ...scenarios], {
			cwd: ROOT,
			env: { ...process.env, DEVICE_CREATION: `${board},${knob}=${size}` },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let out = '';
		child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
		child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
		child.on('close', (code) => {
			if (code === 0) return resolve('pass');
			if (/memory full|not enough memory|stack overflow/i.test(out)) return resolve('memory');
			resolve({ failed: `exit ${code}: ` + out.split('\n').filter(Boolean).slice(-5).join(' | ') });
		});
	});
}

function creationOf(board: string): { chunk: number; heap: number; stack: number } {
	const m = JSON.parse(readFileSync(join(ROOT, 'manifest.json'), 'utf8')) as {
		creation: Record<string, unknown>;
		platforms?: Record<string, { creation?: Record<string, unknown> }>;
	};
	const c = { ...m.creation, ...(m.platforms?.[board]?.creation ?? {}) } as { chunk: { initial: number }; heap: { initial: number }; stack: number };
	return { chunk: c.chunk.initial, heap: c.heap.initial, stack: c.stack };
}

function arg(name: string, fallback: string): string {
	const i = process.argv.indexOf('--' + name);
	return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<number> {
	if (!process.env.MODDABLE) {
		process.stderr.write('budget-search: MODDABLE is not set: it searches on the real runtime (install the Moddable SDK, export MODDABLE and PATH)\n');
		return 1;
	}
	const board = arg('board', 'esp32');
	const scenarios = arg('scenarios', 'echo,schedule-offline-edit,mission-report,map-upload,ota,robot-day').split(',').filter(Boolean);
	const knobs = arg('knobs', 'chunk,heap,stack').split(',').filter(Boolean) as Knob[];
	for (const k of knobs) if (!(k in STEP)) throw new Error(`--knobs: "${k}" is not one of chunk, heap, stack`);
	const sizes = creationOf(board);
	const t0 = performance.now();
	const date = new Date().toISOString();
	const loadStart = Math.round(os.loadavg()[0]! * 10) / 10;
	const file = join(ROOT, 'bench/results.json');
	const read = () => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { sections: Record<string, unknown>; meta: Record<string, unknown> }) : { sections: {}, meta: {} });
	// a search of some knobs keeps what an earlier search of the same board and scenarios found for the others
	const earlier = read().sections['device.budget'] as { board?: string; scenarios?: string[]; found?: Found[] } | undefined;
	const same = earlier?.board === board && JSON.stringify(earlier.scenarios) === JSON.stringify(scenarios);
	const found: Found[] = same ? (earlier.found ?? []).filter((f) => !knobs.includes(f.knob)) : [];
	const version = readFileSync(join(process.env.MODDABLE, 'tools/VERSION'), 'utf8').trim();
	/** Written after each knob, so a long search that is stopped keeps what it found. */
	const write = () => {
		const by = (k: Knob) => found.find((f) => f.knob === k);
		const needed = { chunkBytes: by('chunk')?.needed, slots: by('heap')?.needed, stackSlots: by('stack')?.needed };
		const results = read();
		results.sections['device.budget'] = { board, scenarios, needed, found };
		const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
		const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim().length > 0;
		results.meta['device.budget'] = {
			date,
			load: { start: loadStart, end: Math.round(os.loadavg()[0]! * 10) / 10 },
			gitRevision: rev,
			dirty,
			durationS: Math.round((performance.now() - t0) / 100) / 10,
			sdk: { version, build: `lin ${process.env.DEVICE_M32 === '1' ? '32-bit' : '64-bit'} debug, growth off` },
		};
		writeFileSync(file, JSON.stringify(results, null, '\t') + '\n');
		process.stdout.write(JSON.stringify(needed) + '\nwritten to bench/results.json (device.budget); run npx tsx tools/readme-figures.ts\n');
	};
	for (const knob of knobs) {
		process.stderr.write(`budget-search: ${knob} from ${sizes[knob]} down, step ${STEP[knob]}, scenarios ${scenarios.join(' ')}\n`);
		found.push(
			await searchSmallest(knob, sizes[knob], STEP[knob], 0, async (size) => {
				const o = await deviceRun(board, scenarios, knob, size);
				process.stderr.write(`budget-search: ${knob}=${size}: ${typeof o === 'object' ? 'FAILED ' + o.failed : o}\n`);
				return o;
			}),
		);
		write();
	}
	return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = await main();
