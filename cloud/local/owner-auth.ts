/*
 * The local stand-in for the owners' Cognito user pool: owners with passwords (scrypt), sign-in
 * through Cognito's own InitiateAuth (USER_PASSWORD_AUTH, the JSON protocol with
 * `x-amz-target: AWSCognitoIdentityProviderService.InitiateAuth`), ID tokens that are real
 * RS256 JWTs (iss, aud = the app client id, sub, token_use, iat, exp) signed with a key made at
 * start, its JWKS at /.well-known/jwks.json, and `verify`: what the HTTP API's JWT authorizer
 * checks (signature, algorithm, key id, issuer, audience, token use, expiry). node:crypto only.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID, scryptSync, sign, timingSafeEqual, verify as verifySignature, type KeyObject } from 'node:crypto';
import type http from 'node:http';
import { HttpError, listen, readBody, sendJson, type Listening } from './http';
import type { LogFn } from './log';

export const TOKEN_LIFETIME_S = 3600;
/** Clock skew accepted on iat, seconds. */
const SKEW_S = 60;

export interface OwnerClaims {
	readonly sub: string;
	readonly email: string;
	readonly iss: string;
	readonly aud: string;
	readonly token_use: 'id';
	readonly iat: number;
	readonly exp: number;
}

export interface OwnerAuth {
	/** The pool's endpoint (InitiateAuth, JWKS). */
	readonly endpoint: string;
	/** The `iss` of its tokens (the endpoint, as Cognito's is its pool URL). */
	readonly issuer: string;
	readonly clientId: string;
	/**
	 * Adds an owner; returns the `sub` (a random UUID unless given: the pool is in memory, so a
	 * local demo over kept data passes the same one again). An email already there is refused.
	 */
	createOwner(email: string, password: string, sub?: string): string;
	/** A signed ID token for an owner (tests; the app signs in with InitiateAuth). */
	issue(email: string, lifetimeS?: number): string;
	verify(token: string): { ok: true; claims: OwnerClaims } | { ok: false; reason: string };
	close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export async function startOwnerAuth(o: { log: LogFn; host?: string; clientId?: string; corsOrigins?: () => readonly string[]; now?: () => number }): Promise<OwnerAuth> {
	const now = () => Math.floor((o.now ?? Date.now)() / 1000);
	const clientId = o.clientId ?? 'local-owner-app';
	const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
	const kid = randomBytes(8).toString('hex');
	const owners = new Map<string, { sub: string; salt: Buffer; hash: Buffer }>();
	let issuer = '';

	const issue = (email: string, lifetimeS = TOKEN_LIFETIME_S): string => {
		const owner = owners.get(email);
		if (!owner) throw new Error('no owner ' + email);
		const iat = now();
		const header = b64url(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' }));
		const claims: OwnerClaims = { sub: owner.sub, email, iss: issuer, aud: clientId, token_use: 'id', iat, exp: iat + lifetimeS };
		const body = b64url(JSON.stringify(claims));
		return header + '.' + body + '.' + b64url(sign('RSA-SHA256', Buffer.from(header + '.' + body), privateKey));
	};

	const verify = (token: string): { ok: true; claims: OwnerClaims } | { ok: false; reason: string } => {
		const parts = token.split('.');
		if (parts.length !== 3) return { ok: false, reason: 'not a JWT' };
		let header: { alg?: unknown; kid?: unknown };
		let claims: Partial<OwnerClaims>;
		try {
			header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as typeof header;
			claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Partial<OwnerClaims>;
		} catch {
			return { ok: false, reason: 'not a JWT' };
		}
		// the algorithm is fixed here, never taken from the token ("alg": "none" and HS256 with the public key are refused)
		if (header.alg !== 'RS256' || header.kid !== kid) return { ok: false, reason: 'unknown key or algorithm' };
		if (!verifySignature('RSA-SHA256', Buffer.from(parts[0] + '.' + parts[1]), publicKey as KeyObject, Buffer.from(parts[2]!, 'base64url'))) return { ok: false, reason: 'bad signature' };
		const t = now();
		if (claims.iss !== issuer) return { ok: false, reason: 'wrong issuer' };
		if (claims.aud !== clientId) return { ok: false, reason: 'wrong audience' };
		if (claims.token_use !== 'id') return { ok: false, reason: 'not an ID token' };
		if (typeof claims.exp !== 'number' || claims.exp <= t) return { ok: false, reason: 'expired' };
		if (typeof claims.iat !== 'number' || claims.iat > t + SKEW_S) return { ok: false, reason: 'issued in the future' };
		if (typeof claims.sub !== 'string' || claims.sub.length === 0) return { ok: false, reason: 'no subject' };
		return { ok: true, claims: claims as OwnerClaims };
	};

	const cors = (req: http.IncomingMessage): Record<string, string> => {
		const origin = req.headers.origin;
		if (!origin || !(o.corsOrigins?.() ?? []).includes(origin)) return {};
		return { 'access-control-allow-origin': origin, 'access-control-allow-headers': 'content-type, x-amz-target', 'access-control-allow-methods': 'POST, GET', vary: 'origin' };
	};

	const server: Listening = await listen(
		async (req, res) => {
			if (req.method === 'OPTIONS') {
				res.writeHead(204, cors(req));
				return void res.end();
			}
			if (req.method === 'GET' && req.url === '/.well-known/jwks.json') {
				return sendJson(res, 200, { keys: [{ ...createPublicKey(publicKey).export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] }, cors(req));
			}
			if (req.method !== 'POST' || req.headers['x-amz-target'] !== 'AWSCognitoIdentityProviderService.InitiateAuth') {
				throw new HttpError(400, 'InvalidParameterException', 'the local user pool answers InitiateAuth only');
			}
			const body = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8') || '{}') as {
				AuthFlow?: string;
				ClientId?: string;
				AuthParameters?: { USERNAME?: string; PASSWORD?: string };
			};
			if (body.AuthFlow !== 'USER_PASSWORD_AUTH') throw new HttpError(400, 'InvalidParameterException', 'AuthFlow expected USER_PASSWORD_AUTH');
			if (body.ClientId !== clientId) throw new HttpError(400, 'ResourceNotFoundException', 'no app client ' + String(body.ClientId));
			const email = body.AuthParameters?.USERNAME ?? '';
			const owner = owners.get(email);
			const hash = owner && scryptSync(body.AuthParameters?.PASSWORD ?? '', owner.salt, 32);
			if (!owner || !hash || !timingSafeEqual(hash, owner.hash)) {
				o.log({ level: 'info', event: 'owner_auth.refused', email });
				throw new HttpError(400, 'NotAuthorizedException', 'Incorrect username or password.');
			}
			const token = issue(email);
			sendJson(res, 200, { AuthenticationResult: { IdToken: token, AccessToken: token, ExpiresIn: TOKEN_LIFETIME_S, TokenType: 'Bearer' }, ChallengeParameters: {} }, { ...cors(req), 'content-type': 'application/x-amz-json-1.1' });
		},
		{
			...(o.host !== undefined ? { host: o.host } : {}),
			onError(res, e) {
				const err = e instanceof HttpError ? e : new HttpError(500, 'InternalErrorException', String(e));
				// the refusal must reach the page too: with its CORS headers
				sendJson(res, err.status, { __type: err.code, message: err.message }, { 'x-amzn-errortype': err.code, ...cors(res.req) });
			},
		},
	);
	issuer = server.url;
	o.log({ level: 'info', event: 'owner_auth.started', endpoint: server.url, clientId });
	return {
		endpoint: server.url,
		issuer,
		clientId,
		createOwner(email, password, given) {
			if (!/^[^\s@]{1,64}@[^\s@]{1,190}$/.test(email)) throw new TypeError('"email" expected an email address, got ' + JSON.stringify(email));
			if (typeof password !== 'string' || password.length < 8) throw new TypeError('"password" expected at least 8 characters');
			if (owners.has(email)) throw new Error('owner ' + email + ' already exists');
			const salt = randomBytes(16);
			if (given !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(given)) throw new TypeError('"sub" expected a UUID');
			const sub = given ?? randomUUID();
			owners.set(email, { sub, salt, hash: scryptSync(password, salt, 32) });
			return sub;
		},
		issue,
		verify,
		close: () => server.close(),
	};
}
