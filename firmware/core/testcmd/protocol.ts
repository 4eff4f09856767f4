/*
 * The test-control protocol: what a test rig may ask a robot in a test build, one JSON
 * object per line on its stdin (simulator) or serial console (board), and the one
 * reply line it gets back. Production builds do not include it.
 *
 *   {"id":7,"cmd":"status"}                 -> {"reply":7,"ok":true,"status":{...}}
 *   {"id":8,"cmd":"offline"}                radio off: the link stops, cleaning goes on
 *   {"id":9,"cmd":"online"}                 radio back on
 *   {"id":10,"cmd":"mission"}               a button press: a mission starts now
 *   {"id":11,"cmd":"clock-jump","ms":-3600000}  the wall clock jumps (NTP correction, RTC fault)
 *   {"id":12,"cmd":"endpoint","endpoint":"host:8883","server":"name"}  writes the robot's endpoint
 *                                           record (as provisioning does) and connects to it
 *   {"id":13,"cmd":"self-test"}             the platform's known-answer checks -> {"selfTest":{...}}
 *   {"id":14,"cmd":"logs","since":0}        the robot's own log lines after `since` (core/log/ring.ts),
 *                                           as many as one 1 KB reply line holds -> {"logs":{"lines":[..],"last","more","lost"}}
 *   anything else                           -> {"reply":<id or null>,"ok":false,"error":{"code":"bad","reason":"..."}}
 *
 * Replies carry `reply` (never `event`), so a reader tells them from the robot's log
 * lines on the same stream.
 */
import { err, ok, type Result } from '../util/result';

export const TEST_COMMANDS = Object.freeze(['status', 'offline', 'online', 'mission', 'clock-jump', 'endpoint', 'self-test', 'logs'] as const);
export type TestCommandName = (typeof TEST_COMMANDS)[number];

export type TestCommand =
	| { readonly cmd: 'status' }
	| { readonly cmd: 'offline' }
	| { readonly cmd: 'online' }
	| { readonly cmd: 'mission' }
	| { readonly cmd: 'clock-jump'; readonly ms: number }
	/** `endpoint` as the endpoint record holds it ("host" or "host:port"), `server` the TLS name when it differs. */
	| { readonly cmd: 'endpoint'; readonly endpoint: string; readonly server?: string }
	| { readonly cmd: 'self-test' }
	/** Lines numbered after `since` (0: all the ring holds). */
	| { readonly cmd: 'logs'; readonly since: number };

/** The fields each command takes besides id and cmd. */
const FIELDS: Readonly<Record<TestCommandName, readonly string[]>> = Object.freeze({
	status: [],
	offline: [],
	online: [],
	mission: [],
	'clock-jump': ['ms'],
	endpoint: ['endpoint', 'server'],
	'self-test': [],
	logs: ['since'],
});

export interface TestRequest {
	/** Echoed in the reply; the rig numbers its requests. */
	readonly id: number | null;
	readonly command: TestCommand;
}

/** A clock jump beyond ten years either way is a typo, not a fault to inject. */
export const MAX_CLOCK_JUMP_MS = 10 * 365 * 24 * 3600 * 1000;

export interface BadRequest {
	readonly code: 'bad';
	readonly id: number | null;
	readonly reason: string;
}

export function parseRequest(line: string): Result<TestRequest, BadRequest> {
	let v: unknown;
	try {
		v = JSON.parse(line);
	} catch {
		return err({ code: 'bad', id: null, reason: 'not JSON' });
	}
	if (typeof v !== 'object' || v === null || Array.isArray(v)) return err({ code: 'bad', id: null, reason: 'expected a JSON object' });
	const o = v as Record<string, unknown>;
	const id = o.id === undefined ? null : o.id;
	if (id !== null && (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0)) return err({ code: 'bad', id: null, reason: '"id" expected a non-negative integer' });
	const bad = (reason: string) => err<BadRequest>({ code: 'bad', id, reason });
	const cmd = o.cmd;
	if (typeof cmd !== 'string' || !(TEST_COMMANDS as readonly string[]).includes(cmd)) return bad(`"cmd" expected one of ${TEST_COMMANDS.join(', ')}, got ${JSON.stringify(cmd) ?? 'nothing'}`);
	const extra = Object.keys(o).filter((k) => k !== 'id' && k !== 'cmd' && !FIELDS[cmd as TestCommandName].includes(k));
	if (extra.length > 0) return bad(`unknown field "${extra[0]}" for ${cmd}`);
	if (cmd === 'clock-jump') {
		const ms = o.ms;
		if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms === 0 || Math.abs(ms) > MAX_CLOCK_JUMP_MS) return bad(`"ms" expected a non-zero integer within ±${MAX_CLOCK_JUMP_MS}, got ${JSON.stringify(ms) ?? 'nothing'}`);
		return ok({ id, command: { cmd, ms } });
	}
	if (cmd === 'endpoint') {
		const { endpoint, server } = o;
		// the robot parses the record itself (core/robot/onboarding.ts): here only its shape
		if (typeof endpoint !== 'string' || endpoint.length === 0 || endpoint.length > 256) return bad(`"endpoint" expected "host" or "host:port", got ${JSON.stringify(endpoint) ?? 'nothing'}`);
		if (server !== undefined && (typeof server !== 'string' || server.length === 0 || server.length > 256)) return bad(`"server" expected a host name, got ${JSON.stringify(server)}`);
		return ok({ id, command: server === undefined ? { cmd, endpoint } : { cmd, endpoint, server } });
	}
	if (cmd === 'logs') {
		const since = o.since ?? 0;
		if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0) return bad(`"since" expected a non-negative integer, got ${JSON.stringify(since)}`);
		return ok({ id, command: { cmd, since } });
	}
	return ok({ id, command: { cmd } as TestCommand });
}

export type TestReply = { readonly reply: number | null; readonly ok: true; readonly [k: string]: unknown } | { readonly reply: number | null; readonly ok: false; readonly error: { readonly code: string; readonly reason: string } };

export function formatReply(reply: TestReply): string {
	return JSON.stringify(reply);
}

/** For the rig: a reply line, or undefined for anything else on the stream (log lines). */
export function parseReply(line: string): TestReply | undefined {
	if (!line.startsWith('{"reply":')) return undefined;
	try {
		const v = JSON.parse(line) as TestReply;
		return typeof v.ok === 'boolean' ? v : undefined;
	} catch {
		return undefined;
	}
}
