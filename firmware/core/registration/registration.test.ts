import * as assert from '../testing/assert';
import { fakeTime, fixedRandom, memoryLog, memoryStorage } from '../testing/fakes';
import type { ClockPort, DeviceKeyPort, HttpRequest, HttpResponse } from '../../ports';
import { createPortableCrypto } from '../../platform/portable/crypto';
import { createRsaDeviceKey, parseRsaPrivateKey } from '../crypto/rsa';
import { TEST_KEY_PKCS8, testRandom } from '../crypto/testdata';
import { base64Decode } from '../util/base64';
import { utf8Decode, utf8Encode } from '../util/utf8';
import { MAX_SKEW_MS, PROOF_DOMAIN, proofMessage } from './contract';
import { REGISTERED_KEY, certificateId, isRegistered, register } from './registration';

const crypto = createPortableCrypto(testRandom());
const CERT = new Uint8Array([0x30, 0x82, 0x01, 0x0a, 1, 2, 3, 4, 5]);
const URL = 'https://registration.example/prod/register';

type Reply = { status: number; body?: unknown } | { network: string };

function setup(replies: Reply[], options: { clock?: ClockPort; key?: DeviceKeyPort } = {}) {
	const time = fakeTime(1_750_000_000_000);
	const storage = memoryStorage();
	const log = memoryLog();
	const sent: { req: HttpRequest; body: Record<string, unknown> }[] = [];
	const signed: string[] = [];
	const key: DeviceKeyPort = options.key ?? {
		modulusBytes: 256,
		rsaPrivateRaw: () => new Uint8Array(256),
		signSha256(data) {
			signed.push(utf8Decode(data)!);
			return crypto.sha256(data);
		},
	};
	const http = {
		async request(req: HttpRequest): Promise<{ ok: true; value: HttpResponse } | { ok: false; error: string }> {
			const parts: Uint8Array[] = [];
			for (let c = req.body!.next(); c; c = req.body!.next()) parts.push(c.slice());
			assert.equal(parts.length, 1);
			assert.equal(parts[0]!.length, req.body!.length, 'content-length is exact');
			sent.push({ req, body: JSON.parse(utf8Decode(parts[0]!)!) });
			const r = replies.shift() ?? { network: 'no reply scripted' };
			if ('network' in r) return { ok: false, error: r.network };
			return { ok: true, value: { status: r.status, headers: {}, body: utf8Encode(r.body === undefined ? '' : JSON.stringify(r.body)) } };
		},
	};
	const ports = { http, deviceKey: key, crypto, clock: options.clock ?? time.clock, timers: time.timers, random: fixedRandom(0.5), storage, log };
	const run = (maxAttempts = 12) => register(ports, { url: URL, thing: 'robot-1', certificate: CERT, maxAttempts, backoff: { baseMs: 100, capMs: 1000 } });
	/** Runs `p` to its end, moving fake time along between promise turns. */
	async function drive<T>(p: Promise<T>): Promise<T> {
		let done = false;
		void p.then(() => (done = true));
		for (let i = 0; i < 200 && !done; i++) {
			for (let k = 0; k < 20; k++) await Promise.resolve();
			if (!done) time.advance(1000);
		}
		return p;
	}
	return { time, storage, log, sent, signed, ports, run, drive };
}

const registered = { status: 200, body: { status: 'registered', thing: 'robot-1', certificateId: 'c'.repeat(64) } };
const pending = { status: 202, body: { status: 'pending', thing: 'robot-1', requestId: 'r-1' } };
const refusal = (status: number, code: string) => ({ status, body: { error: { code, message: code + ' happened' }, requestId: 'r-2' } });

describe('registration (device side)', () => {
	it('POSTs the certificate and a proof over a fresh timestamp and the thing; remembers the answer', async () => {
		const t = setup([registered]);
		const r = await t.drive(t.run());
		assert.ok(r.ok);
		assert.deepEqual(r.value, { attempts: 1, already: false, certificateId: 'c'.repeat(64) });
		assert.equal(t.sent.length, 1);
		const { req, body } = t.sent[0]!;
		assert.equal(req.method, 'POST');
		assert.equal(req.url, URL);
		assert.equal(req.headers!['content-type'], 'application/json');
		assert.equal(body.v, 1);
		assert.equal(body.thing, 'robot-1');
		assert.deepEqual(Array.from(base64Decode(body.certificate as string)!), Array.from(CERT));
		assert.equal(body.timestamp, 1_750_000_000_000);
		assert.deepEqual(t.signed, [PROOF_DOMAIN + '\nrobot-1\n1750000000000']);
		assert.deepEqual(Array.from(base64Decode(body.signature as string)!), Array.from(crypto.sha256(utf8Encode(proofMessage('robot-1', 1_750_000_000_000)))));
		assert.ok(isRegistered(t.ports, 'robot-1', CERT));
		assert.ok(!isRegistered(t.ports, 'robot-2', CERT));
		assert.ok(!isRegistered(t.ports, 'robot-1', new Uint8Array([9])), 'another certificate registers again');
		const stored = JSON.parse(utf8Decode(t.storage.read(REGISTERED_KEY)!)!);
		assert.equal(stored.cert, certificateId(crypto, CERT));
		// a second boot sends nothing
		const again = await t.drive(t.run());
		assert.ok(again.ok);
		assert.equal(again.value.already, true);
		assert.equal(t.sent.length, 1);
	});

	it('a store that refuses the mark: registered all the same (logged), and the next boot asks again (the cloud is idempotent)', async () => {
		const t = setup([registered, registered]);
		t.storage.faults.fail = () => 'full';
		const r = await t.drive(t.run());
		assert.ok(r.ok);
		assert.equal(r.value.already, false);
		assert.ok(t.log.events().includes('registration.mark_unsaved'));
		assert.ok(!isRegistered(t.ports, 'robot-1', CERT));
		t.storage.faults.fail = undefined;
		const again = await t.drive(t.run());
		assert.ok(again.ok);
		assert.equal(t.sent.length, 2);
		assert.ok(isRegistered(t.ports, 'robot-1', CERT));
	});

	it('pending, stale, replayed, 5xx, 429 and network failures are tried again with a new proof each time', async () => {
		const t = setup([pending, refusal(403, 'stale_timestamp'), refusal(409, 'replayed'), { status: 503, body: { message: 'Service Unavailable' } }, { status: 429 }, { network: 'ECONNRESET' }, registered]);
		const r = await t.drive(t.run());
		assert.ok(r.ok);
		assert.equal(r.value.attempts, 7);
		const stamps = t.sent.map((s) => s.body.timestamp as number);
		for (let i = 1; i < stamps.length; i++) assert.ok(stamps[i]! > stamps[i - 1]!, 'every attempt signs a newer timestamp');
		assert.equal(new Set(t.sent.map((s) => s.body.signature)).size, 7);
		assert.deepEqual(
			t.log.lines.filter((l) => l.event === 'registration.retry').map((l) => l.fields.reason),
			['pending', 'stale_timestamp', 'replayed', 'http 503', 'http 429', 'network: ECONNRESET'],
		);
	});

	it('waits between attempts with growing, capped backoff', async () => {
		const t = setup([pending, pending, pending, pending, pending, registered]);
		const p = t.run();
		const at: number[] = [];
		const seen = () => t.sent.length;
		let n = 0;
		for (let i = 0; i < 400 && n < 6; i++) {
			for (let k = 0; k < 20; k++) await Promise.resolve();
			if (seen() > n) {
				n = seen();
				at.push(t.time.now());
			}
			t.time.advance(10);
		}
		assert.ok((await p).ok);
		const gaps = at.slice(1).map((x, i) => x - at[i]!);
		// random 0.5 of windows 100, 200, 400, 800, 1000 (cap): 50, 100, 200, 400, 500, rounded up to the 10 ms steps
		assert.deepEqual(gaps, [50, 100, 200, 400, 500]);
	});

	it("a final refusal stops at once with the cloud's reason and stores nothing", async () => {
		for (const code of ['untrusted_certificate', 'bad_signature', 'certificate_expired', 'thing_mismatch', 'certificate_revoked']) {
			const t = setup([refusal(403, code), registered]);
			const r = await t.drive(t.run());
			assert.deepEqual(r, { ok: false, error: { code: 'refused', reason: code, message: code + ' happened' } });
			assert.equal(t.sent.length, 1);
			assert.equal(t.storage.read(REGISTERED_KEY), undefined);
		}
		const t = setup([{ status: 400 }]);
		assert.deepEqual(await t.drive(t.run()), { ok: false, error: { code: 'refused', reason: 'http 400', message: '' } });
	});

	it('gives up after maxAttempts with the last reason; a 200 that is not the contract is not a registration', async () => {
		const t = setup([pending, { status: 200, body: { status: 'registered', thing: 'robot-2', certificateId: 'x' } }, { status: 200, body: 'ok' }]);
		assert.deepEqual(await t.drive(t.run(3)), { ok: false, error: { code: 'gave-up', attempts: 3, last: 'unexpected answer 200' } });
		assert.equal(t.storage.read(REGISTERED_KEY), undefined);
	});

	it('without wall time it sends nothing and waits; the proof uses the clock once it is set', async () => {
		let wall: number | undefined;
		const base = fakeTime(5_000);
		const clock: ClockPort = { now: () => wall, monotonic: () => base.now() };
		const t = setup([registered], { clock });
		const p = t.run(3);
		for (let k = 0; k < 20; k++) await Promise.resolve();
		assert.equal(t.sent.length, 0);
		wall = 1_800_000_000_000;
		const r = await t.drive(p);
		assert.ok(r.ok);
		assert.equal(t.sent[0]!.body.timestamp, 1_800_000_000_000);
		assert.ok(MAX_SKEW_MS >= 60_000);
	});

	it('signs with the real RSA device key: a 256-byte PKCS#1 v1.5 signature', async () => {
		const parsed = parseRsaPrivateKey(TEST_KEY_PKCS8);
		if (!parsed.ok) throw new Error('test key');
		const key = createRsaDeviceKey(parsed.value, { sha256: crypto.sha256, random: crypto.random });
		const t = setup([registered], { key });
		assert.ok((await t.drive(t.run())).ok);
		assert.equal(base64Decode(t.sent[0]!.body.signature as string)!.length, 256);
	});

	it('refuses bad arguments as programmer errors', async () => {
		const t = setup([]);
		let threw = 0;
		for (const cfg of [
			{ url: URL, thing: 'robot/1', certificate: CERT },
			{ url: URL, thing: 'robot-1', certificate: new Uint8Array(0) },
			{ url: 'ftp://x', thing: 'robot-1', certificate: CERT },
			{ url: URL, thing: 'robot-1', certificate: CERT, maxAttempts: 0 },
		]) {
			try {
				await register(t.ports, cfg);
			} catch {
				threw++;
			}
		}
		assert.equal(threw, 4);
	});
});
