import * as assert from '../testing/assert';
import { createPortableCrypto } from '../../platform/portable/crypto';
import type { LinkError } from '../link/link';
import { ok, type Result } from '../util/result';
import { utf8Decode } from '../util/utf8';
import { beginPairing, CODE_ALPHABET, CODE_LENGTH, pairingDigestHex, pairingTopic } from './pairing';

describe('pairing code', () => {
	let counter = 0;
	const crypto = createPortableCrypto((n) => {
		const b = new Uint8Array(n);
		for (let i = 0; i < n; i++) b[i] = (counter++ * 37 + 11) & 255;
		return b;
	});
	const sent: { topic: string; body: any; durable: boolean }[] = [];
	const link = {
		publish(topic: string, payload: Uint8Array, _qos: 0 | 1, durable?: boolean): Result<number, LinkError> {
			sent.push({ topic, body: JSON.parse(utf8Decode(payload)!), durable: durable === true });
			return ok(sent.length);
		},
	};

	it('makes a code of the unambiguous alphabet and reports only its digest and expiry, durably', () => {
		const r = beginPairing(link, { crypto, clock: { now: () => 1_800_000_000_000, monotonic: () => 0 } }, 'robot-1', 600);
		assert.ok(r.ok);
		assert.equal(r.value.code.length, CODE_LENGTH);
		for (const ch of r.value.code) assert.ok(CODE_ALPHABET.indexOf(ch) >= 0, ch);
		assert.equal(r.value.expiresAt, 1_800_000_600);
		const m = sent.at(-1)!;
		assert.equal(m.topic, pairingTopic('robot-1'));
		assert.ok(m.durable);
		assert.deepEqual(m.body, { state: { reported: { pairing: { digest: pairingDigestHex(crypto, 'robot-1', r.value.code), expiresAt: 1_800_000_600 } } } });
		assert.ok(JSON.stringify(m.body).indexOf(r.value.code) < 0, 'the code itself is not sent');
		// SHA-256("robot-1:ABCD2345"), as the cloud computes it (node:crypto in owner-api)
		assert.equal(pairingDigestHex(crypto, 'robot-1', 'ABCD2345'), '34f2a4461a9edf8f0c18c65d2d9e672b9dd38608586269435009d06d0f493ba5');
	});

	it('makes no code while the clock is unknown (no expiry could be checked)', () => {
		const r = beginPairing(link, { crypto, clock: { now: () => undefined, monotonic: () => 0 } }, 'robot-1');
		assert.ok(!r.ok);
		assert.equal(r.error.code, 'clock_unknown');
	});
});
