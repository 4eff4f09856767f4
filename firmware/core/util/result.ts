/** Expected failures are values; `throw` is kept for programmer errors (style rule 6). */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
	return { ok: true, value };
}

export function err<E>(error: E): { readonly ok: false; readonly error: E } {
	return { ok: false, error };
}

/** Ends every exhaustive switch: a new union member becomes a type error here. */
export function assertNever(x: never): never {
	throw new TypeError('unexpected value ' + JSON.stringify(x));
}
