/*
 * The local console: a single page on 127.0.0.1 that shows the system live and acts on it
 * through the cloud's APIs (console/backend.ts), as the owner's app and the operator's tools
 * do. The page is TypeScript bundled with esbuild at start; live updates are server-sent
 * events (console/live.ts). Robot controls (go offline, come back, start a mission) are the
 * rig's own functions, passed in by whoever runs the robots (tools/start.ts, tests).
 *
 *   GET  /                                   the page
 *   GET  /app.js                             its bundle
 *   GET  /api/live                           server-sent events: LiveMessage (console/protocol.ts)
 *   PUT  /api/robots/{thing}/schedule        { schedule: "<JSON as typed>" } -> desired
 *   GET  /api/robots/{thing}/missions        the stored reports, newest first (then pushed as they change)
 *   GET  /api/robots/{thing}/missions/{id}/map   the decrypted RMAP bytes
 *   POST /api/robots/{thing}/control/{offline|online|mission}
 *   POST /api/jobs                           { version, things: [..] } -> CreateJob
 *   POST /api/jobs/{jobId}/cancel            CancelJob
 *   GET  /owner/  (app.js, config.json)      the owner's view (console/owner-app.ts): owner API only
 * Errors are `{ status, code, message }` (ApiError) with the cloud's own words.
 *
 * Only the page's own origin may act: the Host must be this server (no DNS rebinding); every
 * API call and the event stream must carry this start's session token (`url` has it in the
 * fragment; the page sends it as `x-console-token`, on the stream as `?token=`), so another
 * local process or page cannot drive the console; a write must come with this server's
 * `Origin` and be `application/json`. Every answer forbids framing (CSP frame-ancestors
 * 'none', X-Frame-Options DENY) and MIME sniffing. A malformed path is a 400. No credential
 * or signed URL is ever in an answer.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePage } from './bundle';
import type { LocalCloud } from '../cloud/local/index';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { HttpError, listen, readBody, sendJson } from '../cloud/local/http';
import { isThingName } from '../firmware/core/contracts/thing';
import { localThingArn } from '../cloud/ota/publish';
import { createBackend, type FirmwareSource, type Result } from './backend';
import { createLive, type LiveLog } from './live';
import { CONTROLS, type ApiError, type Control, type LiveMessage } from './protocol';
import { allowOwnerView, loadOwnerView, OWNER_PATH } from './owner-app';

/** A robot the console shows; the controls are present for the rig's simulated robots. */
export interface ConsoleRobot {
	readonly thing: string;
	readonly offline?: () => void | Promise<void>;
	readonly online?: () => void | Promise<void>;
	/** Starts a mission now; answers its id when the robot took it. */
	readonly mission?: () => string | undefined | Promise<string | undefined>;
}

export interface ConsoleOptions {
	readonly cloud: LocalCloud;
	readonly robots: readonly ConsoleRobot[];
	/** 0 (default) picks a free port. */
	readonly port?: number;
	/** Signing key and images for firmware jobs; without it jobs are listed and cancelled only. */
	readonly firmware?: Omit<FirmwareSource, 'thingArn'>;
	readonly log?: LiveLog;
}

export interface Console {
	/** The page's URL with this start's session token in the fragment: what `npm start` prints. */
	readonly url: string;
	/** The session token itself (API clients send it as `x-console-token`). */
	readonly token: string;
	/** The owner's view (no session token: it signs in as an owner and uses the owner API only). */
	readonly ownerUrl: string;
	close(): Promise<void>;
}

/** Largest request body: a schedule as typed, with room for the cloud to refuse an oversized one itself. */
export const MAX_BODY_BYTES = 64 * 1024;
const HEARTBEAT_MS = 15_000;
/** The header the page sends its session token in (console/page/token.ts). */
export const TOKEN_HEADER = 'x-console-token';
/** Sent with every answer: never in a frame of another page, never sniffed as another type. */
const SECURITY_HEADERS = Object.freeze({
	'content-security-policy': "frame-ancestors 'none'",
	'x-frame-options': 'DENY',
	'x-content-type-options': 'nosniff',
	'referrer-policy': 'no-referrer',
});
const here = path.dirname(fileURLToPath(import.meta.url));

const fail = (status: number, code: string, message: string): never => {
	throw new HttpError(status, code, message);
};

async function jsonBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
	const type = req.headers['content-type'] ?? '';
	if (!type.startsWith('application/json')) fail(415, 'UnsupportedMediaType', 'expected application/json, got ' + JSON.stringify(type));
	const text = (await readBody(req, MAX_BODY_BYTES)).toString('utf8');
	let x: unknown;
	try {
		x = JSON.parse(text);
	} catch (e) {
		return fail(400, 'InvalidRequest', 'the request is not JSON: ' + (e as Error).message);
	}
	if (typeof x !== 'object' || x === null || Array.isArray(x)) fail(400, 'InvalidRequest', 'expected a JSON object');
	return x as Record<string, unknown>;
}

function reply<T>(res: http.ServerResponse, r: Result<T>, ok: (v: T) => unknown = (v) => v): void {
	if (r.ok) sendJson(res, 200, ok(r.value) ?? {});
	else sendJson(res, r.error.status, r.error);
}

export async function startConsole(o: ConsoleOptions): Promise<Console> {
	const log: LiveLog = o.log ?? (() => undefined);
	const t0 = performance.now();
	const [html, js, owner] = await Promise.all([readFile(path.join(here, 'page', 'index.html'), 'utf8'), bundlePage(), loadOwnerView(o.cloud)]);
	log('info', 'console.bundled', { bytes: js.length, ms: Math.round(performance.now() - t0) });

	const token = randomBytes(32).toString('base64url');
	const tokenBytes = Buffer.from(token);
	const hasToken = (given: string | undefined): boolean => {
		const b = Buffer.from(given ?? '');
		return b.length === tokenBytes.length && timingSafeEqual(b, tokenBytes);
	};
	const robots = new Map(o.robots.map((r) => [r.thing, r]));
	const backend = createBackend({
		endpoints: o.cloud.endpoints,
		region: LOCAL_REGION,
		credentials: { ...LOCAL_CREDENTIALS },
		missionsTable: o.cloud.tables.missions,
		...(o.firmware ? { firmware: { ...o.firmware, thingArn: localThingArn } } : {}),
	});
	const controls = new Set(o.robots.filter((r) => r.offline || r.online || r.mission).map((r) => r.thing));
	const live = createLive({ cloud: o.cloud, backend, things: [...robots.keys()], controls, log });
	const streams = new Set<http.ServerResponse>();

	const knownThing = (thing: string | undefined): string => {
		if (thing === undefined || !isThingName(thing)) return fail(400, 'InvalidRequest', 'not a thing name: ' + JSON.stringify(thing));
		if (!live.things.includes(thing)) return fail(404, 'NotFound', 'no robot ' + thing);
		return thing;
	};

	async function openStream(res: http.ServerResponse): Promise<void> {
		res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
		const send = (m: LiveMessage) => res.write('event: ' + m.type + '\ndata: ' + JSON.stringify(m) + '\n\n');
		// subscribe first, so nothing that happens while the snapshot is read is missed (a repeat is harmless)
		const held: LiveMessage[] = [];
		let ready = false;
		const off = live.subscribe((m) => (ready ? send(m) : held.push(m)));
		const beat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
		streams.add(res);
		res.on('close', () => {
			off();
			clearInterval(beat);
			streams.delete(res);
		});
		for (const m of await live.snapshot()) send(m);
		for (const m of held) send(m);
		ready = true;
	}

	async function control(thing: string, name: Control): Promise<Result<{ mission?: string }>> {
		const r = robots.get(thing);
		const f = r?.[name];
		if (!f) return { ok: false, error: { status: 404, code: 'NoControl', message: thing + ' has no "' + name + '" control (not a simulated robot of this rig)' } };
		try {
			const out = await f();
			log('info', 'console.control', { thing, control: name, ...(typeof out === 'string' ? { mission: out } : {}) });
			if (name === 'mission') {
				live.touch({ missions: thing });
				if (typeof out !== 'string') return { ok: false, error: { status: 409, code: 'MissionRefused', message: thing + ' did not start a mission (one is running, or it is docking)' } };
				return { ok: true, value: { mission: out } };
			}
			return { ok: true, value: {} };
		} catch (e) {
			return { ok: false, error: { status: 500, code: 'ControlFailed', message: (e as Error).message } };
		}
	}

	const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
		for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
		const host = req.headers.host ?? '';
		if (host !== '127.0.0.1:' + server.port && host !== 'localhost:' + server.port) return fail(421, 'MisdirectedRequest', 'this console answers only at 127.0.0.1:' + server.port);
		const url = new URL(req.url ?? '/', 'http://' + host);
		let parts: string[];
		try {
			parts = url.pathname
				.split('/')
				.slice(1)
				.map((p) => decodeURIComponent(p));
		} catch {
			return fail(400, 'InvalidRequest', 'malformed percent escape in the path ' + JSON.stringify(url.pathname));
		}
		if (parts[0] === 'api') {
			// the stream's EventSource cannot send a header: its token rides in the query
			const given = req.headers[TOKEN_HEADER] ?? (url.pathname === '/api/live' ? (url.searchParams.get('token') ?? undefined) : undefined);
			if (!hasToken(Array.isArray(given) ? given[0] : given)) return fail(401, 'Unauthorized', 'this console takes API calls only with its session token (the URL npm start printed)');
			const write = req.method !== 'GET' && req.method !== 'HEAD';
			const origin = req.headers.origin;
			if (write && origin !== 'http://127.0.0.1:' + server.port && origin !== 'http://localhost:' + server.port)
				return fail(403, 'Forbidden', "a write must come from this console's own page (Origin " + JSON.stringify(origin ?? null) + ')');
		}
		const route = (req.method ?? 'GET') + ' ' + parts.map((p, i) => (i >= 2 && (parts[i - 1] === 'robots' || parts[i - 1] === 'jobs' || parts[i - 1] === 'missions') ? '{}' : p)).join('/');
		switch (route) {
			case 'GET ':
				res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
				res.end(html);
				return;
			case 'GET app.js':
				res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
				res.end(js);
				return;
			case 'GET api/live':
				return openStream(res);
			case 'GET owner':
				res.writeHead(308, { location: OWNER_PATH });
				res.end();
				return;
			case 'GET owner/':
				res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
				res.end(owner.html);
				return;
			case 'GET owner/app.js':
				res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
				res.end(owner.js);
				return;
			case 'GET owner/config.json':
				res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
				res.end(owner.config);
				return;
			case 'PUT api/robots/{}/schedule': {
				const thing = knownThing(parts[2]);
				const body = await jsonBody(req);
				if (typeof body.schedule !== 'string') return fail(400, 'InvalidRequest', '"schedule" expected the schedule as JSON text');
				const r = await backend.setSchedule(thing, body.schedule);
				log(r.ok ? 'info' : 'warn', 'console.schedule_set', { thing, ...(r.ok ? { version: r.value.writtenVersion } : { refused: r.error }) });
				live.touch({ shadows: thing });
				return reply(res, r);
			}
			case 'GET api/robots/{}/missions':
				return reply(res, await backend.missions(knownThing(parts[2])));
			case 'GET api/robots/{}/missions/{}/map': {
				const r = await backend.map(knownThing(parts[2]), parts[4] ?? '');
				if (!r.ok) return reply(res, r);
				res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': r.value.byteLength, 'cache-control': 'no-store' });
				res.end(r.value);
				return;
			}
			case 'POST api/robots/{}/control/offline':
			case 'POST api/robots/{}/control/online':
			case 'POST api/robots/{}/control/mission': {
				const name = parts[4] as Control;
				if (!CONTROLS.includes(name)) return fail(404, 'NotFound', 'no control ' + name);
				await jsonBody(req);
				return reply(res, await control(knownThing(parts[2]), name));
			}
			case 'POST api/jobs': {
				const body = await jsonBody(req);
				const things = body.things === 'all' ? live.things : body.things;
				if (!Array.isArray(things) || things.some((t) => typeof t !== 'string')) return fail(400, 'InvalidRequest', '"things" expected "all" or an array of thing names');
				for (const t of things as string[]) knownThing(t);
				const r = await backend.createJob(typeof body.version === 'string' ? body.version : String(body.version), things as string[]);
				log(r.ok ? 'info' : 'warn', 'console.job_created', { things, version: body.version, ...(r.ok ? r.value : { refused: r.error }) });
				live.touch({ jobs: true });
				return reply(res, r);
			}
			case 'POST api/jobs/{}/cancel': {
				await jsonBody(req);
				const r = await backend.cancelJob(parts[2] ?? '');
				log(r.ok ? 'info' : 'warn', 'console.job_cancelled', { jobId: parts[2], ...(r.ok ? {} : { refused: r.error }) });
				live.touch({ jobs: true });
				return reply(res, r, () => ({}));
			}
			default:
				return fail(404, 'NotFound', 'no ' + req.method + ' ' + url.pathname);
		}
	};

	const server = await listen(handle, {
		host: '127.0.0.1',
		port: o.port ?? 0,
		onError(res, e) {
			const error: ApiError = e instanceof HttpError ? { status: e.status, code: e.code, message: e.message } : { status: 500, code: 'InternalError', message: String(e) };
			if (!(e instanceof HttpError)) log('error', 'console.request_failed', { error: error.message });
			sendJson(res, error.status, error);
		},
	});
	allowOwnerView(o.cloud, server.port);
	log('info', 'console.started', { url: server.url + '/' });
	return {
		url: server.url + '/#token=' + token,
		token,
		ownerUrl: server.url + OWNER_PATH,
		async close() {
			live.close();
			for (const s of streams) s.end();
			await server.close();
			backend.destroy();
		},
	};
}
