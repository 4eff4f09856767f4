/*
 * Run the core's mocha-style tests inside the XS engine (xsnap-worker), as the robot will.
 *
 *   npx tsx tools/xs-test.ts [globs...]      default: firmware/core/**\/*.test.ts,
 *                                            firmware/platform/portable/**\/*.test.ts and
 *                                            firmware/platform/moddable/test/**\/*.test.ts
 *
 * Each test file is bundled by esbuild together with tools/xs/bdd.ts (the describe/it
 * globals) into one ES2022 script and evaluated in its own fresh worker. Results come back
 * as JSON issueCommand messages; this prints a mocha-like spec report ending in the line
 * `N passed, N failed`, and exits 1 on a failure, a bundling error, a `.only` (forbidden, as
 * with mocha's forbid-only), an unhandled promise rejection, a skip under CI=true, or when no
 * test ran.
 *
 * Environment: XS_TEST_TIMEOUT_MS (default 20000) is the wall-clock budget of one crank,
 * i.e. of loading a file or of running it up to a test that hangs; over it the worker is
 * killed and the test in progress fails.
 */

import { readdir } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';
import { SourceMap } from 'node:module';
import { availableParallelism } from 'node:os';
import * as esbuild from 'esbuild';
import { ROOT, XS_BUILD_OPTIONS, startXsWorker, type XsWorker } from './xs/run';
import { moddableFakes } from './xs/moddable-fakes';
import type { XsTestEvent } from './xs/bdd';

// the core, the portable (pure TS) ports, and the Moddable adapters against fakes of the SDK
// modules they call (tools/xs/moddable-fakes.ts)
const DEFAULT_GLOBS = ['firmware/core/**/*.test.ts', 'firmware/platform/portable/**/*.test.ts', 'firmware/platform/moddable/test/**/*.test.ts'];
const TIMEOUT_MS = Number(process.env.XS_TEST_TIMEOUT_MS ?? 20000);
const SHIM = resolve(ROOT, 'tools/xs/bdd.ts');

const color = process.stdout.isTTY
	? {
			green: (s: string) => '\x1b[32m' + s + '\x1b[0m',
			red: (s: string) => '\x1b[31m' + s + '\x1b[0m',
			cyan: (s: string) => '\x1b[36m' + s + '\x1b[0m',
			dim: (s: string) => '\x1b[90m' + s + '\x1b[0m',
		}
	: { green: (s: string) => s, red: (s: string) => s, cyan: (s: string) => s, dim: (s: string) => s };

interface Failure {
	file: string;
	fullTitle: string;
	message: string;
	stack: string;
}

interface FileResult {
	lines: string[];
	passed: number;
	failed: number;
	pending: number;
	failures: Failure[];
}

/** `**` spans directories, `*` and `?` stay inside one (Node 20 has no fs.glob). */
function globToRegExp(pattern: string): RegExp {
	let re = '';
	for (let i = 0; i < pattern.length; i++) {
		const c = pattern[i] as string;
		if (c === '*' && pattern[i + 1] === '*') {
			const slash = pattern[i + 2] === '/';
			re += slash ? '(?:.*/)?' : '.*';
			i += slash ? 2 : 1;
		} else if (c === '*') re += '[^/]*';
		else if (c === '?') re += '[^/]';
		else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
	}
	return new RegExp('^' + re + '$');
}

async function findFiles(patterns: string[]): Promise<string[]> {
	const all = (await readdir(ROOT, { recursive: true })).map((f) => f.split(sep).join('/')).filter((f) => !f.startsWith('node_modules/') && !f.includes('/node_modules/') && !f.startsWith('.git/'));
	const files = new Set<string>();
	for (const p of patterns) {
		const re = globToRegExp(relative(ROOT, resolve(p)).split(sep).join('/'));
		for (const f of all) if (re.test(f)) files.add(resolve(ROOT, f));
	}
	return [...files].sort();
}

/** One script: the BDD shim, then the test file, with a source map to read XS stacks by. */
async function bundle(file: string): Promise<{ code: string; map: SourceMap }> {
	const result = await esbuild.build({
		stdin: {
			contents: 'import ' + JSON.stringify(SHIM) + ';\nimport ' + JSON.stringify(file) + ';\n',
			resolveDir: ROOT,
			sourcefile: 'xs-test-entry.js',
			loader: 'js',
		},
		...XS_BUILD_OPTIONS,
		plugins: [moddableFakes(), ...(XS_BUILD_OPTIONS.plugins ?? [])],
		write: false,
		outfile: 'xs-test-bundle.js',
		sourcemap: 'external',
	});
	const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
	const map = result.outputFiles.find((f) => f.path.endsWith('.map'));
	if (!js || !map) throw new Error('esbuild produced no output');
	return { code: js.text, map: new SourceMap(JSON.parse(map.text)) };
}

/**
 * XS stacks read `Name: message` then ` at fn (#0:LINE)` per frame, the line counted in the
 * evaluated bundle: point frames at the TS source, and drop the runner's own frames and
 * those without a location (native calls, promise jobs).
 */
function mapStack(stack: string, message: string, map: SourceMap): string {
	const frames = stack.startsWith(message) ? stack.slice(message.length) : stack;
	return frames
		.split('\n')
		.map((line) =>
			line.replace(/\((?:#\d+)?:(\d+)\)/, (whole, n: string) => {
				const entry = map.findEntry(Number(n) - 1, 0) as { originalSource?: string; originalLine?: number };
				if (!entry.originalSource) return whole;
				const src = entry.originalSource.replace(/^file:\/\//, '');
				return '(' + relative(ROOT, resolve(ROOT, src)) + ':' + ((entry.originalLine ?? 0) + 1) + ')';
			}),
		)
		.filter((line) => /\([^)#][^)]*:\d+\)/.test(line) && !line.includes('(' + relative(ROOT, SHIM) + ':'))
		.map((line) => line.trim())
		.join('\n');
}

function withTimeout<T>(p: Promise<T>, w: XsWorker, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const limit = new Promise<never>((_, reject) => {
		timer = setTimeout(() => {
			w.terminate();
			reject(new Error(what + ' ran over ' + TIMEOUT_MS + ' ms (XS_TEST_TIMEOUT_MS); worker killed'));
		}, TIMEOUT_MS);
	});
	return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

async function runFile(file: string): Promise<FileResult> {
	const name = relative(ROOT, file);
	const r: FileResult = { lines: [], passed: 0, failed: 0, pending: 0, failures: [] };
	const fileFailure = (fullTitle: string, message: string, stack = ''): void => {
		r.failed++;
		r.failures.push({ file: name, fullTitle, message, stack });
		r.lines.push('  \0' + r.failures.length + '\0' + fullTitle);
	};

	let bundled: { code: string; map: SourceMap };
	try {
		bundled = await bundle(file);
	} catch (e) {
		const errors = (e as { errors?: esbuild.Message[] }).errors;
		const text = errors?.length ? errors.map((m) => (m.location ? m.location.file + ':' + m.location.line + ': ' : '') + m.text).join('\n') : String(e);
		fileFailure(name + ' (bundling)', text);
		return r;
	}

	let ended = false;
	let inProgress: string | undefined;
	const decoder = new TextDecoder();
	// XS reports an unhandled rejection only on its stderr, when the promise job queue has
	// drained (the end of the crank that runs the whole file): read it there and fail the file
	let stderr = '';
	const worker = startXsWorker({
		stdout: 'inherit',
		stderr: 'pipe',
		handleCommand(message) {
			const ev = JSON.parse(decoder.decode(message)) as XsTestEvent;
			const pad = (depth: number): string => '  '.repeat(depth + 1);
			switch (ev.type) {
				case 'suite':
					r.lines.push(pad(ev.depth) + ev.title);
					break;
				case 'start':
					inProgress = ev.fullTitle;
					break;
				case 'pass':
					r.passed++;
					inProgress = undefined;
					r.lines.push(pad(ev.depth) + color.green('✔ ') + ev.title + color.dim(' (' + ev.compute + ' compute)'));
					break;
				case 'pending':
					r.pending++;
					inProgress = undefined;
					r.lines.push(pad(ev.depth) + color.cyan('- ' + ev.title));
					break;
				case 'fail':
					r.failed++;
					inProgress = undefined;
					r.failures.push({ file: name, fullTitle: ev.fullTitle, message: ev.message, stack: mapStack(ev.stack, ev.message, bundled.map) });
					r.lines.push(pad(ev.depth) + '\0' + r.failures.length + '\0' + ev.title);
					break;
				case 'end':
					ended = true;
					break;
			}
			return new Uint8Array(0);
		},
	});

	const workerStderr = worker.process.stderr;
	if (!workerStderr) throw new Error('xsnap-worker started without a stderr pipe');
	workerStderr.setEncoding('utf8');
	workerStderr.on('data', (text: string) => {
		stderr += text;
		process.stderr.write(text);
	});
	const stderrClosed = new Promise<void>((done) => workerStderr.once('close', done));

	try {
		r.lines.push(color.dim(name));
		// a throw while the file loads is reported by the shim as a failure, with its stack
		const load = 'try {' + bundled.code + '\n} catch (e) { if (globalThis.__xsTest) __xsTest.loadFailed(e); else throw e; }';
		await withTimeout(worker.evaluate(load), worker, 'loading ' + name);
		await withTimeout(worker.evaluate('__xsTest.run()'), worker, 'running ' + name);
		// The worker drains every job before it answers, so a test still pending now waits
		// on a promise nothing can settle: fail it and let the run continue.
		while (!ended) {
			const what = inProgress ?? 'a hook';
			const reason = 'never settled: the promise job queue drained while "' + what + '" was pending (XS has no timers)';
			await withTimeout(worker.evaluate('__xsTest.abandon(' + JSON.stringify(reason) + ')'), worker, 'running ' + name);
		}
	} catch (e) {
		const message = e instanceof Error ? e.message : String(e);
		fileFailure(inProgress ?? name, message);
	} finally {
		worker.terminate();
	}
	await stderrClosed;
	for (const line of stderr.split('\n')) {
		if (!line.startsWith('Unhandled exception')) continue;
		fileFailure(name + ' (unhandled rejection)', line + '\nXS reports it after all the tests of the file ran, so which test left it is not known: await or catch every promise a test starts.');
	}
	return r;
}

/** Runs at most `n` jobs at a time, the others wait their turn in order. */
function makeGate(n: number): <T>(job: () => Promise<T>) => Promise<T> {
	let free = n;
	const waiting: Array<() => void> = [];
	return async (job) => {
		if (free > 0) free--;
		else await new Promise<void>((go) => waiting.push(go));
		try {
			return await job();
		} finally {
			const go = waiting.shift();
			if (go) go();
			else free++;
		}
	};
}

async function main(): Promise<number> {
	const started = Date.now();
	const patterns = process.argv.slice(2);
	const files = await findFiles(patterns.length ? patterns : DEFAULT_GLOBS);
	let passed = 0;
	let failed = 0;
	let pending = 0;
	const failures: Failure[] = [];
	// Files run in parallel, one worker each, at most one per CPU; they print in order.
	const gate = makeGate(availableParallelism());
	const results = files.map((f) => gate(() => runFile(f)));
	for (const p of results) {
		const r = await p;
		const base = failures.length;
		console.log(r.lines.map((l) => l.replace(/\0(\d+)\0(.*)$/, (_m, n: string, title: string) => color.red(base + Number(n) + ') ' + title))).join('\n'));
		passed += r.passed;
		failed += r.failed;
		pending += r.pending;
		failures.push(...r.failures);
	}
	console.log('');
	failures.forEach((f, i) => {
		console.log('  ' + (i + 1) + ') ' + f.file + '\n       ' + f.fullTitle + ':\n' + color.red(f.message.replace(/^(?=.)/gm, '     ')));
		if (f.stack) console.log(color.dim(f.stack.replace(/^/gm, '      ')));
		console.log('');
	});
	const ms = Date.now() - started;
	if (files.length === 0) console.log(color.red('no test files matched ' + (patterns.length ? patterns : DEFAULT_GLOBS).join(' ')));
	else if (passed + failed === 0) console.log(color.red('no tests ran'));
	// under CI=true (.ci/run) nothing may skip: a pending test fails the run, as with mocha (test/support/no-skip-in-ci.ts)
	const ci = process.env.CI === 'true' || process.env.CI === '1';
	if (pending) console.log(ci ? color.red(pending + ' pending: CI=true and nothing may skip in CI') : pending + ' pending');
	console.log(color.dim(files.length + ' files in XS, ' + ms + ' ms'));
	console.log(passed + ' passed, ' + failed + ' failed');
	return failed > 0 || passed + failed === 0 || (ci && pending > 0) ? 1 : 0;
}

process.exitCode = await main();
