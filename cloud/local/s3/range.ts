/*
 * The one-range forms of the HTTP Range header S3 honours (RFC 9110 §14.1.2):
 * `bytes=a-b`, `bytes=a-` and the suffix `bytes=-n`. S3 ignores a header it
 * cannot use (several ranges, another unit) and sends the whole object.
 */

export type RangeResult =
	| { kind: 'whole' }
	| { kind: 'range'; start: number; end: number }
	/** No byte of the object is in the range: 416 InvalidRange. */
	| { kind: 'unsatisfiable' };

export function parseRange(header: string | undefined, size: number): RangeResult {
	if (header === undefined) return { kind: 'whole' };
	const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
	if (!m || (m[1] === '' && m[2] === '')) return { kind: 'whole' };
	if (m[1] === '') {
		// suffix: the last n bytes [RFC 9110 §14.1.2]
		const n = Number(m[2]);
		if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
		return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
	}
	const start = Number(m[1]);
	const last = m[2] === '' ? size - 1 : Number(m[2]);
	if (start >= size) return { kind: 'unsatisfiable' };
	if (last < start) return { kind: 'whole' };
	return { kind: 'range', start, end: Math.min(last, size - 1) };
}
