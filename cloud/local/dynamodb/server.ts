/*
 * Local DynamoDB: dynalite (DynamoDB's JSON API over LevelDB, in memory or in a
 * directory), behind our SigV4 check. dynalite checks only that a request looks
 * signed; here its request handler runs after the signature was recomputed.
 * Tables are ACTIVE at once (dynalite's CREATING delay set to 0).
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import dynalite from 'dynalite';
import { HttpError, sendJson } from '../http';
import { silentLog, type LogFn } from '../log';
import { signedJsonBody } from '../json-protocol';

/** dynalite's own request limit. */
const MAX_BODY = 16 * 1024 * 1024;

export interface DynamoDbOptions {
	readonly log?: LogFn;
	readonly port?: number;
	readonly host?: string;
	/** LevelDB files go in this directory; undefined keeps tables in memory. */
	readonly dataDir?: string;
	/** Milliseconds since the epoch, for signature times; Date.now by default. */
	readonly now?: () => number;
}

export interface DynamoDbService {
	/** `http://host:port`: give it to DynamoDBClient as `endpoint`. */
	readonly endpoint: string;
	readonly port: number;
	close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export async function startDynamoDb(options: DynamoDbOptions): Promise<DynamoDbService> {
	const log = options.log ?? silentLog;
	const now = options.now ?? Date.now;
	const server = dynalite({ path: options.dataDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
	// dynalite's handler runs behind ours; its server object stays so its close() also closes LevelDB
	const inner = server.listeners('request')[0] as Handler;
	server.removeAllListeners('request');

	async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		const body = await signedJsonBody(req, { service: 'dynamodb', maxBytes: MAX_BODY, now: now(), log, logAs: 'dynamodb', typePrefix: 'com.amazon.coral.service#' });
		// the body was read for the hash: replay it to dynalite as the request stream
		const replay = Object.assign(Readable.from(body.length > 0 ? [body] : []), {
			headers: req.headers,
			rawHeaders: req.rawHeaders,
			method: req.method,
			url: req.url,
			socket: req.socket,
		});
		inner(replay as unknown as http.IncomingMessage, res);
	}

	server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
		handle(req, res).catch((e: unknown) => {
			if (res.headersSent) return void res.destroy(e as Error);
			const err = e instanceof HttpError ? e : new HttpError(500, 'InternalServerError', String(e));
			sendJson(res, err.status, { __type: err.code, message: err.message }, { 'content-type': 'application/x-amz-json-1.0' });
		});
	});
	const host = options.host ?? '127.0.0.1';
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(options.port ?? 0, host, () => resolve());
	});
	const port = (server.address() as AddressInfo).port;
	const endpoint = 'http://' + host + ':' + port;
	log({ level: 'info', event: 'dynamodb.started', endpoint, dataDir: options.dataDir ?? null });
	return {
		endpoint,
		port,
		close: () =>
			new Promise<void>((resolve, reject) => {
				server.closeAllConnections();
				server.close((err) => (err ? reject(err) : resolve()));
			}),
	};
}
