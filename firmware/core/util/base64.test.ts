import * as assert from '../testing/assert';
import { base64Decode, base64Encode } from './base64';
import { utf8Encode } from './utf8';

describe('base64', () => {
	const rows: [string, string][] = [
		['', ''],
		['f', 'Zg=='],
		['fo', 'Zm8='],
		['foo', 'Zm9v'],
		['foob', 'Zm9vYg=='],
		['fooba', 'Zm9vYmE='],
		['foobar', 'Zm9vYmFy'],
	];
	for (const [plain, coded] of rows) {
		it('RFC 4648 vector "' + plain + '"', () => {
			assert.equal(base64Encode(utf8Encode(plain)), coded);
			assert.deepEqual(base64Decode(coded), utf8Encode(plain));
		});
	}
	it('round-trips every byte value', () => {
		const b = new Uint8Array(256).map((_, i) => i);
		assert.deepEqual(base64Decode(base64Encode(b)), b);
	});
	for (const bad of ['Zg=', 'Z===', 'Zm9v!A==', 'Zg==Zg==', '=Zg=', 'Zm 9v', 'Zé==']) it('refuses ' + JSON.stringify(bad), () => assert.equal(base64Decode(bad), undefined));
});
