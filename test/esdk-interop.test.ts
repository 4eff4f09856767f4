/*
 * The device's Encryption SDK writer (firmware/core/maps/esdk.ts) against the stock
 * AWS Encryption SDK: messages written with a data key from the local KMS open with
 * `@aws-crypto/client-node` and a KMS keyring, whole and streamed, with both crypto
 * ports (node:crypto and the portable one the robot falls back to); a flipped byte
 * anywhere is refused. Also the device-key path: node:crypto OAEP ciphertexts open with
 * the core's OAEP over both device keys, and both keys sign alike.
 */
import assert from 'node:assert/strict';
import nodeCrypto from 'node:crypto';
import { Readable } from 'node:stream';
import { buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node';
import { GenerateDataKeyCommand, KMS, KMSClient } from '@aws-sdk/client-kms';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startKms, type KmsService } from '../cloud/local/kms/server';
import { oaepDecrypt } from '../firmware/core/crypto/oaep';
import { createPortableCrypto } from '../firmware/platform/portable/crypto';
import { createRsaDeviceKey, parseRsaPrivateKey } from '../firmware/core/crypto/rsa';
import { TEST_KEY_PKCS8, TEST_KEY_SPKI } from '../firmware/core/crypto/testdata';
import { createMessageWriter, messageBody } from '../firmware/core/maps/esdk';
import { createHostDeviceKey, hostCrypto } from '../firmware/platform/host/crypto';
import type { CryptoPort, DeviceKeyPort } from '../firmware/ports';

const portableCrypto = createPortableCrypto((n) => new Uint8Array(nodeCrypto.randomBytes(n)));
const PORTS: readonly (readonly [string, CryptoPort])[] = [
	['node:crypto', hostCrypto],
	['portable', portableCrypto],
];
const SIZES = [0, 1, 4095, 4096, 4097, 8192, 2 * 1024 * 1024];
const CONTEXT = Object.freeze({ thing: 'robot-7', mission: 'm-2024-05-01T09:00', purpose: 'map' });

/** Writes the whole message for `plain` through messageBody, reading in 1,000-byte pieces. */
function encrypt(crypto: CryptoPort, dataKey: Uint8Array, arn: string, blob: Uint8Array, plain: Uint8Array, messageId?: Uint8Array): Buffer {
	const writer = createMessageWriter({
		crypto,
		dataKey: dataKey.slice(),
		encryptionContext: CONTEXT,
		edk: { providerId: 'aws-kms', providerInfo: arn, ciphertext: blob },
		...(messageId ? { messageId } : {}),
	});
	let at = 0;
	const body = messageBody(writer, plain.length, (max) => (at < plain.length ? plain.subarray(at, (at += Math.min(max, 1000))) : undefined));
	const chunks: Uint8Array[] = [];
	for (let c = body.next(); c; c = body.next()) chunks.push(c);
	assert.equal(body.failure, undefined);
	const message = Buffer.concat(chunks);
	assert.equal(message.length, body.length);
	return message;
}

describe('Encryption SDK interop: the device writer, the stock decrypter', function () {
	this.timeout(120_000);
	let kms: KmsService;
	let arn: string;
	let dataKey: Uint8Array;
	let blob: Uint8Array;
	let keyring: KmsKeyringNode;
	const { decrypt, decryptUnsignedMessageStream } = buildClient({ commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT, maxEncryptedDataKeys: 1 });

	before(async () => {
		kms = await startKms({});
		arn = (await kms.createKey({ description: 'maps' })).arn;
		const client = new KMSClient({ endpoint: kms.endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
		const generated = await client.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256', EncryptionContext: { ...CONTEXT } }));
		client.destroy();
		dataKey = generated.Plaintext!;
		blob = generated.CiphertextBlob!;
		assert.equal(generated.KeyId, arn);
		// the keyring calls `client.decrypt(...)`: it needs the aggregated KMS class, not KMSClient
		keyring = new KmsKeyringNode({ keyIds: [arn], clientProvider: () => new KMS({ endpoint: kms.endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } }) });
	});
	after(async () => {
		dataKey?.fill(0);
		await kms?.close();
	});

	for (const [name, crypto] of PORTS) {
		describe(name + ' crypto port', () => {
			for (const size of SIZES) {
				it(size + ' bytes: decrypt() gives the plaintext, the context and the EDK back', async () => {
					const plain = nodeCrypto.randomBytes(size);
					const message = encrypt(crypto, dataKey, arn, blob, plain);
					const opened = await decrypt(keyring, message);
					assert.ok(Buffer.from(opened.plaintext).equals(plain));
					assert.deepEqual({ ...opened.messageHeader.encryptionContext }, { ...CONTEXT });
					assert.equal(opened.messageHeader.version, 2);
					assert.equal(opened.messageHeader.suiteId, 0x0478);
					assert.equal(opened.messageHeader.frameLength, 4096);
					assert.equal(opened.messageHeader.encryptedDataKeys.length, 1);
					assert.equal(opened.messageHeader.encryptedDataKeys[0]!.providerId, 'aws-kms');
					assert.equal(opened.messageHeader.encryptedDataKeys[0]!.providerInfo, arn);
				});
			}
			it('4097 and 2 MB bytes open with decryptUnsignedMessageStream too', async () => {
				for (const size of [4097, 2 * 1024 * 1024]) {
					const plain = nodeCrypto.randomBytes(size);
					const message = encrypt(crypto, dataKey, arn, blob, plain);
					const stream = Readable.from(chunked(message, 1500)).pipe(decryptUnsignedMessageStream(keyring));
					let header: { encryptionContext: Record<string, string> } | undefined;
					stream.once('MessageHeader', (h: { encryptionContext: Record<string, string> }) => (header = h));
					const parts: Buffer[] = [];
					for await (const p of stream) parts.push(p as Buffer);
					assert.ok(Buffer.concat(parts).equals(plain), size + ' bytes');
					assert.deepEqual({ ...header!.encryptionContext }, { ...CONTEXT });
				}
			});
		});
	}

	it('both ports write the same bytes for the same message id', () => {
		const plain = nodeCrypto.randomBytes(10_000);
		const id = new Uint8Array(nodeCrypto.randomBytes(32));
		assert.ok(encrypt(hostCrypto, dataKey, arn, blob, plain, id).equals(encrypt(portableCrypto, dataKey, arn, blob, plain, id)));
	});

	it('a flipped byte anywhere is refused: header, EDK, commit key, header tag, a frame, its tag, the final frame', async () => {
		const plain = nodeCrypto.randomBytes(9000); // frames of 4096, 4096 and a final 808
		const message = encrypt(hostCrypto, dataKey, arn, blob, plain);
		const headerLength = message.length - (2 * (4096 + 32) + 808 + 40);
		const at = {
			version: 0,
			'suite id': 2,
			'message id': 10,
			'context value': 60,
			'EDK ciphertext': headerLength - 100,
			'commit key': headerLength - 16 - 5,
			'header tag': headerLength - 3,
			'frame 1 sequence number': headerLength + 3,
			'frame 1 IV': headerLength + 15,
			'frame 1 content': headerLength + 16 + 2000,
			'frame 1 tag': headerLength + 4096 + 32 - 1,
			'frame 2 content': headerLength + 4128 + 100,
			'final frame marker': headerLength + 2 * 4128 + 1,
			'final frame content length': headerLength + 2 * 4128 + 23,
			'final frame content': headerLength + 2 * 4128 + 24 + 5,
			'final frame tag': message.length - 1,
		};
		for (const [what, i] of Object.entries(at)) {
			const bad = Buffer.from(message);
			bad[i]! ^= 0x01;
			await assert.rejects(decrypt(keyring, bad), what + ' at ' + i + ' was accepted');
		}
		await assert.rejects(decrypt(keyring, message.subarray(0, message.length - 1)), 'a truncated message was accepted');
		// and the unflipped message still opens
		assert.ok(Buffer.from((await decrypt(keyring, message)).plaintext).equals(plain));
	});
});

function* chunked(b: Buffer, n: number): Generator<Buffer> {
	for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
}

describe('device key: OAEP and signatures, node:crypto against the core', () => {
	const parsed = parseRsaPrivateKey(TEST_KEY_PKCS8);
	if (!parsed.ok) throw new Error(parsed.error.reason);
	const publicKey = nodeCrypto.createPublicKey({ key: Buffer.from(TEST_KEY_SPKI), format: 'der', type: 'spki' });
	const KEYS: readonly (readonly [string, DeviceKeyPort, CryptoPort])[] = [
		['host device key, node:crypto', createHostDeviceKey(TEST_KEY_PKCS8), hostCrypto],
		['portable device key, portable crypto', createRsaDeviceKey(parsed.value, { sha256: portableCrypto.sha256, random: portableCrypto.random }), portableCrypto],
	];
	for (const [name, key, crypto] of KEYS) {
		describe(name, () => {
			it('opens publicEncrypt RSA_PKCS1_OAEP_PADDING sha256 for 0, 32 and 190 bytes', () => {
				for (const n of [0, 32, 190]) {
					const m = nodeCrypto.randomBytes(n);
					const c = nodeCrypto.publicEncrypt({ key: publicKey, padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, m);
					const r = oaepDecrypt(crypto, key, new Uint8Array(c));
					assert.ok(r.ok && Buffer.from(r.value).equals(m), n + ' bytes');
				}
			});
			it('refuses SHA-1 OAEP and PKCS#1 v1.5 ciphertexts with the one generic error', () => {
				const m = nodeCrypto.randomBytes(32);
				const sha1 = nodeCrypto.publicEncrypt({ key: publicKey, padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, m);
				const v15 = nodeCrypto.publicEncrypt({ key: publicKey, padding: nodeCrypto.constants.RSA_PKCS1_PADDING }, m);
				assert.deepEqual(oaepDecrypt(crypto, key, new Uint8Array(sha1)), { ok: false, error: { code: 'decrypt' } });
				assert.deepEqual(oaepDecrypt(crypto, key, new Uint8Array(v15)), { ok: false, error: { code: 'decrypt' } });
				assert.deepEqual(oaepDecrypt(crypto, key, new Uint8Array(256).fill(0xff)), { ok: false, error: { code: 'decrypt' } });
			});
			it('signs so that node:crypto verifies', () => {
				const data = nodeCrypto.randomBytes(500);
				assert.ok(nodeCrypto.verify('sha256', data, publicKey, Buffer.from(key.signSha256(new Uint8Array(data)))));
			});
		});
	}
});
