/* The device identity inside the core (runs on Node and in XS): a certificate for the core's test key. */
import * as assert from '../testing/assert';
import { hex, TEST_KEY_PKCS8 } from '../crypto/testdata';
import { memoryStorage } from '../testing/fakes';
import { checkIdentity, loadIdentity, parseCertificate } from './identity';

// CN=robot-XS0001, serial 4a01, 2026-01-01..2046-01-01, the public half of TEST_KEY_PKCS8, issued by a throwaway CA
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

describe('identity', () => {
	it('parses the thing name, validity and serial of the certificate', () => {
		const r = parseCertificate(CERT);
		assert.ok(r.ok);
		assert.equal(r.value.thing, 'robot-XS0001');
		assert.equal(r.value.serial, '4a01');
		assert.equal(r.value.notBefore, Date.UTC(2026, 0, 1));
		assert.equal(r.value.notAfter, Date.UTC(2046, 0, 1));
	});
	it('accepts the matching key and refuses a certificate whose public key is another', () => {
		const good = checkIdentity(CERT, TEST_KEY_PKCS8, Date.UTC(2030, 0, 1));
		assert.ok(good.ok);
		assert.equal(good.value.thing, 'robot-XS0001');
		// flip a bit inside the certificate's modulus: it still parses, but is not the key's
		const other = CERT.slice();
		const at = other.length - 400;
		other[at] = (other[at] as number) ^ 0x10;
		const r = checkIdentity(other, TEST_KEY_PKCS8);
		assert.ok(!r.ok);
		assert.equal(r.error.code, 'mismatch');
	});
	it('refuses garbage, a non-RSA key and, with a clock, an expired certificate', () => {
		const g = checkIdentity(CERT.subarray(0, 40), TEST_KEY_PKCS8);
		assert.ok(!g.ok && g.error.code === 'certificate');
		const k = checkIdentity(CERT, CERT);
		assert.ok(!k.ok && k.error.code === 'key');
		const late = checkIdentity(CERT, TEST_KEY_PKCS8, Date.UTC(2047, 0, 1));
		assert.ok(!late.ok && late.error.code === 'expired');
	});
	it('loads from storage', () => {
		const s = memoryStorage();
		const missing = loadIdentity(s);
		assert.ok(!missing.ok && missing.error.code === 'missing');
		s.write('cert.der', CERT);
		s.write('key.der', TEST_KEY_PKCS8);
		const r = loadIdentity(s);
		assert.ok(r.ok && r.value.thing === 'robot-XS0001');
	});
});
