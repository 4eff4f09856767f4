/*
 * The Device Shadow semantics of AWS IoT, pure: no I/O, the time passed in. Every rule
 * below follows the AWS IoT Developer Guide, "Device Shadow service documents" (DSD),
 * "Device Shadow MQTT topics" (DSM), "Device Shadow error messages" (DSE) and
 * "Diagnosing problems with shadows" (DPS); where AWS documents nothing, the choice is
 * said on the line that makes it.
 *
 * A shadow is { state: { desired?, reported? }, metadata: { desired?, reported? }, version }.
 * Metadata mirrors the state: a leaf has { timestamp }, an object has one entry per key,
 * an array has one entry per element. Timestamps are epoch seconds, as AWS sends them.
 */

import { isShadowName as isNamedShadow } from '../../../firmware/core/contracts/thing';

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
	[key: string]: Json;
}

export type Section = 'desired' | 'reported';
const SECTIONS: readonly Section[] = Object.freeze(['desired', 'reported'] as const);

export interface ShadowState {
	readonly desired?: JsonObject;
	readonly reported?: JsonObject;
}

export interface Shadow {
	readonly state: ShadowState;
	readonly metadata: ShadowState;
	readonly version: number;
}

/** DSD "Request state document": only `state`, `clientToken` and `version` are read; other fields are ignored (DPS). */
export interface UpdateRequest {
	/** null: clear the whole state, the shadow stays (DSM "Deleting a shadow": a null state does not delete it). */
	readonly state: { readonly desired?: JsonObject | null; readonly reported?: JsonObject | null } | null;
	readonly clientToken?: string;
	readonly version?: number;
}

/** DSD "Error response document". */
export interface ErrorReply {
	readonly code: ErrorCode;
	readonly message: string;
	readonly timestamp: number;
	readonly clientToken?: string;
}

export type ErrorCode = 400 | 404 | 409 | 413 | 415;

export interface UpdateAccepted {
	/** null echoes a `"state": null` request; AWS then answers `"metadata": { "timestamp" }`. */
	readonly state: { desired?: JsonObject | null; reported?: JsonObject | null } | null;
	readonly metadata: { desired?: Json; reported?: Json; timestamp?: number };
	readonly version: number;
	readonly timestamp: number;
	readonly clientToken?: string;
}

export interface DeltaReply {
	readonly state: JsonObject;
	readonly metadata: JsonObject;
	readonly version: number;
	readonly timestamp: number;
	readonly clientToken?: string;
}

export interface Snapshot {
	readonly state: ShadowState;
	readonly metadata: ShadowState;
	readonly version: number;
}

export interface DocumentsReply {
	/** null when the update created the shadow (our choice: AWS documents no `previous` for a new shadow). */
	readonly previous: Snapshot | null;
	readonly current: Snapshot;
	readonly timestamp: number;
	readonly clientToken?: string;
}

export interface GetReply {
	readonly state: ShadowState & { readonly delta?: JsonObject };
	readonly metadata: ShadowState;
	readonly version: number;
	readonly timestamp: number;
	readonly clientToken?: string;
}

export interface DeleteReply {
	readonly version: number;
	readonly timestamp: number;
	readonly clientToken?: string;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ErrorReply };

export type UpdateOutcome =
	| {
			readonly ok: true;
			readonly shadow: Shadow;
			readonly accepted: UpdateAccepted;
			/** Present when the new shadow has a delta (DSM "/update/delta"). */
			readonly delta?: DeltaReply;
			readonly documents: DocumentsReply;
	  }
	| { readonly ok: false; readonly error: ErrorReply };

/** DSD note, DPS: the desired and reported state together, metadata excluded, at most 8 KB. */
export const MAX_STATE_BYTES = 8 * 1024;
/** DSE 400 "JSON contains too many levels of nesting; maximum is 6". */
export const MAX_DEPTH = 6;
/** DSD "Client tokens": at most 64 bytes. */
export const MAX_CLIENT_TOKEN_BYTES = 64;

export const MESSAGES = Object.freeze({
	invalidJson: 'Invalid JSON',
	encoding: 'Unsupported documented encoding; supported encoding is UTF-8',
	missingState: 'Missing required node: state',
	stateObject: 'State node must be an object',
	desiredObject: 'Desired node must be an object',
	reportedObject: 'Reported node must be an object',
	version: 'Invalid version',
	clientToken: 'Invalid clientToken',
	depth: 'JSON contains too many levels of nesting; maximum is ' + MAX_DEPTH,
	tooLarge: 'The payload exceeds the maximum size allowed',
	conflict: 'Version conflict',
} as const);

const enc = new TextEncoder();
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** '' is the classic (unnamed) shadow; a named one's rule is the core's (contracts/thing.ts). */
export function isShadowName(name: string): boolean {
	return name === '' || isNamedShadow(name);
}

/** The 404 message of DSE, naming the thing for the classic shadow. */
export function notFound(thing: string, name: string, now: number, clientToken?: string): ErrorReply {
	return errorReply(404, "No shadow exists with name: '" + (name === '' ? thing : name) + "'", now, clientToken);
}

export function errorReply(code: ErrorCode, message: string, now: number, clientToken?: string): ErrorReply {
	return withToken({ code, message, timestamp: seconds(now) }, clientToken);
}

/** Epoch seconds from epoch milliseconds. */
export function seconds(nowMs: number): number {
	return Math.floor(nowMs / 1000);
}

/** A UTF-8 JSON payload as an object; 415 when the bytes are not UTF-8, 400 when not a JSON object. */
export function parseJsonObject(payload: Uint8Array | string, now: number): Parsed<JsonObject> {
	let text: string;
	try {
		text = typeof payload === 'string' ? payload : utf8.decode(payload);
	} catch {
		return { ok: false, error: errorReply(415, MESSAGES.encoding, now) };
	}
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		return { ok: false, error: errorReply(400, MESSAGES.invalidJson, now) };
	}
	if (!isObject(value)) return { ok: false, error: errorReply(400, MESSAGES.invalidJson, now) };
	return { ok: true, value: value as JsonObject };
}

/**
 * The clientToken of a get or delete request. The payload may be empty; DSM says the content
 * of a delete is ignored, so a payload that is not JSON gives no token rather than an error.
 */
export function requestToken(payload: Uint8Array | string): string | undefined {
	if (payload.length === 0) return undefined;
	const parsed = parseJsonObject(payload, 0);
	if (!parsed.ok) return undefined;
	const t = parsed.value.clientToken;
	return validToken(t) ? t : undefined;
}

/** Checks an update request (DSD "Request state document", DSE 400 and 415). */
export function parseUpdate(payload: Uint8Array | string, now: number): Parsed<UpdateRequest> {
	const parsed = parseJsonObject(payload, now);
	if (!parsed.ok) return parsed;
	const body = parsed.value;
	// the token is echoed in every later rejection, so it is checked first
	const token = body.clientToken;
	if (token !== undefined && !validToken(token)) return fail(400, MESSAGES.clientToken, now);
	const clientToken = token as string | undefined;
	const bad = (code: ErrorCode, message: string): Parsed<UpdateRequest> => fail(code, message, now, clientToken);
	const version = body.version;
	if (version !== undefined && !(Number.isSafeInteger(version) && (version as number) >= 0)) return bad(400, MESSAGES.version);
	if (!('state' in body)) return bad(400, MESSAGES.missingState);
	// `"state": null` clears desired and reported and keeps the shadow: the data-flow page's
	// "Deleting a shadow" note ("Setting the device's shadow state to null does not delete the
	// shadow. The shadow version will be incremented"); AWS answers it as an update
	if (body.state === null) return { ok: true, value: { state: null, ...(clientToken !== undefined ? { clientToken } : {}), ...(version !== undefined ? { version: version as number } : {}) } };
	if (!isObject(body.state)) return bad(400, MESSAGES.stateObject);
	const state: { desired?: JsonObject | null; reported?: JsonObject | null } = {};
	for (const key of Object.keys(body.state)) {
		// DSE 400 "State contains an invalid node": only desired and reported may be written
		if (key !== 'desired' && key !== 'reported') return bad(400, "State contains an invalid node: '" + key + "'");
		const v = body.state[key];
		if (v !== null && !isObject(v)) return bad(400, key === 'desired' ? MESSAGES.desiredObject : MESSAGES.reportedObject);
		if (v !== null) {
			if (depth(v) > MAX_DEPTH) return bad(400, MESSAGES.depth);
			const nullAt = nullInArray(v, key);
			// DSD "Array values": arrays can't have null values
			if (nullAt !== undefined) return bad(400, "State contains an invalid node: '" + nullAt + "'");
		}
		state[key] = v as JsonObject | null;
	}
	const request: UpdateRequest = { state, ...(clientToken !== undefined ? { clientToken } : {}), ...(version !== undefined ? { version: version as number } : {}) };
	return { ok: true, value: request };
}

/**
 * Applies an update to a shadow (undefined: none exists). `lastVersion` is the version of the
 * shadow, or of the last deleted one: DSM "deleting a shadow does not reset its version number".
 */
export function applyUpdate(current: Shadow | undefined, lastVersion: number, request: UpdateRequest, now: number): UpdateOutcome {
	const ts = seconds(now);
	const token = request.clientToken;
	const version = current ? current.version : lastVersion;
	// DSD "version": processed only if it matches the latest version. For a shadow that does not
	// exist the latest is the deleted one's, or 0 (our choice: AWS does not document this case).
	if (request.version !== undefined && request.version !== version) {
		return { ok: false, error: errorReply(409, MESSAGES.conflict, now, token) };
	}
	const state: { desired?: JsonObject; reported?: JsonObject } = {};
	const metadata: { desired?: JsonObject; reported?: JsonObject } = {};
	if (request.state === null) {
		// the whole state cleared, on an existing shadow or a new one (UPDATE "creates a shadow if
		// it doesn't exist": an empty one, DSD's "empty, yet valid shadow document"); the reply is
		// AWS's: `{"state":null,"metadata":{"timestamp":...},"version":...,"timestamp":...}`
		const shadow: Shadow = { state, metadata, version: version + 1 };
		const accepted: UpdateAccepted = withToken({ state: null, metadata: { timestamp: ts }, version: shadow.version, timestamp: ts }, token);
		const documents: DocumentsReply = withToken({ previous: current ? snapshot(current) : null, current: snapshot(shadow), timestamp: ts }, token);
		return { ok: true, shadow, accepted, documents };
	}
	const echoState: { desired?: JsonObject | null; reported?: JsonObject | null } = {};
	const echoMeta: { desired?: Json; reported?: Json } = {};
	for (const section of SECTIONS) {
		const patch = request.state[section];
		let value = current?.state[section];
		let meta = current?.metadata[section];
		if (patch === null) {
			// DSD "Empty shadow document properties": a null section is removed
			value = undefined;
			meta = undefined;
			echoState[section] = null;
			echoMeta[section] = { timestamp: ts };
		} else if (patch !== undefined) {
			const merged = mergeObject(value ?? {}, meta ?? {}, patch, ts);
			value = merged.value;
			meta = merged.meta;
			echoState[section] = patch;
			echoMeta[section] = stamp(patch, ts);
		}
		// only null removes (DSD "Empty shadow document properties": desired and reported "can be
		// empty"; "Values, objects, and arrays are stored"): a section written as {} or emptied key
		// by key stays, as {}
		if (value !== undefined) {
			state[section] = value;
			metadata[section] = meta ?? {};
		}
	}
	if (enc.encode(JSON.stringify(state)).byteLength > MAX_STATE_BYTES) {
		return { ok: false, error: errorReply(413, MESSAGES.tooLarge, now, token) };
	}
	const shadow: Shadow = { state, metadata, version: version + 1 };
	const accepted: UpdateAccepted = withToken({ state: echoState, metadata: echoMeta, version: shadow.version, timestamp: ts }, token);
	const documents: DocumentsReply = withToken({ previous: current ? snapshot(current) : null, current: snapshot(shadow), timestamp: ts }, token);
	const d = deltaOf(shadow);
	// DSM "/update/delta": published when the accepted shadow's desired and reported differ,
	// with every differing desired attribute, whether or not this update carried it
	const delta: DeltaReply | undefined = d ? withToken({ state: d.state, metadata: d.metadata, version: shadow.version, timestamp: ts }, token) : undefined;
	return { ok: true, shadow, accepted, documents, ...(delta ? { delta } : {}) };
}

/** The get/accepted document (DSD "Response state documents"): `delta` only when desired differs from reported. */
export function getReply(shadow: Shadow, now: number, clientToken?: string): GetReply {
	const d = deltaOf(shadow);
	const state = { ...shadow.state, ...(d ? { delta: d.state } : {}) };
	return withToken({ state, metadata: shadow.metadata, version: shadow.version, timestamp: seconds(now) }, clientToken);
}

/** delete/accepted: the version the shadow had, which a new shadow of the same name continues from. */
export function deleteReply(shadow: Shadow, now: number, clientToken?: string): DeleteReply {
	return withToken({ version: shadow.version, timestamp: seconds(now) }, clientToken);
}

/**
 * DSD "Delta state": every desired field absent from reported or different from it; nested
 * objects keep their path to the root; arrays are values, copied whole when they differ.
 * Its metadata is the desired metadata of the same fields.
 */
export function deltaOf(shadow: Shadow): { state: JsonObject; metadata: JsonObject } | undefined {
	const desired = shadow.state.desired;
	if (!desired) return undefined;
	const out = diff(desired, shadow.state.reported, shadow.metadata.desired ?? {});
	return Object.keys(out.state).length > 0 ? out : undefined;
}

function diff(desired: JsonObject, reported: Json | undefined, meta: JsonObject): { state: JsonObject; metadata: JsonObject } {
	const state: JsonObject = {};
	const metadata: JsonObject = {};
	const rep = isObject(reported) ? reported : undefined;
	for (const key of Object.keys(desired)) {
		const want = desired[key] as Json;
		const have = rep ? rep[key] : undefined;
		const m = meta[key] ?? {};
		if (isObject(want) && isObject(have)) {
			const sub = diff(want, have, isObject(m) ? m : {});
			if (Object.keys(sub.state).length > 0) {
				state[key] = sub.state;
				metadata[key] = sub.metadata;
			}
		} else if (have === undefined || !deepEqual(want, have)) {
			state[key] = want;
			metadata[key] = m;
		}
	}
	return { state, metadata };
}

/** Merges `patch` into `value`: objects merge key by key, null removes, anything else replaces (DSD). */
function mergeObject(value: JsonObject, meta: JsonObject, patch: JsonObject, ts: number): { value: JsonObject; meta: JsonObject } {
	const v: JsonObject = { ...value };
	const m: JsonObject = { ...meta };
	for (const key of Object.keys(patch)) {
		const p = patch[key] as Json;
		if (p === null) {
			delete v[key];
			delete m[key];
		} else if (isObject(p)) {
			const old = v[key];
			const oldMeta = m[key];
			const merged = mergeObject(isObject(old) ? old : {}, isObject(old) && isObject(oldMeta) ? oldMeta : {}, p, ts);
			// an object is a value: written as {} or emptied by nulls, it stays as {} (only null removes)
			v[key] = merged.value;
			m[key] = merged.meta;
		} else {
			v[key] = p;
			m[key] = stamp(p, ts);
		}
	}
	return { value: v, meta: m };
}

/** Metadata for a written value: { timestamp } per leaf, mirrored through objects and arrays. */
function stamp(value: Json, ts: number): Json {
	if (Array.isArray(value)) return value.map((e) => stamp(e, ts));
	if (isObject(value)) {
		const out: JsonObject = {};
		for (const key of Object.keys(value)) out[key] = stamp(value[key] as Json, ts);
		return out;
	}
	return { timestamp: ts };
}

function snapshot(s: Shadow): Snapshot {
	return { state: s.state, metadata: s.metadata, version: s.version };
}

/** Levels of objects and arrays below a section: `{ a: 1 }` is 1 (our reading of "maximum is 6"). */
function depth(value: Json): number {
	if (Array.isArray(value)) return 1 + Math.max(0, ...value.map((e) => (isContainer(e) ? depth(e) : 0)));
	if (isObject(value)) return 1 + Math.max(0, ...Object.values(value).map((e) => (isContainer(e) ? depth(e) : 0)));
	return 0;
}

function nullInArray(value: Json, path: string): string | undefined {
	if (Array.isArray(value)) {
		for (let i = 0; i < value.length; i++) {
			const e = value[i] as Json;
			if (e === null) return path + '[' + i + ']';
			const inner = nullInArray(e, path + '[' + i + ']');
			if (inner !== undefined) return inner;
		}
	} else if (isObject(value)) {
		for (const key of Object.keys(value)) {
			const inner = nullInArray(value[key] as Json, path + '.' + key);
			if (inner !== undefined) return inner;
		}
	}
	return undefined;
}

export function deepEqual(a: Json, b: Json): boolean {
	if (a === b) return true;
	if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((e, i) => deepEqual(e, b[i] as Json));
	if (isObject(a) && isObject(b)) {
		const ka = Object.keys(a);
		return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k] as Json, b[k] as Json));
	}
	return false;
}

function isObject(v: unknown): v is JsonObject {
	return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isContainer(v: Json): boolean {
	return typeof v === 'object' && v !== null;
}

function validToken(t: unknown): t is string {
	return typeof t === 'string' && enc.encode(t).byteLength <= MAX_CLIENT_TOKEN_BYTES;
}

function fail<T>(code: ErrorCode, message: string, now: number, clientToken?: string): Parsed<T> {
	return { ok: false, error: errorReply(code, message, now, clientToken) };
}

function withToken<T extends object>(o: T, clientToken: string | undefined): T & { clientToken?: string } {
	return clientToken === undefined ? o : { ...o, clientToken };
}
