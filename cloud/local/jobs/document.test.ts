import assert from 'node:assert/strict';
import { checkDocument, objectOf, substitute } from './document';

describe('jobs: documents and presigned URL placeholders', () => {
	const local = 'http://127.0.0.1:4569';
	const rows: [string, { bucket: string; key: string } | undefined][] = [
		['https://s3.amazonaws.com/fw-bucket/robot/1.2.0.bin', { bucket: 'fw-bucket', key: 'robot/1.2.0.bin' }],
		['https://s3.us-east-1.amazonaws.com/fw-bucket/a%20b.bin', { bucket: 'fw-bucket', key: 'a b.bin' }],
		['https://s3-eu-west-1.amazonaws.com/fw-bucket/x', { bucket: 'fw-bucket', key: 'x' }],
		['https://fw-bucket.s3.amazonaws.com/robot/1.bin', { bucket: 'fw-bucket', key: 'robot/1.bin' }],
		['https://fw-bucket.s3.eu-west-1.amazonaws.com/1.bin', { bucket: 'fw-bucket', key: '1.bin' }],
		['http://127.0.0.1:4569/fw-bucket/robot/1.bin', { bucket: 'fw-bucket', key: 'robot/1.bin' }],
		['http://s3.amazonaws.com/fw-bucket/x', undefined],
		['https://example.com/fw-bucket/x', undefined],
		['https://s3.amazonaws.com/fw-bucket', undefined],
		['https://s3.amazonaws.com/fw-bucket/%E0%A4%A', undefined],
		['not a url', undefined],
	];
	for (const [url, want] of rows) it(`objectOf ${url}`, () => assert.deepEqual(objectOf(url, local), want));

	it('checks size, JSON and every placeholder', () => {
		assert.equal(checkDocument('{"a":1}').ok, true);
		assert.match((checkDocument('{') as { message: string }).message, /expected JSON/);
		assert.match((checkDocument('[1]') as { message: string }).message, /JSON object/);
		assert.match((checkDocument(JSON.stringify({ a: 'x'.repeat(33000) })) as { message: string }).message, /at most 32768 bytes/);
		assert.match((checkDocument('{"u":"${aws:iot:s3-presigned-url:https://evil.com/b/k}"}') as { message: string }).message, /S3 object URL/);
		const two = checkDocument('{"u":"${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b1/k1}","v":"${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b2/k2}"}');
		assert.deepEqual(two.ok && two.placeholders, [
			{ bucket: 'b1', key: 'k1' },
			{ bucket: 'b2', key: 'k2' },
		]);
	});

	it('substitutes each placeholder with a JSON-escaped URL', async () => {
		const doc = '{"files":[{"url":"${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k.bin}"}],"n":1}';
		const out = await substitute(doc, async (o, s) => `https://x/${o.bucket}/${o.key}?e=${s}&q="`, 60);
		assert.deepEqual(out, { files: [{ url: 'https://x/b/k.bin?e=60&q="' }], n: 1 });
	});
});
