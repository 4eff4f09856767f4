/*
 * UploadSlotFunction: answers a robot's `robots/{thing}/maps/upload-request` with an upload
 * slot on `robots/{thing}/maps/upload-slot` (QoS 1): a presigned S3 PUT URL for
 * `maps/<thing>/<missionId>.esdk` and a fresh KMS data key, wrapped with RSA-OAEP (SHA-256)
 * to the public key of the certificate the robot connected with, plus the KMS ciphertext
 * blob of the same key for the Encryption SDK message header (design.md, "Key choices").
 *
 * The rule (UPLOAD_SLOT_SQL) hands over the request's bytes (base64: a request that is not
 * JSON is answered too) and adds the topic's thing, the client id and principal(), the
 * certificate id; the certificate's PEM comes from a CertificateDirectory (IoT
 * DescribeCertificate on AWS). The thing of the topic, the client id and the certificate
 * CN must agree. The plaintext data key lives only in this invocation: it is wrapped, then
 * the Buffer is zeroed (the SDK's own copy of the base64 response text cannot be wiped).
 *
 * The mission does not have to be known yet: a robot may upload the map before its report
 * reaches the table (offline, report queued), so only the id's form is checked. The slot is
 * bound to the mission by the object key and the encryption context, and the ingest checks
 * both (cloud/functions/map-ingest).
 *
 * Every refusal is answered (`{ clientToken, error: { code, message } }`) so the robot does
 * not wait for a timeout; a cloud fault (KMS or IoT unavailable) is answered `unavailable`,
 * which the robot retries. Any other refusal is final (the robot drops the map): with the
 * missions table given, it is also written on the mission's record (`mapRefused`: code,
 * message, time), so the record says why its map will not come.
 * Only a failed reply throws: Lambda retries it and then the rule's error action keeps it.
 */
import { X509Certificate, constants, publicEncrypt } from 'node:crypto';
import { GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MISSION_ID } from '../../../firmware/core/mission/report';
import { TABLES } from '../../tables';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { clientConfig, createDocumentClient } from '../../lib/aws';
import { errorFields, invocationLogger, type InvocationContext, type Logger } from '../../lib/logger';
import { functionLogger, lambdaEntry, requireEnv, type Env } from '../../lib/lambda-env';
import { countMetric } from '../../lib/metrics';
import {
	FRAME_LENGTH,
	MAPS_BUCKET,
	UPLOAD_CONTENT_TYPE,
	REQUEST_TOPIC_FILTER,
	mapEncryptionContext,
	parseRequestPayload,
	replyToken,
	slotTopic,
	uploadKey,
	validateUploadRequest,
	type SlotError,
	type SlotErrorCode,
	type UploadSlot,
} from './contract';
import { iotCertificateDirectory, iotDataPublisher, type CertificateDirectory, type MqttPublisher } from './iot';

export const FUNCTION_NAME = 'UploadSlotFunction';
export const RULE_NAME = 'map_upload_request';
/** The request's fields, then what the rule knows; the rule's names override the request's. */
export const UPLOAD_SLOT_SQL = `SELECT encode(*, 'base64') AS request, topic(2) AS thing, clientid() AS clientId, principal() AS principal FROM '${REQUEST_TOPIC_FILTER}'`;
export const DEFAULT_EXPIRES_S = 300;
/** Smallest RSA modulus whose key a data key is wrapped to. */
export const MIN_RSA_BITS = 2048;

export type UploadSlotOutcome = { readonly status: 'issued'; readonly key: string; readonly expiresAt: number } | { readonly status: 'refused'; readonly code: SlotErrorCode; readonly message: string };

export type UploadSlotHandler = (event: unknown, context: InvocationContext) => Promise<UploadSlotOutcome>;

export interface UploadSlotDeps {
	readonly kms: KMSClient;
	/** Signs the URLs; on AWS no endpoint, locally path-style against the local S3. */
	readonly s3: S3Client;
	readonly certificates: CertificateDirectory;
	readonly publisher: MqttPublisher;
	/** The map KMS key: its ARN (or an alias; the reply carries the ARN KMS answers with). */
	readonly keyId: string;
	readonly logger: Logger;
	readonly bucket?: string;
	/** Lifetime of the presigned URL in seconds (1..604800); default 300. */
	readonly expiresInS?: number;
	/** Epoch ms; the URL's signing time. */
	readonly now?: () => number;
	/** The missions table, where a final refusal is recorded on the mission (MISSIONS_TABLE). */
	readonly missions?: { readonly ddb: DynamoDBDocumentClient; readonly table: string };
}

interface RuleFields {
	readonly thing: string;
	readonly clientId: string;
	readonly principal: string;
}

class Refusal extends Error {
	constructor(
		readonly code: SlotErrorCode,
		message: string,
	) {
		super(message);
	}
}

export function createUploadSlotHandler(deps: UploadSlotDeps): UploadSlotHandler {
	const { kms, s3, certificates, publisher, keyId, logger } = deps;
	const bucket = deps.bucket ?? MAPS_BUCKET;
	const expiresInS = deps.expiresInS ?? DEFAULT_EXPIRES_S;
	const now = deps.now ?? Date.now;
	if (typeof kms?.send !== 'function') throw new TypeError('"kms" expected a KMSClient');
	if (typeof s3?.send !== 'function') throw new TypeError('"s3" expected an S3Client');
	if (typeof certificates?.get !== 'function') throw new TypeError('"certificates" expected a CertificateDirectory');
	if (typeof publisher?.publish !== 'function') throw new TypeError('"publisher" expected an MqttPublisher');
	if (typeof keyId !== 'string' || keyId.length === 0) throw new TypeError('"keyId" expected the map key ARN');
	if (typeof logger?.child !== 'function') throw new TypeError('"logger" expected a Logger');
	if (!Number.isInteger(expiresInS) || expiresInS < 1 || expiresInS > 604_800) throw new RangeError('"expiresInS" expected an integer 1..604800, got ' + expiresInS);

	return async (event, context) => {
		const { rule, raw } = splitEvent(event);
		const parsed = parseRequestPayload(raw);
		const request = parsed.ok ? parsed.value : {};
		const token = parsed.ok ? replyToken(request) : parsed.clientToken;
		let log = invocationLogger(logger, context).child({ thing: rule.thing, clientId: rule.clientId, clientToken: token });
		const topic = slotTopic(rule.thing);

		const send = async (reply: UploadSlot | SlotError) => {
			try {
				await publisher.publish(topic, JSON.stringify(reply), 1);
			} catch (e) {
				log.error('upload_slot.reply_failed', errorFields(e));
				throw new ReplyFailed(e);
			}
		};
		const refuse = async (r: Refusal): Promise<UploadSlotOutcome> => {
			(r.code === 'unavailable' ? log.error : log.warn)('upload_slot.refused', { code: r.code, reason: r.message });
			countMetric(log, 'upload-slot', 'UploadSlotsRefused');
			await recordRefusal(r);
			try {
				await send({ ...(token !== undefined ? { clientToken: token } : {}), error: { code: r.code, message: r.message } });
			} catch (e) {
				throw e instanceof ReplyFailed ? e.cause : e;
			}
			return { status: 'refused', code: r.code, message: r.message };
		};

		/** A final refusal on the mission's record; only for the robot's own mission (thing = client), never `unavailable`. */
		const recordRefusal = async (r: Refusal): Promise<void> => {
			const missionId = request.missionId;
			if (!deps.missions || r.code === 'unavailable' || typeof missionId !== 'string' || !MISSION_ID.test(missionId) || rule.thing !== rule.clientId) return;
			try {
				await deps.missions.ddb.send(
					new UpdateCommand({
						TableName: deps.missions.table,
						Key: { [TABLES.missions.partitionKey.name]: rule.thing, [TABLES.missions.sortKey.name]: missionId },
						UpdateExpression: 'SET mapRefused = :r',
						ExpressionAttributeValues: { ':r': { code: r.code, message: r.message, at: now() } },
					}),
				);
				log.info('upload_slot.refusal_recorded', { missionId, code: r.code });
			} catch (e) {
				// the reply still goes: the robot must stop waiting whatever the table says
				log.error('upload_slot.refusal_not_recorded', { missionId, code: r.code, ...errorFields(e) });
			}
		};

		let plaintext: Uint8Array | undefined;
		try {
			if (!parsed.ok) throw new Refusal('invalid_request', parsed.error);
			const checked = validateUploadRequest(request);
			if (!checked.ok) throw new Refusal(checked.tooLarge ? 'too_large' : 'invalid_request', checked.errors.join('; '));
			const { missionId, clientToken } = checked.value;
			log = log.child({ missionId });
			// the IoT policy makes client id = thing name = certificate CN; checked again here
			if (rule.thing !== rule.clientId) throw new Refusal('thing_mismatch', `topic names ${rule.thing}, client is ${rule.clientId}`);
			const publicKey = await robotKey(rule);

			const key = uploadKey(rule.thing, missionId);
			const signedAt = now();
			// the content type is signed too: S3 then refuses a PUT that sets another, or metadata
			const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: UPLOAD_CONTENT_TYPE }), {
				expiresIn: expiresInS,
				signingDate: new Date(signedAt),
				signableHeaders: new Set(['content-type']),
			});
			const encryptionContext = mapEncryptionContext(rule.thing, missionId);
			let generated;
			try {
				generated = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { ...encryptionContext } }));
			} catch (e) {
				log.error('upload_slot.kms_failed', errorFields(e));
				throw new Refusal('unavailable', 'no data key: KMS failed, try again later');
			}
			plaintext = generated.Plaintext;
			if (!plaintext || plaintext.length !== 32 || !generated.CiphertextBlob || !generated.KeyId) throw new Error('GenerateDataKey answered without a 32-byte key, blob or key id');
			const wrappedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, plaintext);
			plaintext.fill(0);
			plaintext = undefined;

			const expiresAt = signedAt + expiresInS * 1000;
			await send({
				clientToken,
				url,
				expiresAt,
				wrappedKey: wrappedKey.toString('base64'),
				ciphertextBlob: Buffer.from(generated.CiphertextBlob).toString('base64'),
				keyArn: generated.KeyId,
				encryptionContext,
				frameLength: FRAME_LENGTH,
				method: 'PUT',
				headers: { 'content-type': UPLOAD_CONTENT_TYPE },
			});
			log.info('upload_slot.issued', { bucket, key, keyArn: generated.KeyId, expiresAt, ...(checked.value.bytes !== undefined ? { bytes: checked.value.bytes } : {}) });
			countMetric(log, 'upload-slot', 'UploadSlotsIssued');
			return { status: 'issued', key, expiresAt };
		} catch (e) {
			if (e instanceof Refusal) return refuse(e);
			if (e instanceof ReplyFailed) throw e.cause;
			log.error('upload_slot.failed', errorFields(e));
			return refuse(new Refusal('unavailable', 'the slot could not be made, try again later'));
		} finally {
			plaintext?.fill(0);
		}

		/** The RSA public key of the certificate the robot connected with, after checking it names the thing. */
		async function robotKey(r: RuleFields) {
			let pem: string | undefined;
			try {
				pem = await certificates.get(r.principal);
			} catch (e) {
				log.error('upload_slot.certificate_lookup_failed', { principal: r.principal, ...errorFields(e) });
				throw new Refusal('unavailable', 'the certificate could not be looked up, try again later');
			}
			if (pem === undefined) throw new Refusal('unknown_certificate', 'no active certificate ' + r.principal);
			let cert: X509Certificate;
			try {
				cert = new X509Certificate(pem);
			} catch (e) {
				throw new Refusal('unknown_certificate', 'certificate ' + r.principal + ' does not parse: ' + (e as Error).message);
			}
			const cn = subjectCn(cert.subject);
			if (cn !== r.thing) throw new Refusal('thing_mismatch', `certificate CN is ${JSON.stringify(cn)}, topic names ${r.thing}`);
			const k = cert.publicKey;
			if (k.asymmetricKeyType !== 'rsa') throw new Refusal('unsupported_key', 'the certificate key is ' + k.asymmetricKeyType + '; a data key is wrapped only to RSA');
			const bits = k.asymmetricKeyDetails?.modulusLength ?? 0;
			if (bits < MIN_RSA_BITS) throw new Refusal('unsupported_key', 'the certificate key is RSA-' + bits + ', at least RSA-' + MIN_RSA_BITS + ' is required');
			return k;
		}
	};
}

/** A reply that could not be published: thrown as its cause (Lambda retries), never answered. */
class ReplyFailed extends Error {
	constructor(override readonly cause: unknown) {
		super('the reply could not be published');
	}
}

/** The subject CN of a certificate (Node's subject is one `attr=value` per line). */
function subjectCn(subject: string): string | undefined {
	const cns = subject.split('\n').filter((l) => l.startsWith('CN='));
	return cns.length === 1 ? cns[0]!.slice(3) : undefined;
}

/** A missing rule field is a deployment fault (the SQL changed): thrown, so the error action keeps it. */
function splitEvent(event: unknown): { rule: RuleFields; raw: string } {
	if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new TypeError('event: expected the object the rule selected, got ' + (Array.isArray(event) ? 'an array' : typeof event));
	const { thing, clientId, principal, request } = event as Record<string, unknown>;
	const wrong: string[] = [];
	if (typeof request !== 'string') wrong.push('request');
	if (typeof thing !== 'string' || thing === '') wrong.push('thing');
	if (typeof clientId !== 'string') wrong.push('clientId');
	if (typeof principal !== 'string') wrong.push('principal');
	if (wrong.length > 0) throw new TypeError('event: ' + wrong.join(', ') + ' missing or mistyped; expected the output of UPLOAD_SLOT_SQL');
	return { rule: { thing, clientId, principal } as RuleFields, raw: request as string };
}

/**
 * The Lambda entry's wiring: MAP_KEY_ARN (the map KMS key), MAPS_BUCKET (default `maps`),
 * SLOT_EXPIRES_S (default 300), IOT_DATA_ENDPOINT (the account's data-ATS endpoint, https://...).
 */
export function fromEnv(env: Env): UploadSlotHandler {
	const keyId = requireEnv(env, 'MAP_KEY_ARN', 'the map KMS key');
	const dataEndpoint = requireEnv(env, 'IOT_DATA_ENDPOINT', 'https://<prefix>-ats.iot.<region>.amazonaws.com');
	const logger = functionLogger(env, 'upload-slot');
	return createUploadSlotHandler({
		kms: new KMSClient(clientConfig({})),
		// presigned URLs carry no checksum: the SDK's default would sign the CRC32 of an empty body
		s3: new S3Client({ ...clientConfig({}), requestChecksumCalculation: 'WHEN_REQUIRED' }),
		certificates: iotCertificateDirectory(new IoTClient(clientConfig({}))),
		publisher: iotDataPublisher(new IoTDataPlaneClient(clientConfig({ endpoint: dataEndpoint }))),
		...(env[TABLES.missions.env] ? { missions: { ddb: createDocumentClient({}), table: env[TABLES.missions.env]! } } : {}),
		keyId,
		logger,
		...(env.MAPS_BUCKET ? { bucket: env.MAPS_BUCKET } : {}),
		...(env.SLOT_EXPIRES_S ? { expiresInS: Number(env.SLOT_EXPIRES_S) } : {}),
	});
}

/** The Lambda entry (SAM `Handler: handler.handler`). */
export const handler: UploadSlotHandler = lambdaEntry(fromEnv);
