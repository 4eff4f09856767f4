/*
 * HttpPort over Moddable's `http` client (modules/network/http/http.js): map uploads to
 * presigned S3 URLs, firmware downloads. Thin, like the host adapter (platform/host/http.ts),
 * whose contract it keeps:
 *
 * - The request body is pulled: `body: true` makes http.js ask for each fragment with
 *   `Request.requestFragment` when the socket can take bytes, and the body pump
 *   (core/http/exchange.ts) pulls the next chunk from `body.next()` only when the last one
 *   is all written, so one chunk is in memory. Content-Length is the declared length; a
 *   body that yields fewer or more bytes fails.
 * - A 2xx response body goes to `onData` (read fragment by fragment with
 *   `Request.responseFragment`); otherwise, and for every non-2xx answer, it comes back
 *   whole, up to 64 KB (the response collector, core/http/exchange.ts).
 * - `timeoutMs` bounds the whole exchange. Never rejects.
 *
 * How it differs from Node, and why the code looks the way it does (8.2.3):
 * - http.js writes a `Host` header without the port. A presigned SigV4 URL signs `host`
 *   as `name:port` when the port is not the scheme's default, so we send our own Host
 *   (http.js then leaves its own out).
 * - http.js gives a fragment callback `room` bytes (what `socket.write()` says fits) and
 *   writes what it returns once per writable event. The lin socket (socket/lin/modSocket.c)
 *   is polled every 20 ms and has a 1024-byte transmit buffer, so that is 1 KB per 20 ms,
 *   about 50 KB/s: 40 s for a 2 MB map. So each event writes up to `turnBytes` straight to
 *   the request's socket, piece by piece, each piece no larger than what `write()` says
 *   fits (the same rule http.js follows; on lin a write is sent at once, on ESP32 it fills
 *   lwip's buffer and the loop stops when that is full), and returns an empty fragment to
 *   keep http.js in its body state. `turnBytes: 0` keeps to one piece per event.
 * - While the body is being sent http.js ignores what the server says: an early answer
 *   (S3's 403 to an expired URL before the body is all sent) is lost and the request
 *   ends as a network error when the server closes, not as an HTTP status.
 * - http.js signals failure as message -2 (`Request.error`); the 8.2.3 typings say -1,
 *   and type `Request.responseFragment` as 3 (it is 4). Numbers are used here.
 * - No URL class: the URL is split by hand (scheme, host, port, path with query as is).
 */
import { Request } from 'http';
import SecureSocket from 'securesocket';
import Timer from 'timer';
import { BodyPump, ResponseCollector } from '../../core/http/exchange';
import type { HttpPort, HttpRequest, HttpResponse } from '../../ports';

/** The most a response body comes back whole (the port's contract). */
export const MAX_WHOLE_BODY = 64 * 1024;
/** The most one read of a response fragment takes from the socket (one chunk allocation). */
export const READ_PIECE = 2048;

// http.js messages (Request.*), as numbers: see the header comment about the typings
const REQUEST_FRAGMENT = 0;
const STATUS = 1;
const HEADER = 2;
const RESPONSE_FRAGMENT = 4;
const RESPONSE_COMPLETE = 5;

export interface ModdableHttpOptions {
	/** Trust anchor for https (DER X.509); https needs one. */
	readonly ca?: Uint8Array;
	/** SNI and certificate name for https when the URL's host is an address. */
	readonly serverName?: string;
	/** Body bytes written per writable event (default 16 KB); 0: one piece of at most what fits, as http.js alone does. */
	readonly turnBytes?: number;
}

type Result = { ok: true; value: HttpResponse } | { ok: false; error: string };

interface SocketLike {
	write(): number;
	write(data: Uint8Array | ArrayBuffer): void;
}

interface RequestLike {
	callback: (message: number, value?: unknown, etc?: unknown) => unknown;
	read(type: typeof ArrayBuffer, limit?: number): ArrayBuffer | undefined;
	close(): void;
	socket?: SocketLike;
}

function message(e: unknown): string {
	return e instanceof Error ? e.message : String(e);
}

interface Target {
	secure: boolean;
	host: string;
	port: number;
	path: string;
	hostHeader: string;
}

function parseUrl(url: string): Target | string {
	const m = /^(https?):\/\/([^/:?#\s]+)(?::(\d{1,5}))?([^#\s]*)/i.exec(url);
	if (!m) return 'bad url: ' + url;
	const secure = m[1]!.toLowerCase() === 'https';
	const def = secure ? 443 : 80;
	const port = m[3] ? Number(m[3]) : def;
	if (!(port > 0 && port < 65536)) return 'bad port in url: ' + url;
	let path = m[4] ?? '';
	if (!path.startsWith('/')) path = '/' + path;
	const host = m[2]!;
	return { secure, host, port, path, hostHeader: port === def ? host : host + ':' + port };
}

export function createModdableHttpPort(options: ModdableHttpOptions = {}): HttpPort {
	const turnBytes = options.turnBytes ?? 16 * 1024;
	return {
		request: (req) =>
			new Promise<Result>((resolve) => {
				try {
					run(req, options, turnBytes, resolve);
				} catch (e) {
					resolve({ ok: false, error: message(e) });
				}
			}),
	};
}

/** The request's headers as http.js takes them: ours for Host and Content-Length, never Connection. */
function headersOf(req: HttpRequest, target: Target): string[] {
	const headers: string[] = [];
	for (const [name, value] of Object.entries(req.headers ?? {})) {
		const lower = name.toLowerCase();
		if (lower === 'content-length' || lower === 'host' || lower === 'connection') continue;
		headers.push(name, String(value));
	}
	headers.push('Host', target.hostHeader);
	if (req.body !== undefined || req.method !== 'GET') headers.push('Content-Length', String(req.body?.length ?? 0));
	return headers;
}

/** Why the request cannot be made, or undefined. */
function requestError(req: HttpRequest, target: Target, options: ModdableHttpOptions): string | undefined {
	const body = req.body;
	if (body !== undefined && !(Number.isInteger(body.length) && body.length >= 0)) return 'body.length: expected an integer >= 0, got ' + body.length;
	if (req.timeoutMs !== undefined && !(req.timeoutMs > 0)) return 'timeoutMs: expected > 0, got ' + req.timeoutMs;
	if (target.secure && !options.ca) return 'https needs a trust anchor (ModdableHttpOptions.ca)';
	return undefined;
}

/**
 * Body bytes for one writable event: up to `turnBytes` straight to the socket in pieces that
 * fit, then an empty fragment (keeps http.js in its body state), or undefined once the body is
 * all sent; with `turnBytes` 0, one piece of at most `room` returned to http.js to write.
 */
function bodyFragment(pump: BodyPump, room: number, turnBytes: number, socket: SocketLike | undefined): Uint8Array | ArrayBuffer | undefined {
	if (turnBytes <= 0) {
		// http.js's own contract: at most `room` bytes per writable event
		if (room <= 0) return new ArrayBuffer(0);
		return pump.take(room);
	}
	if (!socket) return undefined;
	let budget = turnBytes;
	let wrote = 0;
	while (budget > 0 && pump.error === undefined) {
		const fits = socket.write();
		if (fits <= 0) break;
		const piece = pump.take(Math.min(fits, budget));
		if (!piece) break;
		socket.write(piece);
		wrote += piece.length;
		budget -= piece.length;
	}
	// an empty fragment keeps http.js sending; undefined ends the body (request sent)
	return pump.ended && !wrote ? undefined : new ArrayBuffer(0);
}

function run(req: HttpRequest, options: ModdableHttpOptions, turnBytes: number, resolve: (r: Result) => void): void {
	const target = parseUrl(req.url);
	if (typeof target === 'string') return resolve({ ok: false, error: target });
	const invalid = requestError(req, target, options);
	if (invalid) return resolve({ ok: false, error: invalid });

	let settled = false;
	let timer: Timer | undefined;
	let request: RequestLike | undefined;
	let complete = false; // http.js closes the request itself after its last callback
	const finish = (r: Result) => {
		if (settled) return;
		settled = true;
		if (timer !== undefined) Timer.clear(timer);
		const q = request;
		// never closed inside its own socket callback (lin frees the socket under the caller): next turn
		if (q && !complete)
			Timer.set(() => {
				try {
					q.close();
				} catch {
					// already closed
				}
			}, 0);
		resolve(r);
	};
	const fail = (error: string) => finish({ ok: false, error });
	if (req.timeoutMs !== undefined) timer = Timer.set(() => fail('timeout after ' + req.timeoutMs + ' ms'), req.timeoutMs);

	const body = req.body;
	const pump = body !== undefined ? new BodyPump(body) : undefined;
	const response = new ResponseCollector(req.onData, MAX_WHOLE_BODY);
	const fragment = (room: number): Uint8Array | ArrayBuffer | undefined => {
		const before = pump!.sent;
		const out = bodyFragment(pump!, room, turnBytes, request?.socket);
		if (pump!.error !== undefined) return void fail(pump!.error);
		if (pump!.sent !== before) {
			try {
				req.onProgress?.(pump!.sent);
			} catch (e) {
				return void fail('onProgress threw: ' + message(e));
			}
		}
		return out;
	};
	/** A RESPONSE_FRAGMENT of `available` bytes, read in pieces of at most READ_PIECE. */
	const read = (q: RequestLike, available: number): void => {
		// `available` is all the socket holds, which grows while the VM is busy (24 KB seen in the
		// robot day on lin): one fragment never needs a chunk that large (an ESP32's chunk heap
		// is 77 KB in all, issue #20)
		for (let left = available; left > 0 && !settled;) {
			const ab = q.read(ArrayBuffer, left < READ_PIECE ? left : READ_PIECE);
			if (!ab || ab.byteLength === 0) return;
			left -= ab.byteLength;
			const failure = response.data(new Uint8Array(ab));
			if (failure) fail(failure);
		}
	};

	const dict: Record<string, unknown> = { host: target.host, port: target.port, path: target.path, method: req.method, headers: headersOf(req, target) };
	if (body !== undefined && body.length > 0) dict.body = true;
	if (target.secure) {
		dict.Socket = SecureSocket;
		dict.secure = {
			protocolVersion: 0x0303,
			serverName: options.serverName ?? target.host,
			certificate: options.ca!.slice().buffer,
		};
	}
	const q = new Request(dict as ConstructorParameters<typeof Request>[0]) as unknown as RequestLike;
	request = q;
	q.callback = (msg: number, value?: unknown, etc?: unknown): unknown => {
		if (settled) return undefined;
		try {
			switch (msg) {
				case REQUEST_FRAGMENT:
					return fragment(Number(value));
				case STATUS:
					response.setStatus(Number(value));
					// http.js reads the status only once the body is out: this cannot happen, but never report a short body as sent
					if (body !== undefined && pump!.sent !== body.length) fail('response before the whole body was sent');
					return undefined;
				case HEADER:
					response.header(String(value), String(etc));
					return undefined;
				case RESPONSE_FRAGMENT:
					read(q, Number(value));
					return undefined;
				case RESPONSE_COMPLETE:
					complete = true;
					finish({ ok: true, value: response.response() });
					return undefined;
				default:
					if (msg < 0) {
						complete = true;
						fail(response.status ? 'the response was cut short (http ' + msg + ')' : 'connection failed or closed before a response (http ' + msg + ')');
					}
					return undefined;
			}
		} catch (e) {
			fail('http callback: ' + message(e));
			return undefined;
		}
	};
}
