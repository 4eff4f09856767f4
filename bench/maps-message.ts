/*
 * The Encryption SDK message the map benches write, on Node (bench/maps.ts) and inside XS
 * (bench/xs-maps-entry.ts): one encryption context, a stand-in KMS-wrapped data key of the
 * size KMS returns, 4 KB frames as the robot sends. Only the writer's cost is measured, so the
 * keys are random and nothing ever decrypts this message.
 */
import { createMessageWriter, type MessageWriter } from '../firmware/core/maps/esdk';
import type { CryptoPort } from '../firmware/ports';

export function benchMessageWriter(crypto: CryptoPort): MessageWriter {
	return createMessageWriter({
		crypto,
		dataKey: crypto.random(32),
		encryptionContext: { thing: 'robot-1', mission: 'm-bench', purpose: 'map' },
		edk: { providerId: 'aws-kms', providerInfo: 'arn:aws:kms:us-east-1:000000000000:key/bench', ciphertext: crypto.random(184) },
		frameLength: 4096,
	});
}
