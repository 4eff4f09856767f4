/*
 * HttpPort over node:http and node:https: what the simulator and tests hand the core for
 * map uploads and firmware downloads. Thin, as adapters are (design.md): it translates
 * the port's contract, the core decides.
 *
 * - A request body is pulled, never buffered: the next chunk is asked for only when the
 *   socket has taken the last one (`write` true, or `drain`), so at most one chunk is in
 *   memory. Content-Length is the declared `length`; a body that yields fewer or more
 *   bytes than declared is an error and the request is aborted (S3 never sees a short
 *   object).
 * - A 2xx response body goes to `onData` when given (for GET with a Range header: the
 *   caller's header goes out as is, the 206 comes back as is); otherwise, and for every
 *   non-2xx answer (an S3 error document must not reach a map or image writer), the body
 *   comes back whole, up to 64 KB.
 * - `timeoutMs` bounds the whole exchange, from connecting to the last response byte.
 * - Never rejects: every failure, a throwing callback included, resolves `{ ok: false, error }`.
 * - https trusts only the CA given (DER or PEM), like the device; without one, Node's roots.
 */
import http from 'node:http';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { HttpPort, HttpRequest, HttpResponse } from '../../ports';

/** The most a response body comes back whole (the port's contract). */
export const MAX_WHOLE_BODY = 64 * 1024;

export interface HostHttpOptions {
	/** Trust anchor(s) for https, DER or PEM; when given, nothing else is trusted. */
	readonly ca?: Uint8Array | string | readonly (Uint8Array | string)[];
	/** SNI and certificate name for https when the URL's host is an address. */
	readonly serverName?: string;
}

type Result = { ok: true; value: HttpResponse } | { ok: false; error: string };

function pem(ca: Uint8Array | string): string {
	return typeof ca === 'string' ? ca : new X509Certificate(ca).toString();
}

export function createHttpPort(options: HostHttpOptions = {}): HttpPort {
	const cas = options.ca === undefined ? undefined : (Array.isArray(options.ca) ? options.ca : [options.ca]).map((c) => pem(c as Uint8Array | string));
	return {
		request: (req) =>
			new Promise<Result>((resolve) => {
				try {
					run(req, cas, options.serverName, resolve);
				} catch (e) {
					resolve({ ok: false, error: message(e) });
				}
			}),
	};
}

function message(e: unknown): string {
	return e instanceof Error ? e.message : String(e);
}

function run(req: HttpRequest, cas: string[] | undefined, serverName: string | undefined, resolve: (r: Result) => void): void {
	let url: URL;
	try {
		url = new URL(req.url);
	} catch {
		return resolve({ ok: false, error: 'bad url: ' + req.url });
	}
	if (url.protocol !== 'http:' && url.protocol !== 'https:') return resolve({ ok: false, error: 'unsupported scheme ' + url.protocol });
	const body = req.body;
	if (body !== undefined && !(Number.isInteger(body.length) && body.length >= 0)) return resolve({ ok: false, error: 'body.length: expected an integer >= 0, got ' + body.length });
	if (req.timeoutMs !== undefined && !(req.timeoutMs > 0)) return resolve({ ok: false, error: 'timeoutMs: expected > 0, got ' + req.timeoutMs });

	let settled = false;
	let timer: NodeJS.Timeout | undefined;
	let outgoing: http.ClientRequest | undefined;
	const finish = (r: Result) => {
		if (settled) return;
		settled = true;
		if (timer) clearTimeout(timer);
		// a failure, or an answer before the whole body went out (an S3 403 to an expired URL): drop the connection
		if (!r.ok || !outgoing?.writableEnded) outgoing?.destroy();
		resolve(r);
	};
	const fail = (error: string) => finish({ ok: false, error });
	if (req.timeoutMs !== undefined) timer = setTimeout(() => fail('timeout after ' + req.timeoutMs + ' ms'), req.timeoutMs);

	const headers: Record<string, string | number> = { ...req.headers };
	for (const name of Object.keys(headers)) if (name.toLowerCase() === 'content-length') delete headers[name];
	if (body !== undefined || req.method !== 'GET') headers['content-length'] = body?.length ?? 0;
	const common = { method: req.method, headers, agent: false as const };
	outgoing = url.protocol === 'https:' ? https.request(url, { ...common, ...(cas ? { ca: cas } : {}), ...(serverName ? { servername: serverName } : {}) }) : http.request(url, common);
	const r = outgoing;
	r.on('error', (e) => fail(message(e)));

	r.on('response', (res) => {
		const status = res.statusCode ?? 0;
		const out: Record<string, string> = {};
		for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
		const stream = req.onData !== undefined && status >= 200 && status < 300;
		const chunks: Buffer[] = [];
		let size = 0;
		res.on('data', (chunk: Buffer) => {
			if (settled) return;
			if (stream) {
				try {
					req.onData!(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
				} catch (e) {
					return fail('onData threw: ' + message(e));
				}
				return;
			}
			size += chunk.length;
			if (size > MAX_WHOLE_BODY) {
				// an error document is kept truncated; a success body this large needs onData
				if (status >= 200 && status < 300) return fail('response body over ' + MAX_WHOLE_BODY + ' bytes: stream it with onData');
				return;
			}
			chunks.push(chunk);
		});
		res.on('aborted', () => fail('the response was cut short'));
		res.on('error', (e) => fail(message(e)));
		res.on('end', () => {
			if (!res.complete) return fail('the response was cut short');
			finish({ ok: true, value: { status, headers: out, body: new Uint8Array(Buffer.concat(chunks)) } });
		});
	});

	if (body === undefined) {
		r.end();
		return;
	}
	// pull a chunk only when the socket has taken the previous one
	let sent = 0;
	const pump = () => {
		while (!settled) {
			let chunk: Uint8Array | undefined;
			try {
				chunk = body.next();
			} catch (e) {
				return fail('body.next threw: ' + message(e));
			}
			if (chunk === undefined) {
				if (sent !== body.length) return fail('body yielded ' + sent + ' of ' + body.length + ' declared bytes');
				r.end();
				return;
			}
			if (!(chunk instanceof Uint8Array)) return fail('body.next: expected a Uint8Array');
			if (chunk.length === 0) continue;
			if (sent + chunk.length > body.length) return fail('body yielded more than ' + body.length + ' declared bytes');
			sent += chunk.length;
			// the port lends the array only for the call: Node may still hold it, so it gets a copy
			const more = r.write(Buffer.from(chunk));
			try {
				req.onProgress?.(sent);
			} catch (e) {
				return fail('onProgress threw: ' + message(e));
			}
			if (!more) {
				r.once('drain', pump);
				return;
			}
		}
	};
	pump();
}
