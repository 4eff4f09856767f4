import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../credentials';
import type { S3Event } from './events';
import { startS3, type S3Service } from './server';

function client(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string } = LOCAL_CREDENTIALS) {
	// a copy: the SDK marks the credentials object it is given, and LOCAL_CREDENTIALS is frozen
	credentials = { ...credentials };
	return new S3Client({ endpoint, region: LOCAL_REGION, credentials, forcePathStyle: true });
}

async function rejects(p: Promise<unknown>, code: string, status: number): Promise<void> {
	await assert.rejects(p, (e: unknown) => {
		assert.ok(e instanceof S3ServiceException, String(e));
		assert.equal(e.name, code);
		assert.equal(e.$metadata.httpStatusCode, status);
		return true;
	});
}

/** The S3 error code in an XML error body. */
const errorCode = (xml: string) => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];

describe('local S3', () => {
	let s3: S3Service;
	let c: S3Client;
	let clock: number | undefined;

	beforeEach(async () => {
		clock = undefined;
		s3 = await startS3({ buckets: ['maps'], now: () => clock ?? Date.now() });
		c = client(s3.endpoint);
	});
	afterEach(async () => {
		c.destroy();
		await s3.close();
	});

	it('puts, heads, gets, lists and deletes with the SDK', async () => {
		await c.send(new CreateBucketCommand({ Bucket: 'other' }));
		await rejects(c.send(new CreateBucketCommand({ Bucket: 'other' })), 'BucketAlreadyOwnedByYou', 409);
		const put = await c.send(new PutObjectCommand({ Bucket: 'maps', Key: 'robot-1/m 1.bin', Body: 'hello', ContentType: 'text/plain', Metadata: { mission: 'm1' } }));
		assert.equal(put.ETag, '"' + createHash('md5').update('hello').digest('hex') + '"');
		await c.send(new PutObjectCommand({ Bucket: 'maps', Key: 'robot-2/a', Body: 'x' }));
		await c.send(new PutObjectCommand({ Bucket: 'maps', Key: 'top', Body: 'y' }));
		const head = await c.send(new HeadObjectCommand({ Bucket: 'maps', Key: 'robot-1/m 1.bin' }));
		assert.equal(head.ContentLength, 5);
		assert.equal(head.ContentType, 'text/plain');
		assert.deepEqual(head.Metadata, { mission: 'm1' });
		const got = await c.send(new GetObjectCommand({ Bucket: 'maps', Key: 'robot-1/m 1.bin' }));
		assert.equal(await got.Body!.transformToString(), 'hello');
		const all = await c.send(new ListObjectsV2Command({ Bucket: 'maps' }));
		assert.deepEqual(
			all.Contents?.map((o) => [o.Key, o.Size]),
			[
				['robot-1/m 1.bin', 5],
				['robot-2/a', 1],
				['top', 1],
			],
		);
		const dirs = await c.send(new ListObjectsV2Command({ Bucket: 'maps', Delimiter: '/' }));
		assert.deepEqual(
			dirs.CommonPrefixes?.map((p) => p.Prefix),
			['robot-1/', 'robot-2/'],
		);
		assert.deepEqual(
			dirs.Contents?.map((o) => o.Key),
			['top'],
		);
		const page1 = await c.send(new ListObjectsV2Command({ Bucket: 'maps', MaxKeys: 2 }));
		assert.equal(page1.IsTruncated, true);
		const page2 = await c.send(new ListObjectsV2Command({ Bucket: 'maps', MaxKeys: 2, ContinuationToken: page1.NextContinuationToken }));
		assert.deepEqual(
			page2.Contents?.map((o) => o.Key),
			['top'],
		);
		await c.send(new DeleteObjectCommand({ Bucket: 'maps', Key: 'robot-1/m 1.bin' }));
		await rejects(c.send(new GetObjectCommand({ Bucket: 'maps', Key: 'robot-1/m 1.bin' })), 'NoSuchKey', 404);
		await rejects(c.send(new HeadObjectCommand({ Bucket: 'maps', Key: 'robot-1/m 1.bin' })), 'NotFound', 404);
		await rejects(c.send(new GetObjectCommand({ Bucket: 'nope', Key: 'k' })), 'NoSuchBucket', 404);
	});

	it('streams a 2 MB body in (aws-chunked with a trailing checksum) and serves Ranges', async () => {
		const body = randomBytes(2 * 1024 * 1024 + 17);
		const chunks = Array.from({ length: 33 }, (_, i) => body.subarray(i * 65536, (i + 1) * 65536));
		await c.send(new PutObjectCommand({ Bucket: 'maps', Key: 'big', Body: Readable.from(chunks), ContentLength: body.length }));
		const whole = await c.send(new GetObjectCommand({ Bucket: 'maps', Key: 'big' }));
		assert.ok(Buffer.from(await whole.Body!.transformToByteArray()).equals(body));
		const part = await c.send(new GetObjectCommand({ Bucket: 'maps', Key: 'big', Range: 'bytes=100-199' }));
		assert.equal(part.$metadata.httpStatusCode, 206);
		assert.equal(part.ContentRange, 'bytes 100-199/' + body.length);
		assert.ok(Buffer.from(await part.Body!.transformToByteArray()).equals(body.subarray(100, 200)));

		// the OTA agent resumes with a presigned URL and `bytes=a-`
		const url = await getSignedUrl(c, new GetObjectCommand({ Bucket: 'maps', Key: 'big' }), { expiresIn: 300 });
		const from = body.length - 1000;
		const tail = await fetch(url, { headers: { range: 'bytes=' + from + '-' } });
		assert.equal(tail.status, 206);
		assert.equal(tail.headers.get('content-range'), 'bytes ' + from + '-' + (body.length - 1) + '/' + body.length);
		assert.ok(Buffer.from(await tail.arrayBuffer()).equals(body.subarray(from)));
		const past = await fetch(url, { headers: { range: 'bytes=' + body.length + '-' } });
		assert.equal(past.status, 416);
		assert.equal(errorCode(await past.text()), 'InvalidRange');
	});

	it('a valid presigned URL works with plain fetch, GET and PUT', async () => {
		const putUrl = await getSignedUrl(c, new PutObjectCommand({ Bucket: 'maps', Key: 'robot-1/map.bin' }), { expiresIn: 60 });
		const put = await fetch(putUrl, { method: 'PUT', body: new TextEncoder().encode('map bytes') });
		assert.equal(put.status, 200, await put.clone().text());
		assert.equal(put.headers.get('etag'), '"' + createHash('md5').update('map bytes').digest('hex') + '"');
		const getUrl = await getSignedUrl(c, new GetObjectCommand({ Bucket: 'maps', Key: 'robot-1/map.bin' }), { expiresIn: 60 });
		const got = await fetch(getUrl);
		assert.equal(got.status, 200);
		assert.equal(await got.text(), 'map bytes');
	});

	// the review: metadata and a content type the signer never signed were taken on a presigned PUT
	it('refuses on a presigned PUT the x-amz-meta-* and content-type headers it did not sign; takes them when signed', async () => {
		const url = await getSignedUrl(c, new PutObjectCommand({ Bucket: 'maps', Key: 'robot-1/unsigned.bin' }), { expiresIn: 60 });
		const body = new Uint8Array([1, 2, 3]);
		for (const headers of [{ 'x-amz-meta-owner': 'robot-2' }, { 'content-type': 'text/html' }] as Record<string, string>[]) {
			const res = await fetch(url, { method: 'PUT', headers, body });
			assert.equal(res.status, 403, JSON.stringify(headers));
			const text = await res.text();
			assert.equal(errorCode(text), 'AccessDenied');
			assert.match(text, new RegExp('not signed: ' + Object.keys(headers)[0]));
		}
		assert.equal((await fetch(url, { method: 'PUT', body })).status, 200, 'without them it goes');
		const typed = await getSignedUrl(c, new PutObjectCommand({ Bucket: 'maps', Key: 'robot-1/typed.bin', ContentType: 'application/octet-stream', Metadata: { mission: 'm-1' } }), {
			expiresIn: 60,
			signableHeaders: new Set(['content-type']),
			unhoistableHeaders: new Set(['x-amz-meta-mission']),
		});
		const ok = await fetch(typed, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'x-amz-meta-mission': 'm-1' }, body });
		assert.equal(ok.status, 200, await ok.clone().text());
		const other = await fetch(typed, { method: 'PUT', headers: { 'content-type': 'text/html', 'x-amz-meta-mission': 'm-1' }, body });
		assert.equal(other.status, 403, 'another content type than the signed one');
	});

	it('refuses a presigned URL with one signature byte changed (SignatureDoesNotMatch, 403)', async () => {
		await c.send(new PutObjectCommand({ Bucket: 'maps', Key: 'k', Body: 'secret' }));
		const url = new URL(await getSignedUrl(c, new GetObjectCommand({ Bucket: 'maps', Key: 'k' }), { expiresIn: 60 }));
		const sig = url.searchParams.get('X-Amz-Signature')!;
		url.searchParams.set('X-Amz-Signature', sig.slice(0, -1) + (sig.endsWith('a') ? 'b' : 'a'));
		const res = await fetch(url);
		assert.equal(res.status, 403);
		const text = await res.text();
		assert.equal(errorCode(text), 'SignatureDoesNotMatch');
		assert.doesNotMatch(text, /secret/);
		// and a presigned PUT whose key was changed
		const putUrl = (await getSignedUrl(c, new PutObjectCommand({ Bucket: 'maps', Key: 'robot-1/a' }), { expiresIn: 60 })).replace('robot-1', 'robot-2');
		const put = await fetch(putUrl, { method: 'PUT', body: 'x' });
		assert.equal(put.status, 403);
		assert.equal(errorCode(await put.text()), 'SignatureDoesNotMatch');
	});

	it('refuses a presigned URL past its expiry (AccessDenied, Request has expired)', async () => {
		await c.send(new PutObjectCommand({ Bucket: 'maps', Key: 'k', Body: 'v' }));
		const url = await getSignedUrl(c, new GetObjectCommand({ Bucket: 'maps', Key: 'k' }), { expiresIn: 60 });
		clock = Date.now() + 61_000;
		const res = await fetch(url);
		assert.equal(res.status, 403);
		const text = await res.text();
		assert.equal(errorCode(text), 'AccessDenied');
		assert.match(text, /Request has expired/);
	});

	it('refuses a wrong secret, an unknown key and an unsigned request', async () => {
		const wrong = client(s3.endpoint, { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: 'guess' });
		await rejects(wrong.send(new PutObjectCommand({ Bucket: 'maps', Key: 'k', Body: 'v' })), 'SignatureDoesNotMatch', 403);
		const unknown = client(s3.endpoint, { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' });
		await rejects(unknown.send(new GetObjectCommand({ Bucket: 'maps', Key: 'k' })), 'InvalidAccessKeyId', 403);
		const bare = await fetch(s3.endpoint + '/maps/k');
		assert.equal(bare.status, 403);
		assert.equal(errorCode(await bare.text()), 'AccessDenied');
		wrong.destroy();
		unknown.destroy();
	});

	it('refuses a body that does not match its signed hash, and objects over the cap', async () => {
		const { SignatureV4 } = await import('@smithy/signature-v4');
		const { Sha256 } = await import('@aws-crypto/sha256-js');
		const u = new URL(s3.endpoint);
		const signer = new SignatureV4({ service: 's3', region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS }, sha256: Sha256, uriEscapePath: false });
		const hash = createHash('sha256').update('good').digest('hex');
		const signed = await signer.sign({
			method: 'PUT',
			protocol: 'http:',
			hostname: u.hostname,
			port: Number(u.port),
			path: '/maps/k',
			query: {},
			headers: { host: u.host, 'x-amz-content-sha256': hash },
			body: 'good',
		});
		const res = await fetch(s3.endpoint + '/maps/k', { method: 'PUT', headers: signed.headers, body: 'evil' });
		assert.equal(res.status, 400);
		assert.equal(errorCode(await res.text()), 'XAmzContentSHA256Mismatch');
		await rejects(c.send(new HeadObjectCommand({ Bucket: 'maps', Key: 'k' })), 'NotFound', 404);

		const small = await startS3({ buckets: ['small'], maxObjectBytes: 10 });
		const sc = client(small.endpoint);
		await rejects(sc.send(new PutObjectCommand({ Bucket: 'small', Key: 'k', Body: 'x'.repeat(11) })), 'EntityTooLarge', 400);
		sc.destroy();
		await small.close();
	});

	it('tells onObjectCreated in the shape Lambda gets', async () => {
		const events: S3Event[] = [];
		const off = s3.onObjectCreated((e) => void events.push(e));
		await c.send(new PutObjectCommand({ Bucket: 'maps', Key: 'robot 1/map=1.bin', Body: 'abc' }));
		await new Promise((r) => setTimeout(r, 20));
		off();
		await c.send(new PutObjectCommand({ Bucket: 'maps', Key: 'later', Body: 'abc' }));
		await new Promise((r) => setTimeout(r, 20));
		assert.equal(events.length, 1);
		const r = events[0]!.Records[0]!;
		assert.equal(r.eventVersion, '2.1');
		assert.equal(r.eventSource, 'aws:s3');
		assert.equal(r.awsRegion, LOCAL_REGION);
		assert.equal(r.eventName, 'ObjectCreated:Put');
		assert.ok(!Number.isNaN(Date.parse(r.eventTime)));
		assert.deepEqual(r.s3.bucket, { name: 'maps', ownerIdentity: { principalId: '000000000000' }, arn: 'arn:aws:s3:::maps' });
		assert.equal(r.s3.object.key, 'robot+1/map%3D1.bin');
		assert.equal(decodeURIComponent(r.s3.object.key.replace(/\+/g, ' ')), 'robot 1/map=1.bin');
		assert.equal(r.s3.object.size, 3);
		assert.equal(r.s3.object.eTag, createHash('md5').update('abc').digest('hex'));
	});

	it('two instances side by side keep their own objects', async () => {
		const other = await startS3({ buckets: ['maps'] });
		const oc = client(other.endpoint);
		assert.notEqual(other.endpoint, s3.endpoint);
		await c.send(new PutObjectCommand({ Bucket: 'maps', Key: 'k', Body: 'one' }));
		await oc.send(new PutObjectCommand({ Bucket: 'maps', Key: 'k', Body: 'two' }));
		assert.equal(await (await c.send(new GetObjectCommand({ Bucket: 'maps', Key: 'k' }))).Body!.transformToString(), 'one');
		assert.equal(await (await oc.send(new GetObjectCommand({ Bucket: 'maps', Key: 'k' }))).Body!.transformToString(), 'two');
		oc.destroy();
		await other.close();
	});

	it('keeps objects in dataDir across a restart', async () => {
		const dir = await mkdtemp(path.join(tmpdir(), 's3-'));
		try {
			const a = await startS3({ dataDir: dir, buckets: ['maps'] });
			const ac = client(a.endpoint);
			await ac.send(new PutObjectCommand({ Bucket: 'maps', Key: 'deep/key.bin', Body: 'persisted' }));
			ac.destroy();
			await a.close();
			const b = await startS3({ dataDir: dir });
			const bc = client(b.endpoint);
			const got = await bc.send(new GetObjectCommand({ Bucket: 'maps', Key: 'deep/key.bin', Range: 'bytes=2-4' }));
			assert.equal(await got.Body!.transformToString(), 'rsi');
			const list = await bc.send(new ListObjectsV2Command({ Bucket: 'maps' }));
			assert.deepEqual(
				list.Contents?.map((o) => o.Key),
				['deep/key.bin'],
			);
			bc.destroy();
			await b.close();
		} finally {
			await rm(dir, { recursive: true, force: true });
		}
	});
});
