/*
 * What the SDK fakes (../fakes) claim about the Moddable SDK, as checks that run on BOTH sides:
 * - inside XS over the fakes (../sdk-facts.test.ts, part of npm run test:xs), and
 * - on the real runtime, SDK 8.2.3 on lin under mcsim (./main.ts, run by tools/sdk-facts.ts where MODDABLE
 *   is set), where the module names are the SDK's own modules.
 * So a fake that drifts from the SDK fails one side. Only facts that need no network are here;
 * the network ones (securesocket, http, sntp) are checked on the runtime by ./main.ts against
 * local servers, and modelled by the fakes from the same observations.
 * `wait(ms)` lets timers run: real time on the device, the fakes' virtual loop in XS.
 */
/// <reference path="../../moddable-crypto.d.ts" />
/// <reference path="../../firmware-modules.d.ts" />
import config from 'mc/config';
import { File } from 'file';
import Preference from 'preference';
import { BlockCipher, Digest, GHASH, Mode } from 'crypt';
import HMAC from 'hmac';
import Modular from 'modular';
import Mont from 'mont';
import Timer from 'timer';
import Time from 'time';
import ECDSA from 'ecdsa';
import Instrumentation from 'instrumentation';
import Net from 'net';
import X509 from 'x509';
import { P256_CERT, P256_SIGNATURE, RSA_CERT, SIGNED_SHA256 } from './code-signing';

export interface Fact {
	readonly name: string;
	readonly check: (wait: (ms: number) => Promise<void>) => void | Promise<void>;
}

function fail(why: string): never {
	throw new Error(why);
}
function same(a: unknown, b: unknown, what: string): void {
	const x = JSON.stringify(a);
	const y = JSON.stringify(b);
	if (x !== y) fail(what + ': expected ' + y + ', got ' + x);
}
function throwsLike(fn: () => unknown, kind: string, match: RegExp, what: string): void {
	try {
		fn();
	} catch (e) {
		const err = e as Error;
		if (err?.name !== kind) fail(what + ': threw ' + err?.name + ' (' + err?.message + '), expected ' + kind);
		if (!match.test(String(err?.message))) fail(what + ': threw "' + err?.message + '", expected ' + match);
		return;
	}
	fail(what + ': did not throw');
}
const hexOf = (b: ArrayBuffer | Uint8Array): string => Array.from(b instanceof Uint8Array ? b : new Uint8Array(b), (v) => (v < 16 ? '0' : '') + v.toString(16)).join('');
const fromHex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const ab = (s: string): ArrayBuffer => fromHex(s).buffer as ArrayBuffer;
const D = 'sdkfacts';

export const FACTS: readonly Fact[] = [
	{
		name: 'preference (lin): an ArrayBuffer comes back as a fresh copy; a missing key is undefined; keys() lists the domain',
		check() {
			for (const k of Preference.keys(D)) Preference.delete(D, k);
			const v = Uint8Array.of(1, 2, 255);
			Preference.set(D, 'b', v.buffer);
			v[0] = 9;
			const r = Preference.get(D, 'b');
			if (!(r instanceof ArrayBuffer)) fail('get: not an ArrayBuffer');
			same(Array.from(new Uint8Array(r)), [1, 2, 255], 'get');
			same(Preference.get(D, 'missing'), undefined, 'missing key');
			same(Preference.keys(D), ['b'], 'keys');
			Preference.delete(D, 'b');
			same(Preference.keys(D), [], 'keys after delete');
		},
	},
	{
		name: 'preference (lin): an EMPTY ArrayBuffer reads back as ONE zero byte',
		check() {
			Preference.set(D, 'e', new ArrayBuffer(0));
			const r = Preference.get(D, 'e');
			if (!(r instanceof ArrayBuffer)) fail('get: not an ArrayBuffer');
			same(Array.from(new Uint8Array(r)), [0], 'empty value read back');
			Preference.delete(D, 'e');
		},
	},
	{
		name: 'preference (lin): names longer than NVS allows are taken without an error',
		check() {
			Preference.set('a-domain-longer-than-15', 'a-key-longer-than-15', 1);
			same(Preference.get('a-domain-longer-than-15', 'a-key-longer-than-15'), 1, 'long names');
			Preference.delete('a-domain-longer-than-15', 'a-key-longer-than-15');
		},
	},
	{
		name: 'file (lin): a missing file does not open; opening to write keeps the contents; reading at the end throws (but 0 bytes do not); write wants an ArrayBuffer; rename takes a bare name in the same directory',
		check() {
			const dir = String(config.file?.root ?? '/tmp/');
			const a = dir + 'sdkfacts-a.bin';
			const b = dir + 'sdkfacts-b.bin';
			for (const p of [a, b]) if (File.exists(p)) File.delete(p);
			throwsLike(() => new File(a), 'Error', /file not found/, 'open a missing file');
			let f = new File(a, true);
			f.write(Uint8Array.of(1, 2, 3, 4).buffer as ArrayBuffer);
			throwsLike(() => f.write(Uint8Array.of(5) as unknown as ArrayBuffer), 'TypeError', /ArrayBuffer/, 'write(view)');
			f.close();
			f = new File(a, true);
			same(f.length, 4, 'reopened for writing: not truncated');
			f.position = 1;
			f.write(Uint8Array.of(9).buffer as ArrayBuffer);
			f.position = 0;
			same(Array.from(new Uint8Array(f.read(ArrayBuffer, 10))), [1, 9, 3, 4], 'read to the end');
			same(f.read(ArrayBuffer, 0).byteLength, 0, 'read 0 bytes at the end');
			throwsLike(() => f.read(ArrayBuffer), 'Error', /read past end of file/, 'read the rest at the end');
			throwsLike(() => f.read(ArrayBuffer, 1), 'Error', /read past end of file/, 'read 1 byte at the end');
			f.close();
			same(File.rename(a, 'sdkfacts-b.bin'), true, 'rename to a bare name');
			same([File.exists(a), File.exists(b)], [false, true], 'renamed within the directory');
			same(File.rename(a, 'sdkfacts-c.bin'), false, 'rename of a missing file');
			same(File.delete(b), true, 'delete');
			same(File.delete(b), false, 'delete a missing file');
		},
	},
	{
		name: 'crypt: BlockCipher, Mode result and IV, GHASH h and aad take an ArrayBuffer only (a view is a TypeError)',
		check() {
			const key = new ArrayBuffer(32);
			const aes = new BlockCipher('AES', key);
			throwsLike(() => aes.encrypt(new Uint8Array(16) as unknown as ArrayBuffer), 'TypeError', /ArrayBuffer/, 'BlockCipher.encrypt(view)');
			const ctr = new Mode('CTR', aes);
			throwsLike(() => ctr.setIV(new Uint8Array(16) as unknown as ArrayBuffer), 'TypeError', /ArrayBuffer/, 'Mode.setIV(view)');
			throwsLike(() => ctr.encrypt(new Uint8Array(4), new Uint8Array(4) as unknown as ArrayBuffer), 'TypeError', /ArrayBuffer/, 'Mode.encrypt(data, view)');
			throwsLike(() => new GHASH(new Uint8Array(16) as unknown as ArrayBuffer), 'TypeError', /ArrayBuffer/, 'GHASH(view)');
			throwsLike(() => new GHASH(new ArrayBuffer(16), new Uint8Array(3) as unknown as ArrayBuffer), 'TypeError', /ArrayBuffer/, 'GHASH(h, view)');
		},
	},
	{
		name: 'crypt: BlockCipher says "bad size" and "buffer too small"; Mode says "output too small"',
		check() {
			const aes = new BlockCipher('AES', new ArrayBuffer(32));
			throwsLike(() => aes.encrypt(new ArrayBuffer(15)), 'Error', /bad size/, 'short block');
			throwsLike(() => aes.encrypt(new ArrayBuffer(16), new ArrayBuffer(15)), 'Error', /buffer too small/, 'short result');
			throwsLike(() => new Mode('CTR', aes).encrypt(new Uint8Array(20), new ArrayBuffer(19)), 'Error', /output too small/, 'short Mode result');
		},
	},
	{
		name: 'crypt: CTR takes data as a view, writes from the start of a larger result, right-aligns a short IV and carries the keystream across calls',
		check() {
			const aes = new BlockCipher('AES', ab('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'));
			const data = Uint8Array.from({ length: 40 }, (_, i) => i);
			const whole = new Mode('CTR', aes);
			whole.setIV(ab('0000000000000000000000000000000000000000cafebabe00000001'.slice(-32)));
			const one = new Uint8Array(whole.encrypt(data.subarray(0, 40)));
			const parts = new Mode('CTR', aes);
			parts.setIV(ab('cafebabe00000001')); // 8 bytes: right-aligned, the rest zero
			const out = new ArrayBuffer(64);
			parts.encrypt(data.subarray(0, 5), out);
			const first = new Uint8Array(out, 0, 5).slice();
			parts.encrypt(data.subarray(5, 40), out);
			const rest = new Uint8Array(out, 0, 35).slice();
			same(hexOf(first) + hexOf(rest), hexOf(one), 'CTR in two calls');
			same(hexOf(new Uint8Array(out, 35)), '00'.repeat(29), 'bytes after the output untouched');
		},
	},
	{
		name: 'crypt: AES-CTR + GHASH composed as GCM give the NIST tag (SP 800-38D test case 16)',
		check() {
			const aes = new BlockCipher('AES', ab('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'));
			const h = aes.encrypt(new ArrayBuffer(16));
			const j0 = fromHex('cafebabefacedbaddecaf88800000001');
			const ek0 = new Uint8Array(aes.encrypt(j0.slice().buffer as ArrayBuffer));
			j0[15] = 2;
			const ctr = new Mode('CTR', aes);
			ctr.setIV(j0.buffer as ArrayBuffer);
			const ct = new Uint8Array(ctr.encrypt(fromHex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39')));
			const g = new GHASH(h, ab('feedfacedeadbeeffeedfacedeadbeefabaddad2'));
			g.write(ct);
			const s = new Uint8Array(g.close());
			const tag = s.map((v, i) => v ^ (ek0[i] as number));
			same(hexOf(ct), '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662', 'ciphertext');
			same(hexOf(tag), '76fc6ece0f4e1768cddf8853bb2d551b', 'tag');
		},
	},
	{
		name: 'crypt: Digest.write takes a view; a write after close does NOT throw (the host chunk stays: a caller must guard itself)',
		check() {
			const d = new Digest('SHA256');
			d.write(Uint8Array.of(0, 0x61, 0x62, 0x63, 0).subarray(1, 4) as unknown as ArrayBuffer);
			same(hexOf(d.close()), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'SHA-256("abc")');
			d.write(new ArrayBuffer(1));
		},
	},
	{
		name: 'hmac: HMAC-SHA-512 over a Digest, with a Uint8Array key (RFC 4231 case 2)',
		check() {
			const key = Uint8Array.from('Jefe', (c) => c.charCodeAt(0));
			const data = Uint8Array.from('what do ya want for nothing?', (c) => c.charCodeAt(0));
			same(hexOf(new HMAC(new Digest('SHA512'), key).process(data)), '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737', 'HMAC');
		},
	},
	{
		name: 'modular / mont: exp, mulinv (without an inverse it answers a number that is NOT one: 4 mod 10 gives 8), LR and SW on the prototype only',
		check() {
			const m = new Modular(1000003n);
			same(String(m.exp(2n, 100n)), String(2n ** 100n % 1000003n), 'exp');
			same(String(new Modular(7n).mulinv(3n)), '5', 'mulinv');
			same(String(new Modular(10n).mulinv(4n)), '8', 'mulinv without an inverse');
			// a Number instead of a BigInt is not checked here: on 8.2.3 it killed mcsim (the fakes refuse it)
			const mont = new Mont({ m: 1000003n });
			same(String(mont.exp(3n, 65537n)), String(new Modular(1000003n).exp(3n, 65537n)), 'Mont.exp');
			same((Mont as unknown as { SW?: number }).SW, undefined, 'Mont.SW on the class');
			same([mont.LR, mont.SW], [0, 1], 'LR and SW on the prototype');
		},
	},
	{
		name: 'x509 / ecdsa: a P-256 certificate decodes to spki {algo "1,2,840,10045,2,1", curve.orderSize 32, pub}; ECDSA verifies raw r || s; an RSA certificate has no pub',
		check() {
			const spki = X509.decode(P256_CERT.slice().buffer as ArrayBuffer).spki;
			same([spki.algo?.toString(), spki.curve?.orderSize, spki.pub !== undefined], ['1,2,840,10045,2,1', 32, true], 'P-256 spki');
			// DER SEQUENCE { INTEGER r, INTEGER s } to raw r || s, 32 bytes each
			const der = P256_SIGNATURE;
			const rLen = der[3] as number;
			const r = der.subarray(4, 4 + rLen);
			const s = der.subarray(6 + rLen);
			const rs = new Uint8Array(64);
			rs.set(r.subarray(r.length - 32), 32 - Math.min(32, r.length));
			rs.set(s.subarray(s.length - 32), 64 - Math.min(32, s.length));
			const ecdsa = new ECDSA(spki.pub, spki.curve);
			same(ecdsa.verify(SIGNED_SHA256.slice().buffer as ArrayBuffer, rs.buffer as ArrayBuffer, false), true, 'a good signature');
			const other = SIGNED_SHA256.slice();
			other[0] = (other[0] as number) ^ 1;
			same(ecdsa.verify(other.buffer as ArrayBuffer, rs.buffer as ArrayBuffer, false), false, 'another digest');
			const rsa = X509.decode(RSA_CERT.slice().buffer as ArrayBuffer).spki;
			same([rsa.algo?.toString(), rsa.pub === undefined], ['1,2,840,113549,1,1,1', true], 'RSA spki');
			throwsLike(() => X509.decode(Uint8Array.of(1, 2, 3).buffer as ArrayBuffer), 'Error', /x509: malformed input/, 'not DER');
		},
	},
	{
		name: 'instrumentation / net (lin, debug build): a counter name maps to an index whose value is a number; an unknown name maps to undefined; System Free Memory is there on lin too; no RSSI on lin',
		check() {
			const slot = Instrumentation.map('XS Slot Heap Used');
			if (typeof slot !== 'number') fail('map("XS Slot Heap Used"): ' + slot);
			const v = Instrumentation.get(slot);
			if (!(typeof v === 'number' && v >= 0)) fail('get(slot heap): ' + v);
			same(Instrumentation.map('No Such Counter' as 'Timers'), undefined, 'an unknown name');
			const sys = Instrumentation.map('System Free Memory');
			same([typeof sys, typeof Instrumentation.get(sys as number)], ['number', 'number'], 'System Free Memory on lin');
			same(Net.get('RSSI'), undefined, 'RSSI on lin');
		},
	},
	{
		name: 'BigInt.fromArrayBuffer refuses a view and an empty buffer',
		check() {
			same(String(BigInt.fromArrayBuffer(Uint8Array.of(1, 2).buffer as ArrayBuffer)), '258', 'fromArrayBuffer');
			throwsLike(() => BigInt.fromArrayBuffer(Uint8Array.of(1) as unknown as ArrayBuffer), 'TypeError', /ArrayBuffer/, 'a view');
			throwsLike(() => BigInt.fromArrayBuffer(new ArrayBuffer(0)), 'SyntaxError', /ArrayBuffer/, 'an empty buffer');
		},
	},
	{
		name: 'timer / time: a 0 ms timer runs after set returns; clearing a fired or absent timer is allowed; ticks count ms',
		async check(wait) {
			const seen: string[] = [];
			const t = Timer.set(() => seen.push('fired'), 0);
			seen.push('after set');
			const before = Time.ticks;
			await wait(60);
			const elapsed = Time.ticks - before;
			same(seen, ['after set', 'fired'], 'order');
			Timer.clear(t);
			Timer.clear(undefined);
			const cleared = Timer.set(() => seen.push('cleared ran'), 10);
			Timer.clear(cleared);
			await wait(30);
			same(seen.length, 2, 'a cleared timer never runs');
			if (!(typeof before === 'number' && elapsed >= 59 && elapsed < 5000)) fail('ticks: ' + elapsed + ' ms over a 60 ms wait');
		},
	},
];

/** Runs every fact; answers the failures as "name: why". */
export async function runFacts(wait: (ms: number) => Promise<void>, say: (line: string) => void): Promise<string[]> {
	const failures: string[] = [];
	for (const f of FACTS) {
		try {
			await f.check(wait);
			say('fact ok: ' + f.name);
		} catch (e) {
			const why = f.name + ': ' + String((e as Error)?.message ?? e);
			failures.push(why);
			say('fact FAILED: ' + why);
		}
	}
	return failures;
}
