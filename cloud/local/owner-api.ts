/*
 * The owners' HTTP API locally: API Gateway's stand-in for the template's OwnerApi. It does what
 * the HTTP API's JWT authorizer does before any Lambda runs (a Bearer token verified by the
 * local user pool: signature, issuer, audience, expiry; otherwise 401 {"message":"Unauthorized"}),
 * matches the route, and hands the Lambdas' code (cloud/functions/owner-api) a payload 2.0 event
 * with the token's claims under requestContext.authorizer.jwt.claims. CORS for the app's origins.
 */
import type http from 'node:http';
import { createOwnerApi, ROUTES, type HttpEvent, type OwnerApiDeps } from '../functions/owner-api/routes';
import { HttpError, listen, readBody, sendJson, type Listening } from './http';
import type { LogFn } from './log';
import type { OwnerAuth } from './owner-auth';

const MAX_BODY = 64 * 1024;

/** Route templates as patterns: `{name}` is one path segment. */
const PATTERNS = ROUTES.map((key) => {
	const [method, path] = key.split(' ') as [string, string];
	const names: string[] = [];
	const re = new RegExp('^' + path.replace(/\{([a-zA-Z]+)\}/g, (_m, n: string) => (names.push(n), '([^/]+)')) + '$');
	return { key, method, re, names };
});

export async function startOwnerApi(o: { auth: OwnerAuth; deps: OwnerApiDeps; log: LogFn; host?: string; corsOrigins?: () => readonly string[] }): Promise<Listening> {
	const api = createOwnerApi(o.deps);
	const cors = (req: http.IncomingMessage): Record<string, string> => {
		const origin = req.headers.origin;
		if (!origin || !(o.corsOrigins?.() ?? []).includes(origin)) return {};
		return {
			'access-control-allow-origin': origin,
			'access-control-allow-headers': 'authorization, content-type',
			'access-control-allow-methods': 'GET, POST, PUT, DELETE',
			vary: 'origin',
		};
	};
	return listen(
		async (req, res) => {
			if (req.method === 'OPTIONS') {
				res.writeHead(204, cors(req));
				return void res.end();
			}
			const url = new URL(req.url ?? '/', 'http://local');
			const route = PATTERNS.find((p) => p.method === req.method && p.re.test(url.pathname));
			if (!route) return sendJson(res, 404, { message: 'Not Found' }, cors(req));
			const auth = req.headers.authorization;
			const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
			const checked = token ? o.auth.verify(token) : { ok: false as const, reason: 'no token' };
			if (!checked.ok) {
				o.log({ level: 'info', event: 'owner_api.unauthorized', route: route.key, reason: checked.reason });
				return sendJson(res, 401, { message: 'Unauthorized' }, cors(req));
			}
			const m = route.re.exec(url.pathname)!;
			const pathParameters: Record<string, string> = {};
			route.names.forEach((n, i) => {
				try {
					pathParameters[n] = decodeURIComponent(m[i + 1]!);
				} catch {
					throw new HttpError(400, 'BadRequest', 'malformed path');
				}
			});
			const body = await readBody(req, MAX_BODY);
			const event: HttpEvent = {
				routeKey: route.key,
				pathParameters,
				...(body.length > 0 ? { body: body.toString('utf8'), isBase64Encoded: false } : {}),
				requestContext: { authorizer: { jwt: { claims: { ...checked.claims } } } },
			};
			const r = await api(event);
			res.writeHead(r.statusCode, { ...r.headers, ...cors(req), 'content-length': Buffer.byteLength(r.body) });
			res.end(r.body);
		},
		{
			...(o.host !== undefined ? { host: o.host } : {}),
			onError(res, e) {
				if (e instanceof HttpError) return sendJson(res, e.status, { error: e.code, message: e.message }, cors(res.req));
				o.log({ level: 'error', event: 'owner_api.error', error: String(e) });
				sendJson(res, 500, { message: 'Internal Server Error' }, cors(res.req));
			},
		},
	);
}
