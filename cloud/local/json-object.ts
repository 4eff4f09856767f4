/*
 * A request's bytes as a JSON object, for every local service that takes one (HTTP bodies, the
 * jobs and commands device APIs over MQTT): strict UTF-8 (AWS refuses malformed text rather than
 * replacing it), then JSON, then an object, not an array, a string or null. Each caller answers
 * a failure with its own service's error.
 */

export type JsonObjectResult = { readonly ok: true; readonly value: Record<string, unknown> } | { readonly ok: false; readonly error: 'notJson' | 'notObject' };

/** `bytes` parsed; an empty payload is `{}` when `emptyIsObject` (AWS's jobs API and the control planes), else not JSON. */
export function parseJsonObject(bytes: Uint8Array, emptyIsObject: boolean): JsonObjectResult {
	if (bytes.byteLength === 0 && emptyIsObject) return { ok: true, value: {} };
	let v: unknown;
	try {
		v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
	} catch {
		return { ok: false, error: 'notJson' };
	}
	return isJsonObject(v) ? { ok: true, value: v } : { ok: false, error: 'notObject' };
}

export function isJsonObject(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v);
}
