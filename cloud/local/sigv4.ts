/*
 * AWS Signature Version 4 checking for the local services: the request's
 * signature is recomputed from the local secret and compared in constant time,
 * for both forms AWS accepts (Authorization header, presigned query string).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 *
 * Pure: the caller passes what arrived and the clock; nothing is read here.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './credentials';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
/** The payload hash S3 presigned URLs and some S3 clients sign instead of the body's. */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** The hex SHA-256 of no bytes, the payload hash of a GET. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** Presigned URLs live at most seven days (X-Amz-Expires <= 604800). */
export const MAX_PRESIGN_SECONDS = 604_800;
/** A header-signed request may be this far from the server clock (AWS: 15 minutes). */
export const MAX_SKEW_MS = 15 * 60_000;

export type SigV4ErrorCode = 'MissingAuthenticationToken' | 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError' | 'InvalidAccessKeyId' | 'SignatureDoesNotMatch' | 'AccessDenied' | 'RequestTimeTooSkewed';

export interface SigV4Error {
	readonly code: SigV4ErrorCode;
	/** 400 for a malformed request, 403 for a refused one, as S3 answers. */
	readonly status: 400 | 403;
	readonly message: string;
}

export interface SigV4Ok {
	readonly accessKeyId: string;
	/** true when the signature came in the query string (a presigned URL). */
	readonly presigned: boolean;
	readonly signedHeaders: readonly string[];
	/** The X-Amz-Date of the request, as milliseconds since the epoch. */
	readonly signedAt: number;
}

export type SigV4Result = { ok: true; value: SigV4Ok } | { ok: false; error: SigV4Error };

export interface SigV4Request {
	readonly method: string;
	/** Path and query exactly as received (`req.url`). */
	readonly url: string;
	/** Lower-cased names, as node gives them. */
	readonly headers: IncomingHttpHeaders;
	/** Node's `req.rawHeaders`: when given, repeated headers are joined with ',' as SigV4 wants. */
	readonly rawHeaders?: readonly string[];
}

export interface SigV4Options {
	/** The signing name the scope must carry: `s3`, `kms`, `sqs`, `dynamodb`. */
	readonly service: string;
	/**
	 * The payload hash the client signed over: for S3 the x-amz-content-sha256 header
	 * (or UNSIGNED-PAYLOAD for a presigned URL), elsewhere the hex SHA-256 of the body.
	 * Checking that the body matches it is the caller's job (S3 streams the body).
	 */
	readonly payloadHash: string;
	/** Milliseconds since the epoch. */
	readonly now: number;
	readonly region?: string;
	readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

const fail = (code: SigV4ErrorCode, message: string, status: 400 | 403 = 403): SigV4Result => ({
	ok: false,
	error: { code, status, message },
});

/** RFC 3986 unreserved characters stay, everything else is %XX upper-case (SigV4 UriEncode). */
export function uriEncode(text: string): string {
	return encodeURIComponent(text).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

export function sha256Hex(data: string | Uint8Array): string {
	return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Uint8Array, data: string): Buffer {
	return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** The signing key, derived as in the SigV4 spec: kDate, kRegion, kService, kSigning. */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
	return hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
}

/** `20240102T030405Z` to milliseconds, or undefined when malformed. */
export function parseAmzDate(text: string): number | undefined {
	const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
	if (!m) return undefined;
	const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
	return Number.isNaN(t) ? undefined : t;
}

function safeDecode(text: string): string | undefined {
	try {
		return decodeURIComponent(text);
	} catch {
		return undefined;
	}
}

/** Path segments decoded then encoded again; non-S3 services encode twice (the spec's double encoding). */
function canonicalPath(rawPath: string, service: string): string | undefined {
	const segments: string[] = [];
	for (const segment of rawPath.split('/')) {
		const decoded = safeDecode(segment);
		if (decoded === undefined) return undefined;
		const once = uriEncode(decoded);
		segments.push(service === 's3' ? once : uriEncode(once));
	}
	const path = segments.join('/');
	return path === '' ? '/' : path;
}

/** Decoded query pairs in arrival order; undefined on a bad %-escape. */
function parseQuery(rawQuery: string): [string, string][] | undefined {
	const pairs: [string, string][] = [];
	for (const part of rawQuery.split('&')) {
		if (part === '') continue;
		const eq = part.indexOf('=');
		const name = safeDecode(eq < 0 ? part : part.slice(0, eq));
		const value = safeDecode(eq < 0 ? '' : part.slice(eq + 1));
		if (name === undefined || value === undefined) return undefined;
		pairs.push([name, value]);
	}
	return pairs;
}

function canonicalQuery(pairs: readonly [string, string][]): string {
	return pairs
		.map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
		.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
		.map(([k, v]) => k + '=' + v)
		.join('&');
}

/** Header values by lower-case name, repeated ones joined with ',' and blanks collapsed. */
function headerValues(req: SigV4Request): Map<string, string> {
	const values = new Map<string, string[]>();
	const add = (name: string, value: string) => {
		const key = name.toLowerCase();
		const list = values.get(key) ?? [];
		list.push(value.trim().replace(/\s+/g, ' '));
		values.set(key, list);
	};
	if (req.rawHeaders) {
		for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) add(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
	} else {
		for (const [name, value] of Object.entries(req.headers)) {
			if (value === undefined) continue;
			for (const v of Array.isArray(value) ? value : [value]) add(name, v);
		}
	}
	return new Map([...values].map(([k, v]) => [k, v.join(',')]));
}

interface Parts {
	readonly credential: string;
	readonly signedHeaders: string;
	readonly signature: string;
	readonly amzDate: string;
	readonly expires?: string;
}

/** `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` */
function parseAuthorization(header: string, headers: Map<string, string>): Parts | SigV4Error {
	const malformed = (why: string): SigV4Error => ({ code: 'AuthorizationHeaderMalformed', status: 400, message: why });
	if (!header.startsWith(ALGORITHM + ' ')) return malformed('the authorization header must start with ' + ALGORITHM);
	const fields = new Map<string, string>();
	for (const part of header.slice(ALGORITHM.length).split(',')) {
		const eq = part.indexOf('=');
		if (eq < 0) return malformed("'" + part.trim() + "' is not a key=value pair");
		fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
	}
	const credential = fields.get('Credential');
	const signedHeaders = fields.get('SignedHeaders');
	const signature = fields.get('Signature');
	if (!credential || !signedHeaders || !signature) return malformed('Credential, SignedHeaders and Signature are required');
	const amzDate = headers.get('x-amz-date') ?? headers.get('date');
	if (!amzDate) return malformed('an X-Amz-Date header is required');
	return { credential, signedHeaders, signature, amzDate };
}

function parsePresigned(query: ReadonlyMap<string, string>): Parts | SigV4Error {
	const missing = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'].filter((k) => !query.get(k));
	if (missing.length > 0) {
		return { code: 'AuthorizationQueryParametersError', status: 400, message: 'missing query parameters: ' + missing.join(', ') };
	}
	if (query.get('X-Amz-Algorithm') !== ALGORITHM) {
		return { code: 'AuthorizationQueryParametersError', status: 400, message: 'X-Amz-Algorithm must be ' + ALGORITHM };
	}
	return {
		credential: query.get('X-Amz-Credential')!,
		signedHeaders: query.get('X-Amz-SignedHeaders')!,
		signature: query.get('X-Amz-Signature')!,
		amzDate: query.get('X-Amz-Date')!,
		expires: query.get('X-Amz-Expires')!,
	};
}

/** True when the request carries any SigV4 authentication at all (header or query). */
export function hasSigV4(req: SigV4Request): boolean {
	return req.headers.authorization !== undefined || /[?&]X-Amz-Signature=/.test(req.url);
}

/**
 * Checks one request. Order follows what S3 reports first: form, access key, time,
 * then the signature itself, so an expired URL says "Request has expired" even when
 * its signature is also wrong.
 */
export function verifySigV4(req: SigV4Request, options: SigV4Options): SigV4Result {
	const region = options.region ?? LOCAL_REGION;
	const credentials = options.credentials ?? LOCAL_CREDENTIALS;
	const q = req.url.indexOf('?');
	const rawPath = q < 0 ? req.url : req.url.slice(0, q);
	const pairs = parseQuery(q < 0 ? '' : req.url.slice(q + 1));
	if (pairs === undefined) return fail('AuthorizationQueryParametersError', 'malformed query string', 400);
	const headers = headerValues(req);
	const query = new Map(pairs);
	const authorization = headers.get('authorization');
	const presigned = query.has('X-Amz-Signature') || query.has('X-Amz-Algorithm');
	if (authorization !== undefined && presigned) {
		return fail('AuthorizationQueryParametersError', 'only one auth mechanism allowed: header or query string', 400);
	}
	if (authorization === undefined && !presigned) return fail('MissingAuthenticationToken', 'the request is not signed', 403);
	const parts = presigned ? parsePresigned(query) : parseAuthorization(authorization!, headers);
	if ('code' in parts) return { ok: false, error: parts };

	// Credential = <access key>/<yyyymmdd>/<region>/<service>/aws4_request
	const scope = parts.credential.split('/');
	const malformed = presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed';
	if (scope.length !== 5 || scope[4] !== 'aws4_request') return fail(malformed, 'malformed credential ' + parts.credential, 400);
	const [accessKeyId, date, scopeRegion, scopeService] = scope as [string, string, string, string];
	if (accessKeyId !== credentials.accessKeyId) {
		return fail('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
	}
	const signedAt = parseAmzDate(parts.amzDate);
	if (signedAt === undefined) return fail(malformed, "X-Amz-Date must be of the form yyyyMMdd'T'HHmmss'Z'", 400);
	if (date !== parts.amzDate.slice(0, 8)) return fail(malformed, 'the credential date ' + date + ' is not the X-Amz-Date day', 400);
	if (scopeRegion !== region) return fail(malformed, "the region '" + scopeRegion + "' is wrong; expecting '" + region + "'", 400);
	if (scopeService !== options.service) {
		return fail(malformed, "the service '" + scopeService + "' is wrong; expecting '" + options.service + "'", 400);
	}
	if (presigned) {
		const expires = Number(parts.expires);
		if (!/^\d+$/.test(parts.expires!) || expires < 1 || expires > MAX_PRESIGN_SECONDS) {
			return fail('AuthorizationQueryParametersError', 'X-Amz-Expires must be between 1 and ' + MAX_PRESIGN_SECONDS + ' seconds', 400);
		}
		if (signedAt - options.now > MAX_SKEW_MS) return fail('AccessDenied', 'Request is not valid yet');
		if (options.now > signedAt + expires * 1000) return fail('AccessDenied', 'Request has expired');
	} else if (Math.abs(options.now - signedAt) > MAX_SKEW_MS) {
		return fail('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
	}

	const signedHeaders = parts.signedHeaders.split(';');
	if (!signedHeaders.includes('host')) return fail(malformed, "'host' must be a signed header", 400);
	const canonicalHeaders: string[] = [];
	for (const name of signedHeaders) {
		if (name !== name.toLowerCase()) return fail(malformed, 'signed header names must be lower case', 400);
		const value = headers.get(name);
		if (value === undefined) return fail('SignatureDoesNotMatch', "the signed header '" + name + "' is missing");
		canonicalHeaders.push(name + ':' + value + '\n');
	}
	const path = canonicalPath(rawPath, options.service);
	if (path === undefined) return fail('SignatureDoesNotMatch', 'malformed path', 400);
	const canonicalRequest = [req.method.toUpperCase(), path, canonicalQuery(pairs.filter(([k]) => k !== 'X-Amz-Signature')), canonicalHeaders.join(''), parts.signedHeaders, options.payloadHash].join('\n');
	const stringToSign = [ALGORITHM, parts.amzDate, scope.slice(1).join('/'), sha256Hex(canonicalRequest)].join('\n');
	const expected = createHmac('sha256', signingKey(credentials.secretAccessKey, date, region, options.service))
		.update(stringToSign, 'utf8')
		.digest();
	const given = /^[0-9a-f]{64}$/.test(parts.signature) ? Buffer.from(parts.signature, 'hex') : Buffer.alloc(0);
	if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
		return fail('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
	}
	return { ok: true, value: { accessKeyId, presigned, signedHeaders, signedAt } };
}

/** How the JSON-protocol services (KMS, SQS, DynamoDB) name a refused signature: `__type` and status. */
export function jsonAuthError(error: SigV4Error): { status: number; type: string; message: string } {
	switch (error.code) {
		case 'InvalidAccessKeyId':
			return { status: 400, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
		case 'MissingAuthenticationToken':
			return { status: 403, type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' };
		case 'AuthorizationHeaderMalformed':
		case 'AuthorizationQueryParametersError':
			return { status: 400, type: 'IncompleteSignatureException', message: error.message };
		case 'AccessDenied':
		case 'RequestTimeTooSkewed':
			return { status: 400, type: 'InvalidSignatureException', message: 'Signature expired: ' + error.message };
		case 'SignatureDoesNotMatch':
			return { status: 400, type: 'InvalidSignatureException', message: error.message };
	}
}
