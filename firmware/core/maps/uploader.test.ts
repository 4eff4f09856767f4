import * as assert from '../testing/assert';
import { fakeTime, fixedRandom, memoryLog } from '../testing/fakes';
import type { HttpRequest, HttpResponse } from '../../ports';
import type { LinkError, Message, MessageHandler } from '../link/link';
import type { LinkState } from '../link/machine';
import { createPortableCrypto } from '../../platform/portable/crypto';
import { createRsaDeviceKey, parseRsaPrivateKey } from '../crypto/rsa';
import { OAEP_VECTORS, TEST_KEY_PKCS8, testRandom } from '../crypto/testdata';
import { base64Encode } from '../util/base64';
import { ok, type Result } from '../util/result';
import { utf8Decode, utf8Encode } from '../util/utf8';
import { MapUploader } from './uploader';

const crypto = createPortableCrypto(testRandom());
const parsed = parseRsaPrivateKey(TEST_KEY_PKCS8);
if (!parsed.ok) throw new Error('test key');
const deviceKey = createRsaDeviceKey(parsed.value, { sha256: crypto.sha256, random: crypto.random });
const wrapped32 = OAEP_VECTORS.find(([plain]) => plain.length === 32)![1];

function setup(statuses: number[], slotReply: (token: string) => unknown = (t) => slot(t)) {
	const time = fakeTime();
	let handler: MessageHandler | undefined;
	const requests: { missionId: string; bytes: number }[] = [];
	const link = {
		state: { value: 'connected' } as LinkState,
		subscribe(_f: string, h: MessageHandler): Result<void, LinkError> {
			handler = h;
			return ok(undefined);
		},
		publish(_topic: string, payload: Uint8Array): Result<number, LinkError> {
			const body = JSON.parse(utf8Decode(payload)!);
			requests.push(body);
			const reply = slotReply(body.clientToken);
			if (reply !== undefined) void Promise.resolve().then(() => handler!({ topic: 'x', payload: utf8Encode(JSON.stringify(reply)), qos: 0, dup: false, retain: false } as Message));
			return ok(requests.length);
		},
		withdraw: () => true,
		listen: () => () => undefined,
	};
	const puts: { length: number; received: number; first: Uint8Array }[] = [];
	const http = {
		async request(req: HttpRequest): Promise<{ ok: true; value: HttpResponse }> {
			let received = 0;
			let first: Uint8Array | undefined;
			for (let c = req.body!.next(); c; c = req.body!.next()) {
				first ??= c.slice();
				received += c.length;
				req.onProgress?.(received);
			}
			puts.push({ length: req.body!.length, received, first: first! });
			return { ok: true, value: { status: statuses.shift() ?? 200, headers: {}, body: new Uint8Array(0) } };
		},
	};
	const log = memoryLog();
	const up = new MapUploader(link, { crypto, deviceKey, http, timers: time.timers, random: fixedRandom(0), log }, 'robot-1', { backoff: { baseMs: 10, capMs: 10 } });
	return { up, puts, requests, time, log };
}

function slot(token: string) {
	return {
		clientToken: token,
		url: 'http://s3.local/maps/robot-1/m-1.esdk?X-Amz-Signature=x',
		wrappedKey: base64Encode(wrapped32),
		ciphertextBlob: base64Encode(new Uint8Array(40).fill(7)),
		keyArn: 'arn:aws:kms:us-east-1:000000000000:key/abc',
		encryptionContext: { thing: 'robot-1', mission: 'm-1', purpose: 'map' },
		frameLength: 4096,
	};
}

const map = (n: number) => ({
	length: n,
	open: () => {
		let at = 0;
		return (max: number) => {
			const k = Math.min(max, n - at);
			at += k;
			return new Uint8Array(k).fill(0x61);
		};
	},
});

describe('map uploader', () => {
	it('requests a slot, unwraps the key, streams an Encryption SDK message of the declared length', async () => {
		const t = setup([200]);
		const progress: number[] = [];
		const r = await t.up.upload('m-1', map(10_000), (sent) => progress.push(sent));
		assert.ok(r.ok);
		assert.deepEqual(
			t.requests.map((q) => [q.missionId, q.bytes]),
			[['m-1', 10_000]],
		);
		assert.equal(t.puts.length, 1);
		assert.equal(t.puts[0]!.received, t.puts[0]!.length, 'Content-Length is exact');
		assert.deepEqual(Array.from(t.puts[0]!.first.subarray(0, 3)), [0x02, 0x04, 0x78], 'format 2, suite 0x0478');
		assert.equal(progress[progress.length - 1], t.puts[0]!.length);
	});

	it('an expired or refused URL (403) asks for a new slot', async () => {
		const t = setup([403, 200]);
		const p = t.up.upload('m-1', map(5000));
		for (let i = 0; i < 5; i++) {
			for (let k = 0; k < 20; k++) await Promise.resolve();
			t.time.advance(100);
		}
		const r = await p;
		assert.ok(r.ok);
		assert.equal(r.value.attempts, 2);
		assert.equal(t.requests.length, 2);
	});

	it("a refused slot ends the upload with the cloud's reason; a malformed one too", async () => {
		const refused = await setup([], (token) => ({ clientToken: token, error: { code: 'too_large', message: 'bytes: 20000000, limit 16777216' } })).up.upload('m-9', map(1));
		assert.deepEqual(refused, { ok: false, error: { code: 'slot-refused', reason: 'too_large: bytes: 20000000, limit 16777216', retryable: false } });
		const bad = await setup([], (token) => ({ ...slot(token), frameLength: 1 << 30 })).up.upload('m-1', map(1));
		assert.deepEqual(bad, { ok: false, error: { code: 'bad-slot', reason: 'frameLength' } });
	});

	// the review: the cloud's own "try again later" was taken for a final refusal
	it("the cloud's unavailable is tried again after a backoff, and the slot that follows is used", async () => {
		let asked = 0;
		const t = setup([], (token) => (++asked === 1 ? { clientToken: token, error: { code: 'unavailable', message: 'no data key: KMS failed, try again later' } } : slot(token)));
		const p = t.up.upload('m-1', map(1));
		for (let i = 0; i < 10; i++) {
			for (let k = 0; k < 20; k++) await Promise.resolve();
			t.time.advance(1000);
		}
		const r = await p;
		assert.ok(r.ok, JSON.stringify(r));
		assert.equal(r.value.attempts, 2);
		assert.equal(t.requests.length, 2);
	});

	it('a wrapped key that does not open is refused and nothing is sent', async () => {
		const t = setup([], (token) => ({ ...slot(token), wrappedKey: base64Encode(new Uint8Array(256).fill(1)) }));
		assert.deepEqual(await t.up.upload('m-1', map(1)), { ok: false, error: { code: 'unwrap' } });
		assert.equal(t.puts.length, 0);
	});

	it('no reply: times out, tries again, then gives up', async () => {
		const t = setup([], () => undefined);
		const p = t.up.upload('m-1', map(1));
		for (let i = 0; i < 10; i++) {
			await Promise.resolve();
			t.time.advance(11_000);
			for (let k = 0; k < 5; k++) await Promise.resolve();
		}
		assert.deepEqual(await p, { ok: false, error: { code: 'slot-timeout' } });
		assert.equal(t.requests.length, 4);
	});
});
