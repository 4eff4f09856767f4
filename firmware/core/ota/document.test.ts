import * as assert from '../testing/assert';
import { compareVersions, parseJobDocument } from './document';
import { GOOD_DOC } from './testdata';

describe('ota document', () => {
	it('parses a good document', () => {
		const r = parseJobDocument(GOOD_DOC);
		assert.ok(r.ok);
		assert.equal(r.value.version, '1.1.0');
		assert.equal(r.value.sha256.length, 32);
	});

	it('says why a document is refused', () => {
		const bad: [unknown, RegExp][] = [
			[null, /not an object/],
			[{ ...GOOD_DOC, operation: 'reboot' }, /operation/],
			[{ ...GOOD_DOC, version: '1.1' }, /version/],
			[{ ...GOOD_DOC, size: -1 }, /size/],
			[{ ...GOOD_DOC, size: 1e9 }, /size/],
			[{ ...GOOD_DOC, sha256: 'abc' }, /sha256/],
			[{ ...GOOD_DOC, signature: 5 }, /signature/],
			[{ ...GOOD_DOC, url: '${aws:iot:s3-presigned-url:https://x}' }, /url/],
		];
		for (const [doc, why] of bad) {
			const r = parseJobDocument(doc);
			assert.ok(!r.ok && why.test(r.error), JSON.stringify(doc) + ' -> ' + JSON.stringify(r));
		}
	});

	it('orders versions numerically', () => {
		assert.equal(compareVersions('1.10.0', '1.9.9'), 1);
		assert.equal(compareVersions('1.0.0', '1.0.0'), 0);
		assert.equal(compareVersions('0.9.0', '1.0.0'), -1);
		assert.throws(() => compareVersions('1.0', '1.0.0'));
	});
});
