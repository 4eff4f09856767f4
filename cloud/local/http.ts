/*
 * What every HTTP service of the local cloud needs: bounded body reads, JSON and
 * AWS-shaped error replies, listening on a port and closing with its sockets.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export class HttpError extends Error {
	constructor(readonly status: number, readonly code: string, message: string) {
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
export async function listen(
	handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>,
	options: { port?: number; host?: string; onError: (res: http.ServerResponse, e: unknown) => void },
): Promise<Listening> {
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
