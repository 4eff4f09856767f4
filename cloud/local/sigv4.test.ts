import assert from 'node:assert/strict';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './credentials';
import { EMPTY_SHA256, sha256Hex, UNSIGNED_PAYLOAD, verifySigV4, type SigV4Request } from './sigv4';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);

function signer(service: string, secretAccessKey = LOCAL_CREDENTIALS.secretAccessKey, accessKeyId = LOCAL_CREDENTIALS.accessKeyId) {
	return new SignatureV4({ service, region: LOCAL_REGION, credentials: { accessKeyId, secretAccessKey }, sha256: Sha256, uriEscapePath: service !== 's3' });
}

interface Signed {
	method: string;
	path: string;
	query?: Record<string, string | string[] | null>;
	headers: Record<string, string>;
}

/** What a server would see for a request the SDK signer produced. */
function asReceived(r: Signed): SigV4Request {
	const q = Object.entries(r.query ?? {})
		.flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => encodeURIComponent(k) + (x === null ? '' : '=' + encodeURIComponent(x))))
		.join('&');
	const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v]));
	return { method: r.method, url: r.path + (q ? '?' + q : ''), headers };
}

async function headerSigned(service: string, body: string, s = signer(service)) {
	const req = {
		method: 'POST',
		protocol: 'http:',
		hostname: '127.0.0.1',
		port: 4566,
		path: '/',
		query: {},
		headers: { host: '127.0.0.1:4566', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' },
		body,
	};
	return asReceived((await s.sign(req, { signingDate: new Date(T0) })) as Signed);
}

async function presigned(path: string, expiresIn: number, query: Record<string, string> = {}) {
	const req = { method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path, query, headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': UNSIGNED_PAYLOAD } };
	return asReceived((await signer('s3').presign(req, { signingDate: new Date(T0), expiresIn })) as Signed);
}

describe('sigv4', () => {
	it('accepts a header-signed JSON request and refuses a changed body, secret or key', async () => {
		const body = '{"Limit":10}';
		const ok = verifySigV4(await headerSigned('kms', body), { service: 'kms', payloadHash: sha256Hex(body), now: T0 });
		assert.equal(ok.ok, true);
		const changed = verifySigV4(await headerSigned('kms', body), { service: 'kms', payloadHash: sha256Hex('{"Limit":11}'), now: T0 });
		assert.deepEqual(changed.ok ? undefined : changed.error.code, 'SignatureDoesNotMatch');
		const badSecret = verifySigV4(await headerSigned('kms', body, signer('kms', 'not-the-secret')), { service: 'kms', payloadHash: sha256Hex(body), now: T0 });
		assert.equal(badSecret.ok ? undefined : badSecret.error.code, 'SignatureDoesNotMatch');
		const badKey = verifySigV4(await headerSigned('kms', body, signer('kms', undefined, 'AKIAOTHER')), { service: 'kms', payloadHash: sha256Hex(body), now: T0 });
		assert.equal(badKey.ok ? undefined : badKey.error.code, 'InvalidAccessKeyId');
		const wrongService = verifySigV4(await headerSigned('kms', body), { service: 'sqs', payloadHash: sha256Hex(body), now: T0 });
		assert.equal(wrongService.ok ? undefined : wrongService.error.status, 400);
	});

	it('refuses a header-signed request from too far in the past', async () => {
		const r = verifySigV4(await headerSigned('kms', ''), { service: 'kms', payloadHash: EMPTY_SHA256, now: T0 + 16 * 60_000 });
		assert.equal(r.ok ? undefined : r.error.code, 'RequestTimeTooSkewed');
	});

	it('refuses a changed signed header', async () => {
		const req = await headerSigned('kms', '');
		const r = verifySigV4({ ...req, headers: { ...req.headers, 'x-amz-target': 'TrentService.Decrypt' } }, { service: 'kms', payloadHash: EMPTY_SHA256, now: T0 });
		assert.equal(r.ok ? undefined : r.error.code, 'SignatureDoesNotMatch');
		const { host: _, ...noHost } = req.headers;
		const r2 = verifySigV4({ ...req, headers: noHost }, { service: 'kms', payloadHash: EMPTY_SHA256, now: T0 });
		assert.equal(r2.ok, false);
	});

	const presignRows: [string, number, number, string | undefined][] = [
		['within its lifetime', 60, T0 + 59_000, undefined],
		['at its last second', 60, T0 + 60_000, undefined],
		['past its expiry', 60, T0 + 61_000, 'AccessDenied'],
	];
	for (const [name, expires, now, code] of presignRows) {
		it('presigned URL ' + name, async () => {
			const r = verifySigV4(await presigned('/maps/robot-1/a%20b.bin', expires), { service: 's3', payloadHash: UNSIGNED_PAYLOAD, now });
			assert.equal(r.ok ? undefined : r.error.code, code);
			if (!r.ok) assert.equal(r.error.message, 'Request has expired');
		});
	}

	it('presigned URL with one changed signature byte, path or query is refused', async () => {
		const good = await presigned('/maps/k', 300, { 'response-content-type': 'x/y' });
		const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(good.url)![1]!;
		const flipped = sig.slice(0, 10) + (sig[10] === '0' ? '1' : '0') + sig.slice(11);
		const variants = [good.url.replace(sig, flipped), good.url.replace('/maps/k', '/maps/j'), good.url.replace('x%2Fy', 'x%2Fz')];
		for (const url of variants) {
			const r = verifySigV4({ ...good, url }, { service: 's3', payloadHash: UNSIGNED_PAYLOAD, now: T0 });
			assert.equal(r.ok ? undefined : r.error.code, 'SignatureDoesNotMatch', url);
		}
		assert.equal(verifySigV4(good, { service: 's3', payloadHash: UNSIGNED_PAYLOAD, now: T0 }).ok, true);
	});

	it('names what is missing in an unsigned or half-signed request', () => {
		const bare = verifySigV4({ method: 'GET', url: '/b/k', headers: { host: 'h' } }, { service: 's3', payloadHash: UNSIGNED_PAYLOAD, now: T0 });
		assert.equal(bare.ok ? undefined : bare.error.code, 'MissingAuthenticationToken');
		const half = verifySigV4({ method: 'GET', url: '/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256', headers: { host: 'h' } }, { service: 's3', payloadHash: UNSIGNED_PAYLOAD, now: T0 });
		assert.equal(half.ok ? undefined : half.error.code, 'AuthorizationQueryParametersError');
	});
});
