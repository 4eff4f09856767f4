/*
 * The device's credentials from Preference (../platform.ts loadCredentials) inside XS over the
 * fake `preference` (fakes/preference.ts): what provisioning writes (domain "cred": ca, cert,
 * key, DER) becomes the TLS credentials and the thing name (the certificate's CN); a missing part
 * is named, a key that is not the certificate's is refused, nothing is thrown.
 */
import * as assert from '../../../core/testing/assert';
import { hex, TEST_KEY_PKCS8 } from '../../../core/crypto/testdata';
import { loadCredentials } from '../platform';
import Preference, { preferenceFake } from './fakes/preference';

// CN=robot-XS0001, the public half of TEST_KEY_PKCS8 (the certificate of core/identity/identity.test.ts)
const CERT = hex(
	'308202c5308201ada00302010202024a01300d06092a864886f70d01010b0500301b31193017060355040313104964656e74697479205465' +
		'7374204341301e170d3236303130313030303030305a170d3436303130313030303030305a3017311530130603550403130c726f626f742d' +
		'58533030303130820122300d06092a864886f70d01010105000382010f003082010a0282010100a0ad0205f99096e63c8b57037cf30bf3ee' +
		'70738b9e38f5f7046f3c55a48eb12107138c83ea38f36b6e06ab1aa2a4d4ff1f7a6739806e3b120c191e1ffbfe803b8fbfa642f09ced5108' +
		'dfb1bb97a1eb8f6d6f8a86328b8f81c4e3eab93680b5347447a679f5bd29d85143d870736e2de01cd80929a444af8b660912a113901cec67' +
		'cf4b1f52e2578a9dde79597d97c0c960be4c60cc18bf3e224d06df70089106cf42dc6b1ff359180ea5aa8753f83199c2856cae6fe42603db' +
		'72812484ee962badd36db611e47104ebc0dbe3265e39fabedacf219dfe9af9e88df8918166c2413c03482713f7dae3c92d2ba1c175e4fa11' +
		'5cdef384f6213c32fabb6d447647d70203010001a317301530130603551d25040c300a06082b06010505070302300d06092a864886f70d01' +
		'010b0500038201010026a52aee86724f4659e6e94e735c0527d485e7dced7edd34e0194103c5644d463ef640db312a7d0c133efcc931adf4' +
		'688a9039b2418c829cfd200bbbbbb9fdac8808bc8ce48f03d3acb5b6ce61c1258656b2cd1cf6788533ab29e85b0c76b085a68e170a19f1b9' +
		'84fcf5520d88696dd4c57b504cb5b1ea337ce19cda913b5fde0aba59cb889b2b15ddf6551db7af1213949a01e603532e89342cf2fe427b45' +
		'88256882de580aa3447b2e212a5526851c8db76991bd1d587b3cd90eb5075fdde6050d62e4e38146389c7b0c7f9beee3f03a87e4dedc7e31' +
		'c8c9702df63975adda9c5931a5931d8be304746467a2690fafbff2ddab11dd1df95285a702babc1b25',
);
const CA = hex('3003020101');
const ab = (b: Uint8Array): ArrayBuffer => b.slice().buffer as ArrayBuffer;

function provision(domain = 'cred', parts: { ca?: Uint8Array; cert?: Uint8Array; key?: Uint8Array } = { ca: CA, cert: CERT, key: TEST_KEY_PKCS8 }): void {
	for (const [k, v] of Object.entries(parts)) if (v) Preference.set(domain, k, ab(v));
}

describe('moddable credentials from Preference', () => {
	for (const mode of ['lin', 'esp32'] as const) {
		describe(mode, () => {
			beforeEach(() => {
				preferenceFake.reset();
				preferenceFake.use(mode);
			});

			it('what provisioning wrote: the TLS credentials and the thing name from the certificate', () => {
				provision();
				const c = loadCredentials();
				assert.ok(typeof c !== 'string', String(c));
				assert.equal(c.thing, 'robot-XS0001');
				assert.deepEqual([...c.ca], [...CA]);
				assert.deepEqual([...c.certificates[0]!], [...CERT]);
				assert.deepEqual([...c.key], [...TEST_KEY_PKCS8]);
			});

			it('names every missing part and where it looked, never throws', () => {
				assert.equal(loadCredentials(), 'no device credentials (ca, cert, key) in Preference "cred": provision this device (tools/provision, npm run flash)');
				provision('cred', { ca: CA });
				assert.ok(/\(cert, key\)/.test(String(loadCredentials())));
			});

			it("refuses a key that is not the certificate's, and a part of another type", () => {
				const otherKey = TEST_KEY_PKCS8.slice();
				otherKey[otherKey.length - 5] = otherKey[otherKey.length - 5]! ^ 1;
				provision('cred', { ca: CA, cert: CERT, key: otherKey });
				assert.ok(/^device credentials: /.test(String(loadCredentials())), String(loadCredentials()));
				preferenceFake.reset();
				preferenceFake.use(mode);
				provision('cred', { ca: CA, key: TEST_KEY_PKCS8 });
				Preference.set('cred', 'cert', 'not bytes');
				assert.ok(/\(cert\)/.test(String(loadCredentials())));
			});

			it('reads another domain when asked (another identity)', () => {
				provision('cred2');
				const c = loadCredentials('cred2');
				assert.ok(typeof c !== 'string' && c.thing === 'robot-XS0001');
				assert.equal(typeof loadCredentials(), 'string');
			});
		});
	}
});
