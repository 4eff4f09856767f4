import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AlgorithmSuiteIdentifier, buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node';
import { CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, KMS, KMSClient, KMSServiceException } from '@aws-sdk/client-kms';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../credentials';
import { encodeContext } from './ciphertext';
import { startKms, type KmsService } from './server';

function client(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string } = LOCAL_CREDENTIALS) {
	// a copy: the SDK marks the credentials object it is given, and LOCAL_CREDENTIALS is frozen
	return new KMSClient({ endpoint, region: LOCAL_REGION, credentials: { ...credentials } });
}

async function rejects(p: Promise<unknown>, name: string): Promise<void> {
	await assert.rejects(p, (e: unknown) => {
		assert.ok(e instanceof KMSServiceException, String(e));
		assert.equal(e.name, name);
		return true;
	});
}

describe('local KMS', () => {
	let kms: KmsService;
	let c: KMSClient;
	beforeEach(async () => {
		kms = await startKms({});
		c = client(kms.endpoint);
	});
	afterEach(async () => {
		c.destroy();
		await kms.close();
	});

	it('creates and describes a symmetric key with an ARN and an alias', async () => {
		const created = await c.send(new CreateKeyCommand({ Description: 'maps' }));
		const id = created.KeyMetadata!.KeyId!;
		assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
		assert.equal(created.KeyMetadata!.Arn, 'arn:aws:kms:us-east-1:000000000000:key/' + id);
		assert.equal(created.KeyMetadata!.KeySpec, 'SYMMETRIC_DEFAULT');
		assert.ok(created.KeyMetadata!.CreationDate instanceof Date);
		await c.send(new CreateAliasCommand({ AliasName: 'alias/maps', TargetKeyId: id }));
		for (const keyId of [id, created.KeyMetadata!.Arn!, 'alias/maps', 'arn:aws:kms:us-east-1:000000000000:alias/maps']) {
			const d = await c.send(new DescribeKeyCommand({ KeyId: keyId }));
			assert.equal(d.KeyMetadata!.KeyId, id, keyId);
		}
		await rejects(c.send(new DescribeKeyCommand({ KeyId: 'alias/none' })), 'NotFoundException');
		await rejects(c.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' })), 'UnsupportedOperationException');
	});

	it('a data key made with context {thing: a} opens only with {thing: a}', async () => {
		const { arn } = await kms.createKey({ alias: 'alias/maps' });
		const dk = await c.send(new GenerateDataKeyCommand({ KeyId: 'alias/maps', KeySpec: 'AES_256', EncryptionContext: { thing: 'a' } }));
		assert.equal(dk.KeyId, arn);
		assert.equal(dk.Plaintext!.length, 32);
		const opened = await c.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { thing: 'a' } }));
		assert.deepEqual(Buffer.from(opened.Plaintext!), Buffer.from(dk.Plaintext!));
		assert.equal(opened.KeyId, arn);
		await rejects(c.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { thing: 'b' } })), 'InvalidCiphertextException');
		await rejects(c.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob })), 'InvalidCiphertextException');
		await rejects(c.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { thing: 'a', extra: '1' } })), 'InvalidCiphertextException');
		const other = await kms.createKey();
		await rejects(c.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { thing: 'a' }, KeyId: other.arn })), 'IncorrectKeyException');
		const tampered = Buffer.from(dk.CiphertextBlob!);
		tampered[tampered.length - 1]! ^= 1;
		await rejects(c.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: { thing: 'a' } })), 'InvalidCiphertextException');
		const n = await c.send(new GenerateDataKeyCommand({ KeyId: arn, NumberOfBytes: 64 }));
		assert.equal(n.Plaintext!.length, 64);
	});

	it('encrypts and decrypts small data, context order free', async () => {
		const { keyId } = await kms.createKey();
		const sealed = await c.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('hi'), EncryptionContext: { a: '1', b: '2' } }));
		const opened = await c.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: { b: '2', a: '1' } }));
		assert.equal(Buffer.from(opened.Plaintext!).toString(), 'hi');
		assert.deepEqual(encodeContext({ b: '2', a: '1' }), encodeContext({ a: '1', b: '2' }));
	});

	it('an Encryption SDK message made through the local KMS decrypts with the stock SDK', async () => {
		const { arn } = await kms.createKey({ description: 'maps' });
		// the keyring calls `client.generateDataKey(...)`: it needs the aggregated KMS class, not KMSClient
		const sdk = (endpoint: string) => new KMS({ endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
		const keyring = new KmsKeyringNode({ generatorKeyId: arn, clientProvider: () => sdk(kms.endpoint) });
		const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
		const map = Buffer.alloc(100_000, 7);
		const context = { thing: 'robot-1', missionId: 'm-42', purpose: 'map' };
		const { result } = await encrypt(keyring, map, {
			encryptionContext: context,
			suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
			frameLength: 4096,
		});
		const opened = await decrypt(keyring, result);
		assert.ok(Buffer.from(opened.plaintext).equals(map));
		assert.equal(opened.messageHeader.encryptedDataKeys[0]!.providerId, 'aws-kms');
		assert.equal(opened.messageHeader.encryptedDataKeys[0]!.providerInfo, arn);
		assert.equal(opened.messageHeader.encryptionContext.thing, 'robot-1');

		// the same message does not open through a KMS that has never seen the key
		const stranger = await startKms({});
		const wrong = new KmsKeyringNode({ discovery: true, clientProvider: () => sdk(stranger.endpoint) });
		await assert.rejects(decrypt(wrong, result));
		await stranger.close();
	});

	it('refuses a wrong secret and an unknown access key', async () => {
		const wrong = client(kms.endpoint, { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: 'guess' });
		await rejects(wrong.send(new CreateKeyCommand({})), 'InvalidSignatureException');
		const unknown = client(kms.endpoint, { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' });
		await rejects(unknown.send(new CreateKeyCommand({})), 'UnrecognizedClientException');
		wrong.destroy();
		unknown.destroy();
	});

	it('two instances side by side have their own keys; dataDir keeps them across a restart', async () => {
		const dir = await mkdtemp(path.join(tmpdir(), 'kms-'));
		try {
			const a = await startKms({ dataDir: dir });
			assert.notEqual(a.endpoint, kms.endpoint);
			const ac = client(a.endpoint);
			const { arn } = await a.createKey({ alias: 'alias/maps' });
			const dk = await ac.send(new GenerateDataKeyCommand({ KeyId: 'alias/maps', NumberOfBytes: 32, EncryptionContext: { thing: 'a' } }));
			await rejects(c.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { thing: 'a' } })), 'InvalidCiphertextException');
			ac.destroy();
			await a.close();
			const b = await startKms({ dataDir: dir });
			assert.equal((await b.createKey({ alias: 'alias/maps' })).arn, arn);
			const bc = client(b.endpoint);
			const opened = await bc.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { thing: 'a' } }));
			assert.deepEqual(Buffer.from(opened.Plaintext!), Buffer.from(dk.Plaintext!));
			assert.equal((await bc.send(new DescribeKeyCommand({ KeyId: 'alias/maps' }))).KeyMetadata!.Arn, arn);
			bc.destroy();
			await b.close();
		} finally {
			await rm(dir, { recursive: true, force: true });
		}
	});
});
