/*
 * A local KMS speaking the JSON 1.1 protocol of `@aws-sdk/client-kms`
 * (POST /, X-Amz-Target: TrentService.<Op>): symmetric keys only, enough for
 * the AWS Encryption SDK's KMS keyring and the upload-slot handler.
 * Operations: CreateKey, DescribeKey, ListKeys, CreateAlias, ListAliases,
 * GenerateDataKey, GenerateDataKeyWithoutPlaintext, Encrypt, Decrypt, GenerateRandom.
 */
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { LOCAL_ACCOUNT } from '../credentials';
import { HttpError, listen, sendJson } from '../http';
import { silentLog, type LogFn } from '../log';
import { jsonProtocolInput, sendJsonProtocolError, signedJsonBody } from '../json-protocol';
import { blobKeyId, open, seal, type EncryptionContext } from './ciphertext';
import { aliasArn, openKeyStore, type KeyStore, type LocalKey } from './keys';

const TARGET_PREFIX = 'TrentService.';
const MAX_BODY = 1024 * 1024;
/** Encrypt takes at most 4 KiB of plaintext; data keys are 1..1024 bytes (AWS limits). */
const MAX_PLAINTEXT = 4096;
const MAX_DATA_KEY = 1024;
const SYMMETRIC = 'SYMMETRIC_DEFAULT';

export interface KmsOptions {
	readonly log?: LogFn;
	readonly port?: number;
	readonly host?: string;
	/** Key material is kept in `<dataDir>/kms-keys.json`; undefined keeps it in memory. */
	readonly dataDir?: string;
	/** Milliseconds since the epoch, for signature times; Date.now by default. */
	readonly now?: () => number;
}

export interface KmsKeyInfo {
	readonly keyId: string;
	readonly arn: string;
}

export interface KmsService {
	/** `http://host:port`: give it to KMSClient as `endpoint`. */
	readonly endpoint: string;
	readonly port: number;
	/**
	 * Creates a key without a round trip, for wiring at start; an alias is `alias/<name>`.
	 * With an alias that exists already, returns that alias's key instead (idempotent across restarts).
	 */
	createKey(options?: { description?: string; alias?: string }): Promise<KmsKeyInfo>;
	/**
	 * A service outage, for fault tests: while on, every request is answered 500
	 * KMSInternalException (as KMS answers a fault of its own), after the signature check.
	 */
	outage(on: boolean): void;
	close(): Promise<void>;
}

type Input = Record<string, unknown>;

const kmsError = (type: string, message: string) => new HttpError(400, type, message);

function str(input: Input, name: string, required: true): string;
function str(input: Input, name: string, required?: false): string | undefined;
function str(input: Input, name: string, required = false): string | undefined {
	const v = input[name];
	if (v === undefined || v === null) {
		if (required) throw kmsError('ValidationException', "1 validation error detected: Value null at '" + name + "' failed to satisfy constraint: Member must not be null");
		return undefined;
	}
	if (typeof v !== 'string') throw kmsError('ValidationException', "'" + name + "' must be a string");
	return v;
}

function blob(input: Input, name: string, max: number): Buffer {
	const b = Buffer.from(str(input, name, true), 'base64');
	if (b.length < 1 || b.length > max) throw kmsError('ValidationException', "'" + name + "' must be 1 to " + max + ' bytes');
	return b;
}

function context(input: Input): EncryptionContext {
	const c = input.EncryptionContext;
	if (c === undefined || c === null) return {};
	if (typeof c !== 'object' || Array.isArray(c) || Object.values(c).some((v) => typeof v !== 'string')) {
		throw kmsError('ValidationException', 'EncryptionContext must be a map of strings');
	}
	return c as EncryptionContext;
}

function metadata(k: LocalKey) {
	return {
		AWSAccountId: LOCAL_ACCOUNT,
		KeyId: k.id,
		Arn: k.arn,
		CreationDate: k.created,
		Enabled: true,
		Description: k.description,
		KeyUsage: 'ENCRYPT_DECRYPT',
		KeyState: 'Enabled',
		Origin: 'AWS_KMS',
		KeyManager: 'CUSTOMER',
		CustomerMasterKeySpec: SYMMETRIC,
		KeySpec: SYMMETRIC,
		EncryptionAlgorithms: [SYMMETRIC],
		MultiRegion: false,
	};
}

function operations(keys: KeyStore, log: LogFn): Record<string, (input: Input) => Promise<unknown>> {
	const key = (input: Input, name = 'KeyId'): LocalKey => {
		const id = str(input, name, true);
		const k = keys.find(id);
		if (!k) throw kmsError('NotFoundException', "Key '" + id + "' does not exist");
		return k;
	};
	const algorithm = (input: Input) => {
		const a = str(input, 'EncryptionAlgorithm');
		if (a !== undefined && a !== SYMMETRIC) throw kmsError('InvalidKeyUsageException', 'local keys support only ' + SYMMETRIC);
	};
	const dataKeyLength = (input: Input): number => {
		const spec = str(input, 'KeySpec');
		const n = input.NumberOfBytes;
		if ((spec === undefined) === (n === undefined)) throw kmsError('ValidationException', 'Please specify either number of bytes or key spec.');
		if (spec !== undefined) {
			if (spec === 'AES_256') return 32;
			if (spec === 'AES_128') return 16;
			throw kmsError('ValidationException', "KeySpec must be AES_256 or AES_128, got '" + spec + "'");
		}
		if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_DATA_KEY) {
			throw kmsError('ValidationException', 'NumberOfBytes must be an integer from 1 to ' + MAX_DATA_KEY);
		}
		return n;
	};
	const generate = (input: Input, withPlaintext: boolean) => {
		const k = key(input);
		const plaintext = randomBytes(dataKeyLength(input));
		const ctx = context(input);
		const out = { KeyId: k.arn, CiphertextBlob: seal(k.id, k.material, plaintext, ctx).toString('base64') };
		log({ level: 'info', event: 'kms.generate-data-key', keyId: k.id, context: ctx });
		const result = withPlaintext ? { ...out, Plaintext: plaintext.toString('base64') } : out;
		plaintext.fill(0);
		return result;
	};
	return {
		async CreateKey(input) {
			const usage = str(input, 'KeyUsage') ?? 'ENCRYPT_DECRYPT';
			const spec = str(input, 'KeySpec') ?? str(input, 'CustomerMasterKeySpec') ?? SYMMETRIC;
			if (usage !== 'ENCRYPT_DECRYPT' || spec !== SYMMETRIC) {
				throw kmsError('UnsupportedOperationException', 'local KMS makes only ' + SYMMETRIC + ' ENCRYPT_DECRYPT keys');
			}
			return { KeyMetadata: metadata(await keys.create(str(input, 'Description') ?? '')) };
		},
		async DescribeKey(input) {
			return { KeyMetadata: metadata(key(input)) };
		},
		async ListKeys() {
			return { Keys: keys.all().map((k) => ({ KeyId: k.id, KeyArn: k.arn })), Truncated: false };
		},
		async CreateAlias(input) {
			const name = str(input, 'AliasName', true);
			if (!/^alias\/[a-zA-Z0-9/_-]{1,250}$/.test(name) || name.startsWith('alias/aws/')) {
				throw kmsError('ValidationException', "AliasName must be 'alias/' followed by letters, digits, '/', '_' or '-'");
			}
			if (!(await keys.addAlias(name, key(input, 'TargetKeyId').id))) throw kmsError('AlreadyExistsException', 'An alias with the name ' + name + ' already exists');
			return {};
		},
		async ListAliases() {
			return { Aliases: keys.aliases().map((a) => ({ AliasName: a.name, AliasArn: aliasArn(a.name), TargetKeyId: a.keyId })), Truncated: false };
		},
		async GenerateDataKey(input) {
			return generate(input, true);
		},
		async GenerateDataKeyWithoutPlaintext(input) {
			return generate(input, false);
		},
		async Encrypt(input) {
			const k = key(input);
			algorithm(input);
			const plaintext = blob(input, 'Plaintext', MAX_PLAINTEXT);
			return { KeyId: k.arn, CiphertextBlob: seal(k.id, k.material, plaintext, context(input)).toString('base64'), EncryptionAlgorithm: SYMMETRIC };
		},
		async Decrypt(input) {
			algorithm(input);
			const ciphertext = blob(input, 'CiphertextBlob', 6144);
			const sealedBy = blobKeyId(ciphertext);
			const k = sealedBy === undefined ? undefined : keys.find(sealedBy);
			if (!k) throw kmsError('InvalidCiphertextException', 'The ciphertext is not a local KMS ciphertext blob');
			const asked = str(input, 'KeyId');
			if (asked !== undefined && keys.find(asked)?.id !== k.id) {
				throw kmsError('IncorrectKeyException', 'The key ID in the request does not identify the key that encrypted the ciphertext.');
			}
			// a wrong or missing context fails the GCM tag, as AWS answers it: InvalidCiphertextException
			const plaintext = open(k.id, k.material, ciphertext, context(input));
			if (!plaintext) throw kmsError('InvalidCiphertextException', 'The ciphertext or its encryption context does not match');
			const out = { KeyId: k.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: SYMMETRIC };
			plaintext.fill(0);
			return out;
		},
		async GenerateRandom(input) {
			const n = input.NumberOfBytes;
			if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_DATA_KEY) {
				throw kmsError('ValidationException', 'NumberOfBytes must be an integer from 1 to ' + MAX_DATA_KEY);
			}
			return { Plaintext: randomBytes(n).toString('base64') };
		},
	};
}

export async function startKms(options: KmsOptions): Promise<KmsService> {
	const log = options.log ?? silentLog;
	const now = options.now ?? Date.now;
	const keys = await openKeyStore(options.dataDir);
	const ops = operations(keys, log);
	let down = false;

	async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		if (req.method !== 'POST') throw kmsError('UnknownOperationException', 'KMS takes POST requests');
		const body = await signedJsonBody(req, { service: 'kms', maxBytes: MAX_BODY, now: now(), log, logAs: 'kms' });
		if (down) throw new HttpError(500, 'KMSInternalException', 'the service is unavailable (local outage)');
		const target = String(req.headers['x-amz-target'] ?? '');
		const op = target.startsWith(TARGET_PREFIX) ? ops[target.slice(TARGET_PREFIX.length)] : undefined;
		if (!op) throw kmsError('UnknownOperationException', 'unknown operation ' + target);
		sendJson(res, 200, await op(jsonProtocolInput(body)), { 'content-type': 'application/x-amz-json-1.1' });
	}

	const listening = await listen(handle, {
		port: options.port,
		host: options.host,
		onError: (res, e) => sendJsonProtocolError(res, e, { contentType: 'application/x-amz-json-1.1', internalType: 'KMSInternalException', log, logAs: 'kms' }),
	});
	log({ level: 'info', event: 'kms.started', endpoint: listening.url, dataDir: options.dataDir ?? null });

	return {
		endpoint: listening.url,
		port: listening.port,
		async createKey(o = {}) {
			// idempotent by alias, so a restart over the same dataDir finds the key it made before
			const existing = o.alias === undefined ? undefined : keys.find(o.alias);
			if (existing) return { keyId: existing.id, arn: existing.arn };
			if (o.alias !== undefined && !/^alias\/[a-zA-Z0-9/_-]{1,250}$/.test(o.alias)) throw new RangeError('"alias" expected alias/<name>, got ' + o.alias);
			const k = await keys.create(o.description ?? '');
			if (o.alias !== undefined) await keys.addAlias(o.alias, k.id);
			return { keyId: k.id, arn: k.arn };
		},
		outage(on) {
			down = on;
			log({ level: 'warn', event: on ? 'kms.outage.start' : 'kms.outage.end' });
		},
		close: () => listening.close(),
	};
}
