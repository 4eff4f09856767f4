// The project's headless runner for the Moddable `lin` simulator: builds an app with the SDK's
// real mcconfig (makefile only) and `make ... build` (never the default target: the SDK's
// make.lin.mk runs `pkill mcsim` and `pkill serial2xsbug` there), then runs the app's mc.so in
// mcsim under a private Xvfb and reads its trace until the app says `PASS` or `FAIL: ...` on a
// line of its own. Every process it starts is ended by its PID. The SDK is the user's
// toolchain, found through MODDABLE (see ../shared/moddable/README.md for the behaviour this
// relies on: stdout buffering, mcsim's copy of mc.so, D-Bus, a stray xsbug).
//
//   npx tsx test/device/headless.ts [--verbose] [--build-only] [--release] [--m32] --out OUT APP_DIR [TIMEOUT_S] [-- name=value ...]
//
// --m32: the app and the simulator built 32-bit (gcc -m32 against Debian's i386 GTK: apt-get install
// gcc-multilib libgtk-3-dev:i386 after dpkg --add-architecture i386), so XS has the ESP32's layout
// (16-byte slots, 4-byte pointers) and its memory figures are the board's bytes. The SDK's host tools
// stay as installed: its own makefiles get only CC and pkg-config's i386 directory; the 32-bit mcsim
// is made once into OUT/mcsim32 from the SDK's tools/mcsim manifest. stdbuf's library is 64-bit, so
// the trace is line-buffered by test/device/line-buffer.c, compiled 32-bit and preloaded.
//
// Lines it prints (test/device/run.ts reads them): `run-headless: building ...`,
// `run-headless: build ok in Nms`, `run-headless: running ...`, the app's own lines, then
// `run-headless: PASS (run Nms)` or `run-headless: FAIL (run Nms)`. Exit 0 on PASS, 1 on FAIL
// or a time-out, 2 when the build or the environment fails.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface HeadlessOptions {
	app: string; // a directory with manifest.json, or a manifest file
	out: string;
	defines?: string[]; // mcconfig name=value arguments
	release?: boolean;
	verbose?: boolean;
	timeoutS?: number;
	buildOnly?: boolean;
	/** Build the app and the simulator 32-bit (the ESP32's word size). */
	m32?: boolean;
	/** Each line the app traces, as it comes. */
	onLine?: (line: string) => void;
	/** The verdict from outside (a host-side check): the run ends when it settles, as on a PASS or FAIL line. */
	end?: Promise<'PASS' | 'FAIL'>;
}

export interface HeadlessResult {
	code: number; // 0 PASS, 1 FAIL or time-out, 2 build or environment failure
	buildMs?: number;
	runMs?: number;
	mcSo?: string;
}

/** What is missing to run the SDK here, or undefined. */
export function sdkProblem(env = process.env): string | undefined {
	const m = env['MODDABLE'];
	if (!m) return 'MODDABLE is not set';
	if (!existsSync(join(m, 'build/bin/lin/release/mcconfig'))) return `MODDABLE=${m} has no built host tools (build/bin/lin/release/mcconfig)`;
	return undefined;
}

export const INSTALL_POINTER =
	'install Moddable SDK 8.2.3 outside this repository as its documentation describes (Getting Started, Linux: build-essential pkg-config libgtk-3-dev libglib2.0-dev xvfb, then make in $MODDABLE/build/makefiles/lin), then export MODDABLE=/path/to/moddable PATH=$MODDABLE/build/bin/lin/release:$PATH';

function sdkEnv(): NodeJS.ProcessEnv {
	const m = process.env['MODDABLE']!;
	// mcconfig's makefile runs `tsc` from PATH: the project's own TypeScript
	const path = [join(m, 'build/bin/lin/release'), join(root, 'node_modules/.bin'), process.env['PATH'] ?? ''].join(delimiter);
	return { ...process.env, MODDABLE: m, PATH: path };
}

function newest(dir: string, name: string): string | undefined {
	let best: { p: string; t: number } | undefined;
	const walk = (d: string) => {
		for (const e of readdirSync(d, { withFileTypes: true })) {
			const p = join(d, e.name);
			if (e.isDirectory()) walk(p);
			else if (e.name === name) {
				const t = statSync(p).mtimeMs;
				if (!best || t > best.t) best = { p, t };
			}
		}
	};
	if (existsSync(dir)) walk(dir);
	return best?.p;
}

/** make's arguments and environment for a 32-bit build with the SDK's own makefiles: the compiler and i386 libraries only. */
const M32 = { make: ['CC=gcc -m32'], env: { PKG_CONFIG_LIBDIR: '/usr/lib/i386-linux-gnu/pkgconfig:/usr/share/pkgconfig' } };

/** What is missing for a 32-bit build here, or undefined. */
export function m32Problem(): string | undefined {
	if (!existsSync('/usr/lib/i386-linux-gnu/pkgconfig/gtk+-3.0.pc')) return 'no i386 GTK (dpkg --add-architecture i386 && apt-get update && apt-get install gcc-multilib libgtk-3-dev:i386)';
	const probe = spawnSync('gcc', ['-m32', '-print-file-name=libgcc.a'], { encoding: 'utf8' });
	if (probe.status !== 0 || !probe.stdout.includes('/32/')) return 'gcc cannot build 32-bit (apt-get install gcc-multilib)';
	return undefined;
}

/**
 * The 32-bit simulator and the line-buffering library for it, made once under OUT/mcsim32 with the
 * SDK's makefile for its mcsim (mcconfig -p x-lin, as the SDK's own build does, into our directory).
 */
export function simulator32(out: string, say: (l: string) => void): { ok: true; mcsim: string; preload: string } | { ok: false; why: string } {
	const env = { ...sdkEnv(), ...M32.env };
	const dir = join(out, 'mcsim32');
	const mcsim = join(dir, 'bin/lin/release/mcsim');
	const preload = join(dir, 'line-buffer.so');
	if (!existsSync(preload)) {
		mkdirSync(dir, { recursive: true });
		const cc = spawnSync('gcc', ['-m32', '-shared', '-fPIC', '-O2', '-o', preload, join(root, 'test/device/line-buffer.c')], { encoding: 'utf8' });
		if (cc.status !== 0) return { ok: false, why: `gcc -m32 line-buffer.c exit ${cc.status}: ${cc.stderr.trim()}` };
	}
	if (existsSync(mcsim)) return { ok: true, mcsim, preload };
	say(`run-headless: building a 32-bit mcsim into ${dir} (once, about a minute)`);
	const cfg = spawnSync('mcconfig', ['-p', 'x-lin', '-o', dir, join(process.env['MODDABLE']!, 'tools/mcsim/manifest.json')], { env, encoding: 'utf8', cwd: dir });
	if (cfg.status !== 0) return { ok: false, why: `mcconfig (mcsim) exit ${cfg.status}: ${(cfg.stdout + cfg.stderr).trim().split('\n').slice(-15).join('\n')}` };
	const makefile = join(dir, 'tmp/lin/release/mcsim/makefile');
	const mk = spawnSync('make', ['-f', makefile, ...M32.make, 'build'], { env, encoding: 'utf8', cwd: dir, maxBuffer: 64 << 20 });
	if (mk.status !== 0 || !existsSync(mcsim)) return { ok: false, why: `make (mcsim, 32-bit) exit ${mk.status}:\n${(mk.stdout + mk.stderr).trim().split('\n').slice(-25).join('\n')}` };
	return { ok: true, mcsim, preload };
}

/** Builds the app; the mc.so path, or a failure with the build's last lines. */
export function build(o: HeadlessOptions, say: (l: string) => void): { ok: true; mcSo: string; ms: number } | { ok: false; why: string } {
	const env = { ...sdkEnv(), ...(o.m32 ? M32.env : {}) };
	const makeArgs = o.m32 ? M32.make : [];
	const variant = o.release ? 'release' : 'debug';
	mkdirSync(o.out, { recursive: true });
	const manifest = o.app.endsWith('.json') ? o.app : join(o.app, 'manifest.json');
	say(`run-headless: building ${manifest} (${variant}, lin${o.m32 ? ', 32-bit' : ''})`);
	const t0 = Date.now();
	const cfg = spawnSync('mcconfig', [...(o.release ? [] : ['-d']), '-p', 'lin', '-o', o.out, manifest, ...(o.defines ?? [])], { env, encoding: 'utf8', cwd: o.out });
	if (cfg.status !== 0) return { ok: false, why: `mcconfig exit ${cfg.status}: ${(cfg.stdout + cfg.stderr).trim().split('\n').slice(-15).join('\n')}` };
	const makefile = newest(join(o.out, 'tmp/lin/mc', variant), 'makefile');
	if (!makefile) return { ok: false, why: `mcconfig wrote no makefile under ${join(o.out, 'tmp/lin/mc', variant)}` };
	let mk = spawnSync('make', ['-j2', '-f', makefile, ...makeArgs, 'build'], { env, encoding: 'utf8', cwd: o.out, maxBuffer: 64 << 20 });
	// a clean parallel build of the SDK's makefile has failed here once with no message: finish it serially
	if (mk.status !== 0) {
		say(`run-headless: parallel make exit ${mk.status}; finishing the build with one job`);
		mk = spawnSync('make', ['-f', makefile, ...makeArgs, 'build'], { env, encoding: 'utf8', cwd: o.out, maxBuffer: 64 << 20 });
	}
	if (o.verbose) for (const l of (mk.stdout + mk.stderr).split('\n')) if (l) say(l);
	if (mk.status !== 0) return { ok: false, why: `make exit ${mk.status}:\n${(mk.stdout + mk.stderr).trim().split('\n').slice(-25).join('\n')}` };
	const mcSo = join(o.out, 'bin/lin/mc', variant, dirname(makefile).split('/').pop()!, 'mc.so');
	if (!existsSync(mcSo)) return { ok: false, why: `the build made no ${mcSo}` };
	return { ok: true, mcSo, ms: Date.now() - t0 };
}

/** Starts a private X server; its display number and process. */
function startXvfb(): Promise<{ display: string; proc: ChildProcess }> {
	return new Promise((res, rej) => {
		const proc = spawn('Xvfb', ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '640x480x24'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
		let got = '';
		proc.on('error', (e) => rej(new Error(`Xvfb could not start (${e.message}): apt-get install xvfb`)));
		(proc.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => {
			got += b.toString();
			if (got.includes('\n')) res({ display: ':' + got.trim(), proc });
		});
		proc.on('exit', (c) => rej(new Error(`Xvfb ended (${c}) before it named its display`)));
	});
}

/**
 * Ends `p` by its PID and resolves once it has exited (reaped), so the next power-on never starts
 * while this one's mcsim or Xvfb still holds the app's files, its test-control port or its display
 * (a SIGKILL is only delivered, not done, when kill returns).
 */
function end(p: ChildProcess | undefined, say: (l: string) => void): Promise<void> {
	if (!p || p.exitCode !== null || p.signalCode !== null || !p.pid) return Promise.resolve();
	const gone = new Promise<void>((res) => {
		p.once('exit', () => res());
		const t = setTimeout(() => {
			say(`run-headless: ${p.spawnfile} (pid ${p.pid}) not ended 5 s after SIGKILL`);
			res();
		}, 5_000);
		t.unref();
	});
	try {
		process.kill(p.pid, 'SIGKILL');
	} catch {
		/* already gone between the check and the kill: nothing to end */
	}
	return gone;
}

/** Builds and runs the app headless; the verdict from its trace. */
export async function runHeadless(o: HeadlessOptions, say: (l: string) => void = (l) => console.log(l)): Promise<HeadlessResult> {
	const problem = sdkProblem();
	if (problem) {
		say(`run-headless: ${problem}: ${INSTALL_POINTER}`);
		return { code: 2 };
	}
	let sim32: ReturnType<typeof simulator32> | undefined;
	if (o.m32) {
		const why = m32Problem();
		if (why) {
			say(`run-headless: --m32: ${why}`);
			return { code: 2 };
		}
		sim32 = simulator32(o.out, say);
		if (!sim32.ok) {
			say(`run-headless: build failed: ${sim32.why}`);
			return { code: 2 };
		}
	}
	const b = build(o, say);
	if (!b.ok) {
		say(`run-headless: build failed: ${b.why}`);
		return { code: 2 };
	}
	say(`run-headless: build ok in ${b.ms}ms`);
	if (o.buildOnly) return { code: 0, buildMs: b.ms, mcSo: b.mcSo };

	const home = mkdtempSync(join(tmpdir(), 'mcsim-'));
	mkdirSync(join(home, '.config'), { recursive: true }); // mcsim copies mc.so into $XDG_CONFIG_HOME/tech.moddable.mcsim/
	let x: { display: string; proc: ChildProcess } | undefined;
	let sim: ChildProcess | undefined;
	const t0 = Date.now();
	try {
		x = await startXvfb();
		say(`run-headless: running ${b.mcSo} on display ${x.display}`);
		const env = {
			...sdkEnv(),
			DISPLAY: x.display,
			HOME: home,
			XDG_CONFIG_HOME: join(home, '.config'),
			DBUS_SESSION_BUS_ADDRESS: 'disabled:', // no hand-over to another mcsim through a session bus
			XSBUG_HOST: '127.0.0.1',
			XSBUG_PORT: '1', // a debug build must not find a debugger and stop
		};
		// stdbuf (or line-buffer.c for 32 bits): mcsim's stdout is a pipe, block-buffered without it
		sim = sim32?.ok
			? spawn(sim32.mcsim, [b.mcSo], { env: { ...env, LD_PRELOAD: sim32.preload }, stdio: ['ignore', 'pipe', 'pipe'] })
			: spawn('stdbuf', ['-oL', '-eL', join(process.env['MODDABLE']!, 'build/bin/lin/release/mcsim'), b.mcSo], { env, stdio: ['ignore', 'pipe', 'pipe'] });
		const verdict = await new Promise<'PASS' | 'FAIL' | 'timeout' | 'exit'>((res) => {
			let decided = false; // the runner ends mcsim itself once a verdict is in: that exit is not news
			const timer = setTimeout(() => res('timeout'), (o.timeoutS ?? 45) * 1000);
			o.end?.then((v) => {
				clearTimeout(timer);
				res(v);
			});
			const onLine = (line: string) => {
				o.onLine?.(line);
				say(line);
				if (line === 'PASS') {
					clearTimeout(timer);
					decided = true;
					res('PASS');
				} else if (line.startsWith('FAIL') || line.includes('XS abort')) {
					clearTimeout(timer);
					decided = true;
					res('FAIL');
				}
			};
			createInterface({ input: sim!.stdout! }).on('line', onLine);
			createInterface({ input: sim!.stderr! }).on('line', onLine);
			sim!.on('exit', (c, signal) => {
				clearTimeout(timer);
				// how and when it ended, so an early exit says whether it crashed or refused to start
				if (!decided) say(`run-headless: mcsim exited (${signal ?? c}) after ${Date.now() - t0} ms without a verdict`);
				res('exit');
			});
		});
		const runMs = Date.now() - t0;
		if (verdict === 'timeout') say(`run-headless: no verdict within ${o.timeoutS ?? 45} s`);
		say(`run-headless: ${verdict === 'PASS' ? 'PASS' : 'FAIL'} (run ${runMs}ms)`);
		return { code: verdict === 'PASS' ? 0 : 1, buildMs: b.ms, runMs, mcSo: b.mcSo };
	} catch (e) {
		say(`run-headless: ${(e as Error).message}`);
		return { code: 2, buildMs: b.ms };
	} finally {
		await end(sim, say);
		await end(x?.proc, say);
		rmSync(home, { recursive: true, force: true });
	}
}

/** The command line above. */
export function parseArgs(argv: string[]): HeadlessOptions {
	const o: HeadlessOptions = { app: '', out: '' };
	const rest: string[] = [];
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i]!;
		if (a === '--') {
			o.defines = argv.slice(i + 1);
			break;
		} else if (a === '--verbose') o.verbose = true;
		else if (a === '--build-only') o.buildOnly = true;
		else if (a === '--release') o.release = true;
		else if (a === '--m32') o.m32 = true;
		else if (a === '--out') o.out = resolve(argv[++i] ?? '');
		else rest.push(a);
	}
	if (!rest[0]) throw new Error('usage: headless.ts [--verbose] [--build-only] [--release] [--m32] --out OUT APP_DIR [TIMEOUT_S] [-- name=value ...]');
	o.app = resolve(rest[0]);
	if (!o.out) o.out = join(o.app, 'out');
	if (rest[1]) {
		const t = Number(rest[1]);
		if (!(t > 0)) throw new Error(`TIMEOUT_S expected a positive number of seconds, got ${rest[1]}`);
		o.timeoutS = t;
	}
	return o;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const o = parseArgs(process.argv.slice(2));
	const r = await runHeadless(o);
	process.exitCode = r.code;
}
