/*
 * A mocha-compatible BDD interface that runs inside XS (bundled ahead of each test file by
 * tools/xs-test.ts). It defines the globals describe/it/before/after/beforeEach/afterEach
 * (with .skip; .only fails the file, as mocha's forbid-only), collects the tree while the
 * test file loads, and runs it when the host evaluates `globalThis.__xsTest.run()`.
 *
 * Each event goes to the host as one JSON issueCommand; the host prints the report.
 *
 * Timeouts: XS here has no setTimeout, so a promise can only settle through promise jobs
 * or setImmediate, and the worker drains both before it answers an evaluate. A test still
 * pending when the evaluate returns can therefore never settle: the host then calls
 * `__xsTest.abandon()`, which fails that test and lets the run go on. A test that never
 * returns (a loop) is caught host-side by wall clock, which kills the worker.
 */

declare const issueCommand: (message: ArrayBuffer) => ArrayBuffer;
declare const resetMeter: ((limit: number, index: number) => number) | undefined;
declare const currentMeterLimit: (() => number) | undefined;

type Fn = (this: Context, done?: (err?: unknown) => void) => unknown;

interface Test {
	title: string;
	fn: Fn | undefined;
	skip: boolean;
	only: boolean;
	parent: Suite;
}

interface Suite {
	title: string;
	parent: Suite | undefined;
	skip: boolean;
	only: boolean;
	// mocha runs a suite's own tests first, then its child suites, each in declaration order
	tests: Test[];
	suites: Suite[];
	before: Fn[];
	after: Fn[];
	beforeEach: Fn[];
	afterEach: Fn[];
}

export type XsTestEvent =
	| { type: 'suite'; title: string; depth: number }
	| { type: 'start'; fullTitle: string }
	| { type: 'pass'; title: string; depth: number; compute: number }
	| { type: 'pending'; title: string; depth: number }
	| { type: 'fail'; title: string; fullTitle: string; depth: number; message: string; stack: string }
	| { type: 'end' };

class Pending {
	readonly reason = 'pending';
}

class Context {
	timeout(_ms?: number): this {
		return this; // no timers in XS: see the header
	}
	slow(_ms?: number): this {
		return this;
	}
	retries(_n?: number): this {
		return this;
	}
	skip(): never {
		throw new Pending();
	}
}

const encoder = new TextEncoder();

function send(event: XsTestEvent): void {
	const bytes = encoder.encode(JSON.stringify(event));
	issueCommand(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

function newSuite(title: string, parent: Suite | undefined): Suite {
	return { title, parent, skip: false, only: false, tests: [], suites: [], before: [], after: [], beforeEach: [], afterEach: [] };
}

const root = newSuite('', undefined);
let current = root;
let anyOnly = false;

function addSuite(title: string, fn: (this: unknown) => void, mode: 'run' | 'skip' | 'only'): void {
	const s = newSuite(title, current);
	s.skip = mode === 'skip';
	s.only = mode === 'only';
	anyOnly ||= s.only;
	current.suites.push(s);
	const outer = current;
	current = s;
	try {
		fn.call(new Context());
	} finally {
		current = outer;
	}
}

function addTest(title: string, fn: Fn | undefined, mode: 'run' | 'skip' | 'only'): void {
	const t: Test = { title, fn, skip: mode === 'skip' || fn === undefined, only: mode === 'only', parent: current };
	anyOnly ||= t.only;
	current.tests.push(t);
}

const describe = Object.assign((t: string, fn: () => void) => addSuite(t, fn, 'run'), {
	skip: (t: string, fn: () => void) => addSuite(t, fn, 'skip'),
	only: (t: string, fn: () => void) => addSuite(t, fn, 'only'),
});
const it = Object.assign((t: string, fn?: Fn) => addTest(t, fn, 'run'), {
	skip: (t: string, fn?: Fn) => addTest(t, fn, 'skip'),
	only: (t: string, fn?: Fn) => addTest(t, fn, 'only'),
});

const g = globalThis as Record<string, unknown>;
g.describe = describe;
g.context = describe;
g.it = it;
g.specify = it;
g.xdescribe = describe.skip;
g.xit = it.skip;
g.before = (fn: Fn) => void current.before.push(fn);
g.after = (fn: Fn) => void current.after.push(fn);
g.beforeEach = (fn: Fn) => void current.beforeEach.push(fn);
g.afterEach = (fn: Fn) => void current.afterEach.push(fn);

// --- running -------------------------------------------------------------------------

let abandon: ((e: Error) => void) | undefined;

/** Call `fn` as mocha does: with a context, a `done` callback if it declares one. */
function call(fn: Fn, ctx: Context): Promise<unknown> {
	const guard = new Promise<never>((_, reject) => {
		abandon = reject;
	});
	const body = new Promise<unknown>((resolve, reject) => {
		if (fn.length > 0) {
			fn.call(ctx, (err?: unknown) => (err ? reject(err) : resolve(undefined)));
		} else {
			resolve(fn.call(ctx));
		}
	});
	return Promise.race([body, guard]).finally(() => {
		abandon = undefined;
	});
}

function meter(): number {
	if (typeof resetMeter !== 'function' || typeof currentMeterLimit !== 'function') return 0;
	const limit = currentMeterLimit();
	const now = resetMeter(limit, 0);
	resetMeter(limit, now);
	return now;
}

function path(s: Suite | undefined): string[] {
	const out: string[] = [];
	for (let p = s; p; p = p.parent) if (p.title) out.unshift(p.title);
	return out;
}

function describeError(e: unknown): { message: string; stack: string } {
	if (e instanceof Error) {
		const stack = typeof e.stack === 'string' ? e.stack : '';
		return { message: e.name + ': ' + e.message, stack };
	}
	return { message: 'thrown non-Error: ' + String(e), stack: '' };
}

function isSelected(node: Suite | Test): boolean {
	if (!anyOnly) return true;
	for (let p: Suite | Test | undefined = node; p; p = p.parent) if (p.only) return true;
	// a suite is selected if anything below it is
	if ('suites' in node) return node.tests.some(isSelected) || node.suites.some(isSelected);
	return false;
}

function hasTests(s: Suite): boolean {
	return s.tests.some(isSelected) || s.suites.some(hasTests);
}

let failures = 0;

async function runHooks(hooks: Fn[], ctx: Context): Promise<void> {
	for (const h of hooks) await call(h, ctx);
}

function eachHooks(s: Suite, which: 'beforeEach' | 'afterEach'): Fn[] {
	const chain: Suite[] = [];
	for (let p: Suite | undefined = s; p; p = p.parent) chain.unshift(p);
	if (which === 'afterEach') chain.reverse();
	return chain.flatMap((p) => p[which]);
}

async function runSuite(s: Suite, depth: number, skipped: boolean): Promise<void> {
	if (!isSelected(s) || !hasTests(s)) return;
	const skip = skipped || s.skip;
	if (s.title) send({ type: 'suite', title: s.title, depth });
	const inner = s.title ? depth + 1 : depth;
	const ctx = new Context();
	if (!skip) {
		try {
			await runHooks(s.before, ctx);
		} catch (e) {
			hookFailed('"before all" hook', s, inner, e);
			return;
		}
	}
	for (const t of s.tests) if (isSelected(t)) await runTest(t, inner, skip);
	for (const child of s.suites) await runSuite(child, inner, skip);
	if (!skip) {
		try {
			await runHooks(s.after, ctx);
		} catch (e) {
			hookFailed('"after all" hook', s, inner, e);
		}
	}
}

function hookFailed(title: string, s: Suite, depth: number, e: unknown): void {
	failures++;
	send({ type: 'fail', title, fullTitle: [...path(s), title].join(' '), depth, ...describeError(e) });
}

async function runTest(t: Test, depth: number, skipped: boolean): Promise<void> {
	const fullTitle = [...path(t.parent), t.title].join(' ');
	if (skipped || t.skip || !t.fn) {
		send({ type: 'pending', title: t.title, depth });
		return;
	}
	send({ type: 'start', fullTitle });
	const ctx = new Context();
	const start = meter();
	let error: unknown;
	let pending = false;
	try {
		await runHooks(eachHooks(t.parent, 'beforeEach'), ctx);
		await call(t.fn, ctx);
	} catch (e) {
		if (e instanceof Pending) pending = true;
		else error = e;
	}
	try {
		await runHooks(eachHooks(t.parent, 'afterEach'), ctx);
	} catch (e) {
		error ??= e;
	}
	const compute = meter() - start;
	if (pending) {
		send({ type: 'pending', title: t.title, depth });
	} else if (error === undefined) {
		send({ type: 'pass', title: t.title, depth, compute });
	} else {
		failures++;
		send({ type: 'fail', title: t.title, fullTitle, depth, ...describeError(error) });
	}
}

let loadError: unknown;

g.__xsTest = Object.freeze({
	/** the test file threw while it loaded: report it, run nothing */
	loadFailed(e: unknown): void {
		loadError = e;
		failures++;
		send({ type: 'fail', title: 'while loading the test file', fullTitle: 'while loading the test file', depth: 0, ...describeError(e) });
	},
	run(): void {
		if (loadError !== undefined) return send({ type: 'end' });
		// as mocha's forbid-only (.mocharc.json): a committed .only would run a part of
		// the suite and report it green
		if (anyOnly) {
			failures++;
			send({
				type: 'fail',
				title: 'forbid-only',
				fullTitle: 'forbid-only',
				depth: 0,
				message: 'Error: .only is used in this file: the XS runner forbids it (as mocha --forbid-only)',
				stack: '',
			});
			return send({ type: 'end' });
		}
		runSuite(root, 0, false).then(
			() => send({ type: 'end' }),
			(e: unknown) => {
				send({ type: 'fail', title: 'runner', fullTitle: 'runner', depth: 0, ...describeError(e) });
				send({ type: 'end' });
			},
		);
	},
	/** the host saw the job queue drain with a test still pending: fail it, go on */
	abandon(reason: string): boolean {
		const a = abandon;
		if (!a) return false;
		a(new Error(reason));
		return true;
	},
	failures: () => failures,
});
