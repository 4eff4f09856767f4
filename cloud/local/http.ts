/*
 * What every HTTP service of the local cloud needs: bounded body reads, JSON and
 * AWS-shaped error replies, listening on a port and closing with its sockets.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isJsonObject, parseJsonObject } from './json-object';

export class HttpError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
	) {
		super(message);
	}
}

/** The whole body, refused with 413 past `limit` bytes before buffering more. */
export async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
	const chunks: Buffer[] = [];
	let size = 0;
	for await (const chunk of req as AsyncIterable<Buffer>) {
		size += chunk.length;
		if (size > limit) throw new HttpError(413, 'RequestEntityTooLargeException', 'body larger than ' + limit + ' bytes');
		chunks.push(chunk);
	}
	return Buffer.concat(chunks);
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
	const text = body === undefined ? '' : JSON.stringify(body);
	res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
	res.end(text);
}

export interface Listening {
	readonly server: http.Server;
	readonly port: number;
	readonly url: string;
	close(): Promise<void>;
}

/** Starts `handler` on host:port (0 = any free port). Errors a handler throws become JSON replies via `onError`. */
export async function listen(handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>, options: { port?: number; host?: string; onError: (res: http.ServerResponse, e: unknown) => void }): Promise<Listening> {
	const server = http.createServer((req, res) => {
		handler(req, res).catch((e) => {
			if (res.headersSent) res.destroy(e as Error);
			else options.onError(res, e);
		});
	});
	const host = options.host ?? '127.0.0.1';
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(options.port ?? 0, host, () => resolve());
	});
	const port = (server.address() as AddressInfo).port;
	return {
		server,
		port,
		url: 'http://' + host + ':' + port,
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}

/** The error types an AWS-shaped API answers bad request bodies with (each service names them its own way). */
export interface BodyErrors {
	/** the body is not JSON */
	readonly notJson: string;
	/** a value has the wrong shape */
	readonly invalid: string;
}

/** A JSON request body that must be an object; an empty body is `{}`. */
export function jsonObjectBody(body: Uint8Array, errors: BodyErrors): Record<string, unknown> {
	const r = parseJsonObject(body, true);
	if (r.ok) return r.value;
	throw r.error === 'notJson' ? new HttpError(400, errors.notJson, 'the request body is not JSON') : new HttpError(400, errors.invalid, 'the request body expected a JSON object');
}

/** `v` as a JSON object, else a 400 naming it. */
export function jsonObject(v: unknown, name: string, errors: BodyErrors): Record<string, unknown> {
	if (!isJsonObject(v)) throw new HttpError(400, errors.invalid, name + ' expected a JSON object');
	return v;
}

/** An optional string field of at most `max` characters, else a 400 naming it. */
export function optionalString(b: Record<string, unknown>, name: string, max: number, errors: BodyErrors): string | undefined {
	const v = b[name];
	if (v === undefined) return undefined;
	if (typeof v !== 'string' || v.length > max) throw new HttpError(400, errors.invalid, `${name} expected a string of at most ${max} characters`);
	return v;
}

/** The body checks above, bound to one service's error names (each control plane makes one set). */
export function bodyChecks(errors: BodyErrors): {
	readonly body: (body: Uint8Array) => Record<string, unknown>;
	readonly object: (v: unknown, name: string) => Record<string, unknown>;
	readonly optionalString: (b: Record<string, unknown>, name: string, max: number) => string | undefined;
} {
	return Object.freeze({
		body: (body: Uint8Array) => jsonObjectBody(body, errors),
		object: (v: unknown, name: string) => jsonObject(v, name, errors),
		optionalString: (b: Record<string, unknown>, name: string, max: number) => optionalString(b, name, max, errors),
	});
}
