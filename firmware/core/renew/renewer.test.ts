/* The renewer over a link stand-in (testing/messenger.ts) and a fake clock: when it asks, what it accepts, the two-phase switch and the fallback. Node and XS. */
import * as assert from '../testing/assert';
import { fakeTime, fixedRandom, memoryLog, memoryStorage, settle } from '../testing/fakes';
import { fakeMessenger, type FakeMessenger } from '../testing/messenger';
import { createPortableCrypto } from '../../platform/portable/crypto';
import { createRsaDeviceKey, parseRsaPrivateKey, type RsaPrivateKey } from '../crypto/rsa';
import { TEST_KEY_PKCS8, testRandom } from '../crypto/testdata';
import { derEncode, derNull, derOid, derRaw, derSequence, derSet, derUnsigned, derUtf8Ascii, derBitString, DER_TAG } from '../crypto/der-writer';
import { base64Encode } from '../util/base64';
import { readRecord, writeRecord } from '../util/record';
import type { TlsCredentials } from '../../ports';
import { CURRENT_KEY, NEXT_KEY, Renewer } from './renewer';
import { renewTopics } from './contract';

const DAY = 86_400_000;
const START = Date.UTC(2027, 0, 1);
const crypto = createPortableCrypto(testRandom());
const key = (parseRsaPrivateKey(TEST_KEY_PKCS8) as { ok: true; value: RsaPrivateKey }).value;
const topics = renewTopics('robot-1');

function utcTime(ms: number): Uint8Array {
	const d = new Date(ms);
	const p = (n: number) => (n < 10 ? '0' : '') + n;
	const s = p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes()) + p(d.getUTCSeconds()) + 'Z';
	return new Uint8Array([...s].map((c) => c.charCodeAt(0)));
}

/** A certificate as the robot reads it (identity.ts: subject CN, validity, the RSA key; the signature is the broker's to check). */
function certificate(o: { thing?: string; notAfter: number; serial: bigint; n?: bigint }): Uint8Array {
	const name = derSequence(derSet(derSequence(derOid('2.5.4.3'), derUtf8Ascii(o.thing ?? 'robot-1'))));
	const alg = derSequence(derOid('1.2.840.113549.1.1.11'), derNull());
	const spki = derSequence(derSequence(derOid('1.2.840.113549.1.1.1'), derNull()), derBitString(derEncode(derSequence(derUnsigned(o.n ?? key.n), derUnsigned(key.e)))));
	const tbs = derSequence(derRaw(DER_TAG.context0, derEncode(derUnsigned(2n))), derUnsigned(o.serial), alg, name, derSequence(derRaw(0x17, utcTime(START - DAY)), derRaw(0x17, utcTime(o.notAfter))), name, spki);
	return derEncode(derSequence(tbs, alg, derBitString(new Uint8Array(256))));
}

const OLD = certificate({ notAfter: START + 10 * DAY, serial: 1n });
const NEW = certificate({ notAfter: START + 375 * DAY, serial: 2n });

function setup(o: { storage?: ReturnType<typeof memoryStorage>; certificates?: Uint8Array[]; state?: 'connected' | 'offline' } = {}) {
	const time = fakeTime(START);
	const storage = o.storage ?? memoryStorage();
	const log = memoryLog();
	const link = fakeMessenger(o.state ?? 'connected') as FakeMessenger & { stop(): void; start(): void; restarts: number };
	link.restarts = 0;
	link.stop = () => link.set('offline');
	link.start = () => {
		link.restarts++;
		link.set('connecting');
	};
	const endpoint: { tls: TlsCredentials } = { tls: { ca: new Uint8Array(1), certificates: o.certificates ?? [OLD], key: new Uint8Array(1) } };
	const deviceKey = createRsaDeviceKey(key, { sha256: crypto.sha256, random: crypto.random });
	const renewer = new Renewer(link, { clock: time.clock, timers: time.timers, random: fixedRandom(0.5), storage, log, deviceKey }, { thing: 'robot-1', endpoint, policy: { windowMs: 30 * DAY, retryMs: 3_600_000 } });
	return { time, storage, log, link, endpoint, renewer };
}

/** Runs a check and answers its request with `reply` on `topic`. */
async function ask(t: ReturnType<typeof setup>, topic: string, reply: Record<string, unknown>): Promise<boolean> {
	const p = t.renewer.check();
	await settle();
	const req = t.link.sent[t.link.sent.length - 1]!;
	t.link.deliver(topic, { clientToken: req.body.clientToken, ...reply });
	return p;
}

describe('renewer', () => {
	it('asks nothing outside the window, and with a CSR on its own topic inside it', async () => {
		const t = setup();
		// 10 days left with a 30-day window: due
		const p = t.renewer.check();
		await settle();
		assert.equal(t.link.sent.length, 1);
		assert.equal(t.link.sent[0]!.topic, topics.request);
		assert.equal(typeof t.link.sent[0]!.body.csr, 'string');
		t.link.deliver(topics.rejected, { clientToken: t.link.sent[0]!.body.clientToken, error: { code: 'key_mismatch', message: 'no' } });
		assert.equal(await p, false);
		const far = setup();
		const farRenewer = new Renewer(
			far.link,
			{
				clock: far.time.clock,
				timers: far.time.timers,
				random: fixedRandom(0.5),
				storage: memoryStorage(),
				log: far.log,
				deviceKey: createRsaDeviceKey(key, { sha256: crypto.sha256, random: crypto.random }),
			},
			{ thing: 'robot-1', endpoint: { tls: { ...far.endpoint.tls, certificates: [NEW] } }, policy: { windowMs: 30 * DAY } },
		);
		far.link.sent.length = 0;
		assert.equal(await farRenewer.check(), false);
		assert.equal(far.link.sent.length, 0);
	});

	it('a refusal is logged with its code and not asked again before retryMs', async () => {
		const t = setup();
		assert.equal(await ask(t, topics.rejected, { error: { code: 'certificate_not_active', message: 'certificate x is INACTIVE' } }), false);
		const line = t.log.lines.find((l) => l.event === 'renew.refused')!;
		assert.equal(line.fields.code, 'certificate_not_active');
		assert.equal(await t.renewer.check(), false);
		assert.equal(t.link.sent.length, 1);
		t.time.advance(3_600_000);
		void t.renewer.check();
		await settle();
		assert.equal(t.link.sent.length, 2);
	});

	it('refuses an answer for another key or another thing, storing nothing', async () => {
		for (const bad of [certificate({ notAfter: START + 375 * DAY, serial: 3n, n: key.n + 2n }), certificate({ thing: 'robot-2', notAfter: START + 375 * DAY, serial: 4n })]) {
			const t = setup();
			assert.equal(await ask(t, topics.accepted, { certificate: base64Encode(bad) }), false);
			assert.ok(t.log.lines.some((l) => l.event === 'renew.bad_certificate'));
			assert.equal(readRecord(t.storage, NEXT_KEY), undefined);
			assert.deepEqual(t.endpoint.tls.certificates[0], OLD);
		}
	});

	it('accepted: stored as next, reconnects with it, and on CONNACK it becomes current', async () => {
		const t = setup();
		assert.equal(await ask(t, topics.accepted, { certificate: base64Encode(NEW) }), true);
		assert.deepEqual(readRecord(t.storage, NEXT_KEY), NEW);
		assert.equal(readRecord(t.storage, CURRENT_KEY), undefined);
		assert.deepEqual(t.endpoint.tls.certificates[0], NEW);
		assert.equal(t.link.restarts, 1);
		assert.equal(t.renewer.state.value, 'trying');
		t.link.set('connected');
		assert.deepEqual(readRecord(t.storage, CURRENT_KEY), NEW);
		assert.equal(readRecord(t.storage, NEXT_KEY), undefined);
		assert.equal(t.renewer.state.value, 'idle');
		assert.equal(t.renewer.certificate?.serial, '02');
		// a boot over the same storage starts with it
		const again = setup({ storage: t.storage });
		assert.deepEqual(again.endpoint.tls.certificates[0], NEW);
	});

	it('falls back to the old certificate after 3 failed connects with the new one', async () => {
		const t = setup();
		await ask(t, topics.accepted, { certificate: base64Encode(NEW) });
		for (let i = 0; i < 3; i++) {
			t.link.set('connecting');
			t.link.set('waiting');
		}
		assert.deepEqual(t.endpoint.tls.certificates[0], OLD);
		assert.equal(readRecord(t.storage, NEXT_KEY), undefined);
		assert.equal(readRecord(t.storage, CURRENT_KEY), undefined);
		assert.equal(t.log.lines.find((l) => l.event === 'renew.fallback')!.fields.failures, 3);
	});

	it('a power loss after the new one was stored: the boot tries it, the old stays the fallback', () => {
		const storage = memoryStorage();
		assert.ok(writeRecord(storage, NEXT_KEY, NEW).ok);
		const t = setup({ storage });
		assert.equal(t.renewer.state.value, 'trying');
		assert.deepEqual(t.endpoint.tls.certificates[0], NEW);
		for (let i = 0; i < 3; i++) t.link.set('waiting');
		assert.deepEqual(t.endpoint.tls.certificates[0], OLD);
	});

	it('once started, it looks afterConnectMs after every connect (not only every checkMs)', async () => {
		const t = setup({ state: 'offline' });
		t.renewer.start();
		t.link.set('connecting');
		t.link.set('connected');
		t.time.advance(9_999);
		await settle();
		assert.equal(t.link.sent.length, 0, 'not before afterConnectMs (10 s by default)');
		t.time.advance(1);
		await settle();
		assert.equal(t.link.sent.length, 1, 'asked 10 s after the connect, not 6 h after the start');
		assert.equal(t.link.sent[0]!.topic, topics.request);
		// stopped: a connect schedules nothing
		t.link.deliver(topics.rejected, { clientToken: t.link.sent[0]!.body.clientToken, error: { code: 'unavailable', message: 'x' } });
		await settle();
		t.renewer.stop();
		t.time.advance(3_600_000);
		t.link.set('offline');
		t.link.set('connected');
		t.time.advance(10_000);
		await settle();
		assert.equal(t.link.sent.length, 1);
		// started again: past retryMs, the next connect asks again
		t.renewer.start();
		t.link.set('offline');
		t.link.set('connected');
		t.time.advance(10_000);
		await settle();
		assert.equal(t.link.sent.length, 2);
	});

	it('made without a certificate: takes the one the endpoint gets when started, a renewed one from storage first', async () => {
		const storage = memoryStorage();
		assert.ok(writeRecord(storage, CURRENT_KEY, NEW).ok);
		const t = setup({ storage, certificates: [], state: 'offline' });
		assert.equal(t.renewer.certificate, undefined);
		assert.equal(await t.renewer.check(), false, 'nothing to renew yet');
		// credentials read later (platform/moddable/start.ts): the holder's tls gets them, then the robot starts
		Object.assign(t.endpoint.tls, { certificates: [OLD] });
		t.renewer.start();
		assert.deepEqual(t.endpoint.tls.certificates[0], NEW, 'the renewed certificate kept in storage, over the factory one');
		assert.equal(t.renewer.certificate?.serial, '02');
		assert.ok(t.log.lines.some((l) => l.event === 'renew.using_renewed'));
		t.renewer.stop();
		// and one with only the factory certificate asks when it is due
		const u = setup({ certificates: [] });
		Object.assign(u.endpoint.tls, { certificates: [OLD] });
		const p = u.renewer.check();
		await settle();
		assert.equal(u.link.sent.length, 1, 'asked with the certificate it got');
		u.link.deliver(topics.rejected, { clientToken: u.link.sent[0]!.body.clientToken, error: { code: 'unavailable', message: 'x' } });
		assert.equal(await p, false);
	});
});
