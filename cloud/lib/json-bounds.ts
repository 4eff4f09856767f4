/*
 * Bounds of an untrusted JSON value, checked without recursion before anything walks it
 * recursively (JSON.stringify, structuredClone, a validator): a payload of 60,000 nested
 * arrays fits in 128 KB and overflows the stack of each of those, which made the mission
 * report handler throw (and Lambda retry it) instead of refusing it.
 */

export interface JsonLimits {
	/** Deepest nesting allowed: 1 is a flat object or array. */
	readonly maxDepth: number;
	/** Largest JSON text it may serialise to, counted as the walk goes (stops early). */
	readonly maxBytes: number;
}

export type JsonBounds = { readonly ok: true } | { readonly ok: false; readonly reason: 'depth' | 'size'; readonly message: string };

const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

/** Checks `value` against `limits` iteratively; the byte count is an upper bound of JSON.stringify's (escapes aside, which only add). */
export function checkJsonBounds(value: unknown, limits: JsonLimits): JsonBounds {
	const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
	let bytes = 0;
	while (stack.length > 0) {
		const { v, depth } = stack.pop()!;
		if (typeof v === 'string') bytes += utf8Length(v) + 2;
		else if (typeof v === 'number' || typeof v === 'boolean' || v === null) bytes += String(v).length;
		else if (typeof v === 'object') {
			if (depth + 1 > limits.maxDepth) return { ok: false, reason: 'depth', message: 'nested deeper than ' + limits.maxDepth + ' levels' };
			bytes += 2;
			if (Array.isArray(v)) {
				for (const x of v) {
					bytes += 1;
					stack.push({ v: x, depth: depth + 1 });
				}
			} else {
				for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
					bytes += utf8Length(k) + 4;
					stack.push({ v: x, depth: depth + 1 });
				}
			}
		}
		if (bytes > limits.maxBytes) return { ok: false, reason: 'size', message: 'over ' + limits.maxBytes + ' bytes' };
	}
	return { ok: true };
}
