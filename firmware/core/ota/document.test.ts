import * as assert from '../testing/assert';
import { checkJobDocument, compareVersions, encodeManifest, PRODUCT, sourcesError, urlAllowed } from './document';
import { portableCodeSigning } from '../../platform/portable/code-signing';
import { GOOD_DOC, IMAGE_SHA256, MANIFEST_1_1_0, MANIFEST_SIGNER_SPKI, TEST_SOURCES } from './testdata';

const check = (doc: unknown) => checkJobDocument(doc, { certificate: MANIFEST_SIGNER_SPKI, signing: portableCodeSigning, product: PRODUCT, sources: TEST_SOURCES });

describe('ota document', () => {
	it('takes version, size, SHA-256 and counter from the signed manifest, the URL from the document', () => {
		const r = check({ ...GOOD_DOC, version: '9.9.9', size: 1, sha256: '00' });
		assert.ok(r.ok);
		assert.equal(r.value.version, '1.1.0');
		assert.equal(r.value.size, 10000);
		assert.equal(r.value.sha256.length, 32);
		assert.equal(r.value.counter, 1);
		assert.equal(r.value.url, GOOD_DOC.url);
	});

	it('encodes the manifest in its one text form (what tools/ota signs)', () => {
		assert.equal(encodeManifest({ product: PRODUCT, version: '1.1.0', size: 10000, sha256: IMAGE_SHA256, counter: 1 }), MANIFEST_1_1_0);
		assert.throws(() => encodeManifest({ product: PRODUCT, version: '1.1', size: 10000, sha256: IMAGE_SHA256, counter: 1 }));
	});

	it('says why a document is refused', () => {
		const bad: [unknown, RegExp][] = [
			[null, /not an object/],
			[{ ...GOOD_DOC, operation: 'reboot' }, /operation/],
			[{ ...GOOD_DOC, manifest: 'x'.repeat(513) }, /manifest is not a string/],
			[{ ...GOOD_DOC, signature: 5 }, /signature/],
			[{ ...GOOD_DOC, url: '${aws:iot:s3-presigned-url:https://x}' }, /url/],
			[{ ...GOOD_DOC, url: 'ftp://127.0.0.1/firmware/x' }, /url/],
			[{ ...GOOD_DOC, url: 'http://127.0.0.1/firmware/../maps/x' }, /source/],
		];
		for (const [doc, why] of bad) {
			const r = check(doc);
			assert.ok(!r.ok && why.test(r.error), JSON.stringify(doc) + ' -> ' + JSON.stringify(r));
		}
	});

	it('allows URLs only under a configured source: scheme, host, path prefix, port when given', () => {
		const sources = ['https://fw.example.com/firmware/', 'http://127.0.0.1/firmware/'];
		const rows: [string, boolean][] = [
			['https://fw.example.com/firmware/1.0.0/robot.bin?X-Amz-Signature=1', true],
			['https://fw.example.com:8443/firmware/x', true],
			['http://fw.example.com/firmware/x', false],
			['https://FW.example.com/firmware/x', true],
			['https://fw.example.com.evil/firmware/x', false],
			['https://fw.example.com/maps/x', false],
			['http://127.0.0.1:4569/firmware/x', true],
			['https://127.0.0.1/firmware/x', false],
		];
		for (const [url, ok] of rows) assert.equal(urlAllowed(url, sources), ok, url);
		assert.equal(urlAllowed('https://fw.example.com/firmware/x', ['https://fw.example.com:443/firmware/']), false);
	});

	it('refuses a source configuration with plain http to anything but loopback', () => {
		assert.equal(sourcesError(['https://fw.example.com/firmware/', 'http://127.0.0.1/firmware/']), undefined);
		assert.ok(/http only for a loopback host/.test(sourcesError(['http://fw.example.com/firmware/']) ?? ''));
		assert.ok(/at least one/.test(sourcesError([]) ?? ''));
		assert.ok(/ends with/.test(sourcesError(['https://fw.example.com/firmware']) ?? ''));
	});

	it('orders versions numerically', () => {
		assert.equal(compareVersions('1.10.0', '1.9.9'), 1);
		assert.equal(compareVersions('1.0.0', '1.0.0'), 0);
		assert.equal(compareVersions('0.9.0', '1.0.0'), -1);
		assert.throws(() => compareVersions('1.0', '1.0.0'));
	});
});
