/*
 * The owner's app, served locally: one page (console/page/owner) that signs in to the local user
 * pool and then calls only the owner API with the owner's token, as a phone app would. This
 * server hands out the page, its bundle and the public configuration (API and sign-in endpoints,
 * app client id, the rooms of the simulated home); it holds no credential and proxies nothing.
 * The page's origin is registered with the local cloud for CORS (its API, sign-in, map URLs).
 *
 *   GET /             the page
 *   GET /app.js       its bundle
 *   GET /config.json  { api, auth, clientId, rooms }
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { LocalCloud } from '../cloud/local/index';
import { HttpError, listen, sendJson } from '../cloud/local/http';
import { HOME_ROOMS } from '../firmware/sim/cleaning';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface OwnerApp {
	readonly url: string;
	close(): Promise<void>;
}

export async function startOwnerApp(o: { cloud: LocalCloud; port?: number; rooms?: readonly string[] }): Promise<OwnerApp> {
	const [html, bundle] = await Promise.all([
		readFile(path.join(here, 'page', 'owner', 'index.html'), 'utf8'),
		build({ entryPoints: [path.join(here, 'page', 'owner', 'main.ts')], bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2022', sourcemap: 'inline', logLevel: 'silent' }),
	]);
	const js = bundle.outputFiles[0]?.text;
	if (!js) throw new Error('esbuild produced no output for console/page/owner/main.ts');
	const config = JSON.stringify({ api: o.cloud.endpoints.ownerApi, auth: o.cloud.endpoints.ownerAuth, clientId: o.cloud.owners.auth.clientId, rooms: o.rooms ?? HOME_ROOMS });
	const server = await listen(
		async (req, res) => {
			const host = req.headers.host ?? '';
			if (host !== '127.0.0.1:' + server.port && host !== 'localhost:' + server.port) throw new HttpError(421, 'MisdirectedRequest', 'this app answers only at 127.0.0.1:' + server.port);
			const route = (req.method ?? 'GET') + ' ' + new URL(req.url ?? '/', 'http://' + host).pathname;
			const send = (type: string, body: string) => {
				res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
				res.end(body);
			};
			if (route === 'GET /') return send('text/html; charset=utf-8', html);
			if (route === 'GET /app.js') return send('text/javascript; charset=utf-8', js);
			if (route === 'GET /config.json') return send('application/json', config);
			throw new HttpError(404, 'NotFound', 'no ' + route);
		},
		{
			host: '127.0.0.1',
			port: o.port ?? 0,
			onError(res, e) {
				const err = e instanceof HttpError ? e : new HttpError(500, 'InternalError', String(e));
				sendJson(res, err.status, { code: err.code, message: err.message });
			},
		},
	);
	o.cloud.owners.allowOrigin(server.url);
	o.cloud.owners.allowOrigin('http://localhost:' + server.port);
	return { url: server.url + '/', close: () => server.close() };
}
