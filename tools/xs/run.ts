/*
 * Drive one XS engine (the xsnap-worker binary of @agoric/xsnap) from Node, for the core's
 * tests (tools/xs-test.ts) and for benchmarks.
 *
 * Why not `import { xsnap } from '@agoric/xsnap'`: its module graph pulls in @endo/errors,
 * which needs SES installed first (`import '@endo/init'`), and that runs `lockdown()` on
 * *this* Node process, freezing every intrinsic under tsx, esbuild and the benchmark code.
 * The worker's wire protocol is small, so we speak it here instead (xsnap-worker.c):
 *
 *   fd 3 (parent -> worker), fd 4 (worker -> parent), each message a netstring `len:bytes,`
 *   parent sends  `e<js source>`   evaluate as a sloppy script with global eval
 *                 `?<bytes>`       call globalThis.handleCommand(ArrayBuffer)
 *                 `q`              quit
 *   worker sends  `?<bytes>`       globalThis.issueCommand(buf) from inside XS; the worker
 *                                  blocks until we answer `/<bytes>`
 *                 `.{meter}\x01<reply>` done; reply is the ArrayBuffer the script or
 *                                  handleCommand returned (or its `.result`), else empty
 *                 `!<message>`     the evaluate threw synchronously (the worker lives on)
 *
 * After each `e` or `?` the worker drains promise jobs and setImmediate callbacks
 * (fxRunLoop) before answering, so async code started by an evaluate finishes inside it.
 *
 * Globals of a fresh worker (probed; xsnap 0.15.0, XS with ES2023-ish builtins):
 *   have     TextEncoder, TextDecoder, Base64, setImmediate (runs before the evaluate ends),
 *            print (to the worker's stdout), performance.now, harden, gc, issueCommand,
 *            currentMeterLimit, resetMeter, Compartment, ModuleSource, WeakRef,
 *            FinalizationRegistry, SharedArrayBuffer, Atomics, BigInt, Array#findLast
 *   lack     setTimeout/setInterval/clear*, queueMicrotask, console, structuredClone, Intl,
 *            crypto, URL, AbortController, lockdown, Iterator helpers, Promise.withResolvers,
 *            Array.fromAsync, String#isWellFormed
 *   errors   `e.stack` is `Name: message` then ` at fn (#0:LINE)` lines, LINE counted in
 *            the evaluated source; an unhandled rejection is only printed to stderr.
 *
 * Meter, from xsnap-worker.c and xsnapPlatform.c (meter type "xs-meter-36"):
 *   compute          XS bytecodes executed during this one evaluate/command (the meter is
 *                    reset to 0 when the crank begins), plus extra units that some builtins
 *                    charge for bulk work (array, string, DataView, BigInt, RegExp).
 *                    It includes the promise jobs drained after the script returns.
 *   allocate         bytes the machine has obtained for its chunk and slot heaps since it was
 *                    created: cumulative, never decreases, grows in steps (chunks of 4 MiB,
 *                    slots by 128 Ki * 16 B); a fresh worker reads 42,074,144 (~40 MiB). Use the
 *                    difference of two readings, and expect 0 for small work.
 *   currentHeapCount slots in use after the crank (a GC-sensitive live-object gauge).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as esbuild from 'esbuild';

export interface Meter {
	/** bytecodes (plus builtin work units) run by this one evaluate or command */
	compute: number;
	/** bytes of heap the machine holds, cumulative since creation */
	allocate: number;
	/** slots in use when the crank ended */
	currentHeapCount: number;
}

export interface RunResult {
	/** the ArrayBuffer the script or handleCommand returned, as bytes; empty otherwise */
	reply: Uint8Array;
	meter: Meter;
}

export interface XsWorkerOptions {
	/** answers globalThis.issueCommand(buf) calls made inside XS; the default echoes */
	handleCommand?: (message: Uint8Array) => Uint8Array | Promise<Uint8Array>;
	/** compute units allowed per crank; exceeding it kills the worker (exit 17). 0: no limit */
	meteringLimit?: number;
	/** where the worker's print() output (its stdout) goes; default 'inherit' */
	stdout?: 'inherit' | 'ignore' | 'pipe';
	/** where XS reports (unhandled rejections, stack overflow) go; default 'inherit' */
	stderr?: 'inherit' | 'ignore' | 'pipe';
}

export interface XsWorker {
	evaluate(code: string): Promise<RunResult>;
	issueCommand(message: Uint8Array): Promise<RunResult>;
	/** ask the worker to quit; resolves with its exit code (15 if any evaluate threw) */
	close(): Promise<number | null>;
	/** kill it at once (e.g. a test that never settles) */
	terminate(): void;
	readonly process: ChildProcess;
}

/** Thrown when an evaluate throws inside XS, or when the worker dies. */
export class XsError extends Error {
	override name = 'XsError';
}

const EXIT_CODES: Readonly<Record<number, string>> = Object.freeze({
	1: 'bad usage',
	2: 'I/O error',
	11: 'not enough memory',
	12: 'stack overflow',
	15: 'unhandled exception',
	16: 'property (key) name space exhausted',
	17: 'too much computation',
});

/** Path of the xsnap-worker binary that `npm install` built for this platform. */
export function xsnapWorkerPath(): string {
	const platform = process.platform === 'linux' ? 'lin' : process.platform === 'darwin' ? 'mac' : undefined;
	if (!platform) throw new Error('xsnap-worker: no build for platform ' + process.platform);
	const pkg = dirname(createRequire(import.meta.url).resolve('@agoric/xsnap/package.json'));
	const bin = join(pkg, 'xsnap-native/xsnap/build/bin', platform, 'release/xsnap-worker');
	if (!existsSync(bin)) throw new Error('xsnap-worker: binary missing at ' + bin + ' (was the postinstall build skipped?)');
	return bin;
}

/** Repository root, for tools that resolve paths from it. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function netstring(parts: Uint8Array[]): Uint8Array {
	const length = parts.reduce((n, p) => n + p.length, 0);
	const head = encoder.encode(length + ':');
	const out = new Uint8Array(head.length + length + 1);
	out.set(head, 0);
	let at = head.length;
	for (const p of parts) {
		out.set(p, at);
		at += p.length;
	}
	out[at] = 0x2c; // ','
	return out;
}

/** Start one worker. Messages are serialized: each call waits for the previous to finish. */
export function startXsWorker(options: XsWorkerOptions = {}): XsWorker {
	const { handleCommand = (m: Uint8Array) => m, meteringLimit = 0, stdout = 'inherit', stderr = 'inherit' } = options;
	const args = ['xs-worker'];
	if (meteringLimit > 0) args.push('-l', String(meteringLimit));
	const child = spawn(xsnapWorkerPath(), args, {
		stdio: ['ignore', stdout, stderr, 'pipe', 'pipe'],
	});
	const toWorker = child.stdio[3] as NodeJS.WritableStream;
	const fromWorker = child.stdio[4] as NodeJS.ReadableStream;

	let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
	const exit = new Promise<number | null>((resolve) => {
		child.once('exit', (code, signal) => {
			exited = { code, signal };
			resolve(code);
			fail(new XsError('xsnap-worker exited' + describeExit(code, signal)));
		});
	});
	child.once('error', (e) => fail(new XsError('xsnap-worker: ' + e.message)));

	// The one request in flight: it ends at the first `.` or `!` message.
	let pending: { resolve: (r: RunResult) => void; reject: (e: Error) => void } | undefined;
	let queue: Promise<unknown> = Promise.resolve();
	let buffered = new Uint8Array(0);

	function fail(e: Error): void {
		const p = pending;
		pending = undefined;
		p?.reject(e);
	}

	fromWorker.on('data', (chunk: Uint8Array) => {
		const joined = new Uint8Array(buffered.length + chunk.length);
		joined.set(buffered, 0);
		joined.set(chunk, buffered.length);
		buffered = joined;
		for (;;) {
			const colon = buffered.indexOf(0x3a);
			if (colon < 0) return;
			const length = Number(decoder.decode(buffered.subarray(0, colon)));
			const end = colon + 1 + length;
			if (buffered.length <= end) return;
			const message = buffered.slice(colon + 1, end);
			buffered = buffered.slice(end + 1);
			void receive(message);
		}
	});

	async function receive(message: Uint8Array): Promise<void> {
		const kind = message[0];
		if (kind === 0x3f /* ? */) {
			let answer: Uint8Array;
			try {
				answer = await handleCommand(message.subarray(1));
			} catch (e) {
				// the worker is blocked in issueCommand: it has to get some answer
				answer = encoder.encode(JSON.stringify({ hostError: String(e) }));
			}
			toWorker.write(netstring([encoder.encode('/'), answer]));
		} else if (kind === 0x2e /* . */) {
			const sep = message.indexOf(1, 1);
			const info = JSON.parse(decoder.decode(message.subarray(1, sep))) as Meter;
			const p = pending;
			pending = undefined;
			p?.resolve({
				reply: message.subarray(sep + 1),
				meter: { compute: info.compute, allocate: info.allocate, currentHeapCount: info.currentHeapCount },
			});
		} else if (kind === 0x21 /* ! */) {
			fail(new XsError(decoder.decode(message.subarray(1))));
		} else {
			child.kill();
			fail(new XsError('xsnap protocol error: unexpected message ' + decoder.decode(message.subarray(0, 40))));
		}
	}

	function send(parts: Uint8Array[]): Promise<RunResult> {
		const run = queue.then(
			() =>
				new Promise<RunResult>((resolve, reject) => {
					if (exited) return reject(new XsError('xsnap-worker exited' + describeExit(exited.code, exited.signal)));
					pending = { resolve, reject };
					toWorker.write(netstring(parts));
				}),
		);
		queue = run.catch(() => undefined);
		return run;
	}

	return {
		process: child,
		evaluate: (code) => send([encoder.encode('e'), encoder.encode(code)]),
		issueCommand: (message) => send([encoder.encode('?'), message]),
		async close() {
			await queue;
			if (!exited) {
				toWorker.write(netstring([encoder.encode('q')]));
				toWorker.end();
			}
			return exit;
		},
		terminate() {
			if (!exited) child.kill('SIGKILL');
		},
	};
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
	if (signal) return ' on signal ' + signal;
	return ' with code ' + code + (code !== null && EXIT_CODES[code] ? ' (' + EXIT_CODES[code] + ')' : '');
}

/** Run `fn` with a fresh worker, killed afterwards (its heap is thrown away anyway). */
export async function withXsWorker<T>(fn: (w: XsWorker) => Promise<T>, options?: XsWorkerOptions): Promise<T> {
	const w = startXsWorker(options);
	try {
		return await fn(w);
	} finally {
		w.terminate();
	}
}

/**
 * Evaluate `code` in the worker and answer what that one evaluate cost. `allocate` is the
 * growth of the machine's heap during it (usually 0: the heap grows in MiB steps).
 */
export async function measure(w: XsWorker, code: string): Promise<{ compute: number; allocate: number }> {
	const before = await w.evaluate('');
	const { meter } = await w.evaluate(code);
	return { compute: meter.compute, allocate: meter.allocate - before.meter.allocate };
}

export interface BundleOptions {
	/** name of a global that receives the entry's exports (esbuild `globalName`) */
	globalName?: string;
	/** a source prepended to the bundle, e.g. a test shim */
	banner?: string;
	minify?: boolean;
}

/**
 * esbuild options for a script the worker can `evaluate`: one IIFE, ES2022, platform neutral.
 * Node built-ins (`node:*`, bare `fs`, ...) are refused, since XS has none; the error names
 * the importer.
 */
export const XS_BUILD_OPTIONS: Readonly<esbuild.BuildOptions> = Object.freeze({
	bundle: true,
	write: false,
	format: 'iife',
	target: 'es2022',
	platform: 'neutral',
	mainFields: ['module', 'main'],
	conditions: ['import', 'default'],
	logLevel: 'silent',
	plugins: [noNodeBuiltins(), timerStubsForPackages()],
} satisfies esbuild.BuildOptions);

/** Bundle a TS/JS entry file into one script for the worker (see XS_BUILD_OPTIONS). */
export async function bundleForXs(entry: string, options: BundleOptions = {}): Promise<string> {
	const result = await esbuild.build({
		...XS_BUILD_OPTIONS,
		write: false,
		entryPoints: [entry],
		minify: options.minify ?? false,
		...(options.globalName ? { globalName: options.globalName } : {}),
		...(options.banner ? { banner: { js: options.banner } } : {}),
	});
	const out = result.outputFiles[0];
	if (!out) throw new Error('esbuild produced no output for ' + entry);
	return out.text;
}

function noNodeBuiltins(): esbuild.Plugin {
	const builtins: ReadonlySet<string> = new Set(builtinModules);
	return {
		name: 'no-node-builtins',
		setup(build) {
			build.onResolve({ filter: /.*/ }, (args) => {
				const name = args.path;
				if (args.kind === 'entry-point' || !(name.startsWith('node:') || builtins.has(name))) return undefined;
				const by = args.importer ? ' (imported by ' + relative(ROOT, args.importer) + ')' : '';
				return { errors: [{ text: '"' + name + '" is a Node built-in; XS has none' + by }] };
			});
		},
	};
}

/*
 * Some packages capture timers when they load (fast-check: `const safeSetTimeout =
 * setTimeout`), a ReferenceError in XS, which has none. Each module under node_modules gets
 * its own module-scoped setTimeout/clearTimeout that throws only when called; our own code
 * still sees the engine's globals as they are. Prepended on line 1, so lines stay put.
 */
const TIMER_STUBS =
	'const setTimeout = typeof globalThis.setTimeout === "function" ? globalThis.setTimeout : () => { throw new Error("setTimeout: this XS worker has no timers"); };' +
	' const clearTimeout = typeof globalThis.clearTimeout === "function" ? globalThis.clearTimeout : () => {};';

function timerStubsForPackages(): esbuild.Plugin {
	return {
		name: 'timer-stubs-for-packages',
		setup(build) {
			build.onLoad({ filter: /[\\/]node_modules[\\/].*\.m?js$/ }, async (args) => {
				const text = await readFile(args.path, 'utf8');
				if (!/\b(setTimeout|clearTimeout)\b/.test(text)) return undefined;
				return { contents: TIMER_STUBS + text, loader: 'js' };
			});
		},
	};
}

/** Bundle `entry` and evaluate it in `w`; answers the bundle size with the meter. */
export async function evaluateEntry(w: XsWorker, entry: string, options?: BundleOptions): Promise<RunResult & { bytes: number }> {
	const code = await bundleForXs(entry, options);
	const result = await w.evaluate(code);
	return { ...result, bytes: code.length };
}
