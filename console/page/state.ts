/*
 * The page's state, kept from what the server pushed, and the pieces every panel uses: the
 * JSON API call (a refusal is the server's ApiError, the cloud's own words) and how errors,
 * JSON and times are shown.
 */
import type { ApiError, EventBatch, JobView, MissionRow, RobotView } from '../protocol';
import { compactJson, fill } from './dom';
import type { Written } from './schedule-status';
import { tokenHeaders } from './token';

export interface State {
	live: 'connecting' | 'open' | 'lost';
	readonly robots: Map<string, RobotView>;
	readonly missions: Map<string, readonly MissionRow[]>;
	readonly batches: Map<string, EventBatch[]>;
	jobs: readonly JobView[];
	selected: string | undefined;
	/** The last edit this page wrote, per robot. */
	readonly written: Map<string, Written>;
	/** The map on the canvas (or being fetched). */
	map: { thing: string; missionId: string } | undefined;
	/** Robots whose map the person chose (no longer follow the newest automatically). */
	readonly pinnedMap: Set<string>;
	/** The mission whose stored report is shown whole. */
	report: string | undefined;
}

export const state: State = {
	live: 'connecting',
	robots: new Map(),
	missions: new Map(),
	batches: new Map(),
	jobs: [],
	selected: undefined,
	written: new Map(),
	map: undefined,
	pinnedMap: new Set(),
	report: undefined,
};

export const $ = <T extends HTMLElement>(id: string): T => {
	const el = document.getElementById(id);
	if (!el) throw new Error('the page has no #' + id);
	return el as T;
};

/** A JSON request to the console's server; a refusal is the server's ApiError. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<{ ok: true; value: T } | { ok: false; error: ApiError }> {
	let res: Response;
	try {
		res = await fetch(path, method === 'GET' ? { headers: tokenHeaders() } : { method, headers: { 'content-type': 'application/json', ...tokenHeaders() }, body: JSON.stringify(body ?? {}) });
	} catch (e) {
		return { ok: false, error: { status: 0, code: 'NetworkError', message: 'the console server did not answer: ' + (e as Error).message } };
	}
	const text = await res.text();
	let x: unknown;
	try {
		x = text ? JSON.parse(text) : {};
	} catch {
		x = { status: res.status, code: 'BadReply', message: text.slice(0, 200) };
	}
	if (res.ok) return { ok: true, value: x as T };
	const e = x as Partial<ApiError>;
	return { ok: false, error: { status: e.status ?? res.status, code: e.code ?? 'Error', message: e.message ?? text } };
}

export const showError = (id: string, e: ApiError | undefined) => fill(id, e ? `${e.code} (HTTP ${e.status}): ${e.message}` : '');
export const json = (x: unknown) => (x === null || x === undefined ? '—' : compactJson(x, '', 40));
export const time = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toLocaleTimeString() : '—');
