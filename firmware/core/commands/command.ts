/*
 * The robot's commands as the app sends them through AWS IoT commands: the JSON payload of
 * `$aws/commands/things/<thing>/executions/<id>/request/json`, parsed and checked here.
 *
 *   { "action": "clean", "mode": "vacuum"|"mop"|"both", "rooms": "all" | "kitchen+hall", "notAfter": <epoch s> }
 *   { "action": "pause" | "resume" | "stop" | "dock" | "locate", "notAfter": <epoch s> }
 *   { "action": "settings", "volume"?: 0-100, "childLock"?: boolean, "notAfter": <epoch s> }
 *
 * `notAfter` is the app's deadline (it starts the execution with the same timeout): a command
 * that reaches a robot after it, e.g. one kept by the broker while the robot was offline, is not
 * run. Rooms are one string (`+`-joined) because a command parameter is a scalar (S, I, ...).
 */
import { pattern } from '../util/pattern';
export const ACTIONS = Object.freeze(['clean', 'pause', 'resume', 'stop', 'dock', 'locate', 'settings'] as const);
export type Action = (typeof ACTIONS)[number];
export const MODES = Object.freeze(['vacuum', 'mop', 'both'] as const);
export type Mode = (typeof MODES)[number];

export interface Settings {
	readonly volume?: number;
	readonly childLock?: boolean;
}

export type Command =
	| { readonly action: 'clean'; readonly mode: Mode; readonly rooms: readonly string[] | 'all'; readonly notAfter: number }
	| { readonly action: 'pause' | 'resume' | 'stop' | 'dock' | 'locate'; readonly notAfter: number }
	| { readonly action: 'settings'; readonly settings: Settings; readonly notAfter: number };

/** AWS IoT command execution ids: 1-64 of [a-zA-Z0-9_-]. */
const EXECUTION_ID = pattern(() => /^[a-zA-Z0-9_-]{1,64}$/);
export const ROOM = pattern(() => /^[a-z0-9_-]{1,32}$/);
export const MAX_ROOMS = 16;

export function isExecutionId(s: string): boolean {
	return EXECUTION_ID.test(s);
}

export function requestFilter(thing: string): string {
	return '$aws/commands/things/' + thing + '/executions/+/request/json';
}

export function responseTopic(thing: string, executionId: string): string {
	return '$aws/commands/things/' + thing + '/executions/' + executionId + '/response/json';
}

/** The execution id of a request topic of this thing, or undefined. */
export function executionIdOf(thing: string, topic: string): string | undefined {
	const prefix = '$aws/commands/things/' + thing + '/executions/';
	const suffix = '/request/json';
	if (!topic.startsWith(prefix) || !topic.endsWith(suffix)) return undefined;
	const id = topic.slice(prefix.length, topic.length - suffix.length);
	return isExecutionId(id) ? id : undefined;
}

/** The command, or why the payload is not one (every field's reason, first one first). */
export function parseCommand(text: string | undefined): { ok: true; command: Command } | { ok: false; reason: string } {
	if (text === undefined) return { ok: false, reason: 'payload is not UTF-8' };
	let v: unknown;
	try {
		v = JSON.parse(text);
	} catch {
		return { ok: false, reason: 'payload is not JSON' };
	}
	if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'payload expected a JSON object' };
	const o = v as Record<string, unknown>;
	const action = o.action as Action;
	if (ACTIONS.indexOf(action) < 0) return { ok: false, reason: 'action expected one of ' + ACTIONS.join(', ') + ', got ' + JSON.stringify(o.action) };
	const notAfter = o.notAfter;
	if (typeof notAfter !== 'number' || !Number.isSafeInteger(notAfter) || notAfter <= 0) return { ok: false, reason: 'notAfter expected epoch seconds' };
	switch (action) {
		case 'clean': {
			const mode = (o.mode ?? 'vacuum') as Mode;
			if (MODES.indexOf(mode) < 0) return { ok: false, reason: 'mode expected one of ' + MODES.join(', ') };
			const raw = o.rooms ?? 'all';
			if (typeof raw !== 'string') return { ok: false, reason: 'rooms expected "all" or names joined by +' };
			if (raw === 'all') return { ok: true, command: { action, mode, rooms: 'all', notAfter } };
			const rooms = raw.split('+');
			if (rooms.length > MAX_ROOMS || rooms.some((r) => !ROOM.test(r))) return { ok: false, reason: 'rooms expected at most ' + MAX_ROOMS + ' names of [a-z0-9_-] joined by +' };
			return { ok: true, command: { action, mode, rooms, notAfter } };
		}
		case 'settings': {
			const s: { volume?: number; childLock?: boolean } = {};
			if (o.volume !== undefined) {
				if (typeof o.volume !== 'number' || !Number.isInteger(o.volume) || o.volume < 0 || o.volume > 100) return { ok: false, reason: 'volume expected an integer 0-100' };
				s.volume = o.volume;
			}
			if (o.childLock !== undefined) {
				if (typeof o.childLock !== 'boolean') return { ok: false, reason: 'childLock expected a boolean' };
				s.childLock = o.childLock;
			}
			if (s.volume === undefined && s.childLock === undefined) return { ok: false, reason: 'settings expected volume or childLock' };
			return { ok: true, command: { action, settings: s, notAfter } };
		}
		default:
			return { ok: true, command: { action, notAfter } };
	}
}
