/*
 * The assertions the core's tests use. Core tests run on Node and inside the bare
 * XS engine (tools/xs-test.ts), where node:assert does not exist, so they import
 * this instead: a handful of checks with messages that show both sides.
 */

export class AssertionError extends Error {
	override name = 'AssertionError';
}

function show(x: unknown): string {
	if (x instanceof Uint8Array) return 'Uint8Array[' + Array.from(x.subarray(0, 64)).join(',') + (x.length > 64 ? ',...' : '') + ']';
	try {
		return JSON.stringify(x, (_k, v) => (v instanceof Uint8Array ? show(v) : typeof v === 'bigint' ? v.toString() + 'n' : v)) ?? String(x);
	} catch {
		return String(x);
	}
}

function fail(message: string | undefined, detail: string): never {
	throw new AssertionError((message ? message + ': ' : '') + detail);
}

export function ok(value: unknown, message?: string): asserts value {
	if (!value) fail(message, 'expected truthy, got ' + show(value));
}

export function equal<T>(actual: T, expected: T, message?: string): void {
	if (!Object.is(actual, expected)) fail(message, 'expected ' + show(expected) + ', got ' + show(actual));
}

export function notEqual<T>(actual: T, expected: T, message?: string): void {
	if (Object.is(actual, expected)) fail(message, 'expected anything but ' + show(expected));
}

function same(a: unknown, b: unknown): boolean {
	if (Object.is(a, b)) return true;
	if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
	if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
		if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
		for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
		return true;
	}
	if (Array.isArray(a) !== Array.isArray(b)) return false;
	const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
	const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
	if (ka.length !== kb.length) return false;
	for (const k of ka) if (!same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
	return true;
}

/** Structural equality; byte arrays compare by content, keys holding undefined count as absent. */
export function deepEqual<T>(actual: T, expected: T, message?: string): void {
	if (!same(actual, expected)) fail(message, 'expected ' + show(expected) + ', got ' + show(actual));
}

export function throws(fn: () => unknown, match?: RegExp, message?: string): void {
	try {
		fn();
	} catch (e) {
		const text = String((e as Error)?.message ?? e);
		if (match && !match.test(text)) fail(message, 'error "' + text + '" does not match ' + String(match));
		return;
	}
	fail(message, 'expected a throw');
}

export async function rejects(p: Promise<unknown>, match?: RegExp, message?: string): Promise<void> {
	try {
		await p;
	} catch (e) {
		const text = String((e as Error)?.message ?? e);
		if (match && !match.test(text)) fail(message, 'error "' + text + '" does not match ' + String(match));
		return;
	}
	fail(message, 'expected a rejection');
}
