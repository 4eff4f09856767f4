/*
 * RegisterValidateFunction: the registration API's POST /register (API Gateway HTTP API,
 * payload format 2.0). A robot on first boot sends its certificate and a proof of possession
 * (firmware/core/registration/contract.ts); this checks, in order:
 *   the request's size and shape;
 *   the certificate: it parses, is a leaf, chains to one of our CAs as registered with IoT
 *   (DescribeCACertificate, ACTIVE, cached), is within its validity dates, has an RSA key of
 *   at least 2048 bits, and its subject CN is the thing name;
 *   the proof: RSASSA-PKCS1-v1_5 SHA-256 by the certificate's key over proofMessage;
 *   freshness: the timestamp is at most MAX_SKEW_MS old and MAX_FUTURE_SKEW_MS ahead of now;
 *   replay: the timestamp is newer than the last one accepted for the thing (a conditional
 *   update of the robots table, so two copies of one request cannot both pass).
 * Then it queues the request for the worker and answers 202 `pending`; a robot whose
 * registration the worker has finished (same certificate) is answered 200 `registered`, and
 * one whose certificate the worker refused is answered with that refusal.
 *
 * Every refusal has a code and a message the robot can log; every line of the log carries
 * the thing and API Gateway's request id, which the queued message carries on to the worker.
 */
import { constants, verify, X509Certificate } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { IoTClient } from '@aws-sdk/client-iot';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MAX_REQUEST_BYTES, MAX_FUTURE_SKEW_MS, MAX_SKEW_MS, proofMessage, type RegistrationAnswer, type RegistrationError, type RegistrationErrorCode } from '../../../firmware/core/registration/contract';
import { isThingName, THING_NAME_RULE } from '../../../firmware/core/contracts/thing';
import { clientConfig, createDocumentClient } from '../../lib/aws';
import { errorFields, invocationLogger, type InvocationContext, type Logger } from '../../lib/logger';
import { caCertificateIdsFromEnv, functionLogger, lambdaEntry, requireEnv, tableFromEnv, type Env } from '../../lib/lambda-env';
import { countMetric } from '../../lib/metrics';
import { TABLES } from '../../tables';
import { awsIotRegistry, certificateIdOfPem, type IotRegistry } from '../register-worker/registry';
import type { RegistrationMessage } from './message';

export const FUNCTION_NAME = 'RegisterValidateFunction';
/** Smallest RSA modulus accepted for a device key. */
export const MIN_RSA_BITS = 2048;
/** How long the CA certificates read from IoT are kept. */
export const CA_CACHE_MS = 5 * 60 * 1000;
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** The parts of an API Gateway HTTP API (payload 2.0) event this reads. */
export interface HttpApiEvent {
	readonly body?: string | null;
	readonly isBase64Encoded?: boolean;
	readonly headers?: Readonly<Record<string, string | undefined>>;
	readonly requestContext: { readonly requestId: string; readonly http?: { readonly method?: string; readonly sourceIp?: string } };
}

export interface HttpApiResult {
	readonly statusCode: number;
	readonly headers: Readonly<Record<string, string>>;
	readonly body: string;
}

export type RegisterValidateHandler = (event: HttpApiEvent, context: InvocationContext) => Promise<HttpApiResult>;

export interface RegisterValidateDeps {
	readonly registry: Pick<IotRegistry, 'describeCaCertificate'>;
	/** The IoT ids of the CAs whose device certificates may register. */
	readonly caCertificateIds: readonly string[];
	readonly sqs: SQSClient;
	readonly queueUrl: string;
	readonly ddb: DynamoDBDocumentClient;
	/** The robots table's physical name. */
	readonly table: string;
	readonly logger: Logger;
	/** Epoch ms. */
	readonly now?: () => number;
	readonly maxSkewMs?: number;
	/** How far ahead a proof may be dated (MAX_FUTURE_SKEW_MS); tests may change it. */
	readonly maxFutureSkewMs?: number;
}

const STATUS: Readonly<Record<RegistrationErrorCode, number>> = Object.freeze({
	invalid_request: 400,
	too_large: 413,
	untrusted_certificate: 403,
	certificate_expired: 403,
	certificate_not_yet_valid: 403,
	unsupported_key: 403,
	thing_mismatch: 403,
	bad_signature: 403,
	stale_timestamp: 403,
	replayed: 409,
	certificate_revoked: 403,
	unavailable: 503,
});

class Refusal extends Error {
	constructor(
		readonly code: RegistrationErrorCode,
		message: string,
	) {
		super(message);
	}
}

interface Request {
	readonly thing: string;
	readonly der: Buffer;
	readonly timestamp: number;
	readonly signature: Buffer;
}

export function createRegisterValidateHandler(deps: RegisterValidateDeps): RegisterValidateHandler {
	const { registry, caCertificateIds, sqs, queueUrl, ddb, table, logger } = deps;
	const now = deps.now ?? Date.now;
	const maxSkewMs = deps.maxSkewMs ?? MAX_SKEW_MS;
	const maxFutureSkewMs = deps.maxFutureSkewMs ?? MAX_FUTURE_SKEW_MS;
	if (typeof registry?.describeCaCertificate !== 'function') throw new TypeError('"registry" expected an IotRegistry');
	if (!Array.isArray(caCertificateIds) || caCertificateIds.length === 0 || caCertificateIds.some((id) => typeof id !== 'string' || id === '')) throw new TypeError('"caCertificateIds" expected one or more CA certificate ids');
	if (typeof sqs?.send !== 'function') throw new TypeError('"sqs" expected an SQSClient');
	if (typeof queueUrl !== 'string' || !/^https?:\/\//.test(queueUrl)) throw new TypeError('"queueUrl" expected the registration queue URL, got ' + JSON.stringify(queueUrl));
	if (typeof ddb?.send !== 'function') throw new TypeError('"ddb" expected a DynamoDBDocumentClient');
	if (typeof table !== 'string' || table.length < 3) throw new TypeError('"table" expected the robots table name');
	if (typeof logger?.child !== 'function') throw new TypeError('"logger" expected a Logger');

	let anchors: { at: number; cas: X509Certificate[] } | undefined;
	/** Our CAs as IoT has them registered; only ACTIVE ones are trusted. */
	async function trusted(log: Logger): Promise<X509Certificate[]> {
		if (anchors && now() - anchors.at < CA_CACHE_MS) return anchors.cas;
		const cas: X509Certificate[] = [];
		for (const id of caCertificateIds) {
			let ca;
			try {
				ca = await registry.describeCaCertificate(id);
			} catch (e) {
				log.error('register_validate.ca_lookup_failed', { caCertificateId: id, ...errorFields(e) });
				throw new Refusal('unavailable', 'the CA could not be looked up, try again later');
			}
			if (!ca) log.error('register_validate.ca_missing', { caCertificateId: id });
			else if (ca.status !== 'ACTIVE') log.warn('register_validate.ca_inactive', { caCertificateId: id, status: ca.status });
			else cas.push(new X509Certificate(ca.pem));
		}
		anchors = { at: now(), cas };
		return cas;
	}

	return async (event, context) => {
		const apiRequestId = event?.requestContext?.requestId ?? context.awsRequestId;
		let log = invocationLogger(logger, context).child({ apiRequestId, ...(event?.requestContext?.http?.sourceIp ? { sourceIp: event.requestContext.http.sourceIp } : {}) });
		const answer = (statusCode: number, body: RegistrationAnswer | RegistrationError): HttpApiResult => ({
			statusCode,
			headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
			body: JSON.stringify(body),
		});
		try {
			const req = parseRequest(event);
			log = log.child({ thing: req.thing });
			const { cert, certificateId } = await checkCertificate(req, log);
			log = log.child({ certificateId });
			checkProof(req, cert);

			const at = now();
			if (at - req.timestamp > maxSkewMs) throw new Refusal('stale_timestamp', `the proof is ${Math.round((at - req.timestamp) / 1000)} s old; at most ${maxSkewMs / 1000} s (is the robot's clock set?)`);
			// a proof from the future, once accepted, would make the robot's honest proofs look like replays until then
			if (req.timestamp - at > maxFutureSkewMs) throw new Refusal('stale_timestamp', `the proof is ${Math.round((req.timestamp - at) / 1000)} s in the future; at most ${maxFutureSkewMs / 1000} s ahead (is the robot's clock set?)`);

			const robot = await recordProof(req, apiRequestId, at, log);
			if (robot.certificateId === certificateId && robot.status === 'registered') {
				log.info('register_validate.already_registered', {});
				return answer(200, { status: 'registered', thing: req.thing, certificateId });
			}
			if (robot.certificateId === certificateId && robot.status === 'refused' && robot.refusedCode === 'certificate_revoked')
				throw new Refusal('certificate_revoked', typeof robot.refusedReason === 'string' ? robot.refusedReason : 'the certificate is not active in IoT');

			const message: RegistrationMessage = { v: 1, thing: req.thing, certificatePem: cert.toString(), certificateId, proofTimestamp: req.timestamp, apiRequestId, acceptedAt: at };
			let messageId: string | undefined;
			try {
				messageId = (
					await sqs.send(
						new SendMessageCommand({
							QueueUrl: queueUrl,
							MessageBody: JSON.stringify(message),
							MessageAttributes: { thing: { DataType: 'String', StringValue: req.thing }, apiRequestId: { DataType: 'String', StringValue: apiRequestId } },
						}),
					)
				).MessageId;
			} catch (e) {
				log.error('register_validate.queue_failed', errorFields(e));
				throw new Refusal('unavailable', 'the request could not be queued, try again later');
			}
			log.info('register_validate.queued', { messageId, proofTimestamp: req.timestamp });
			countMetric(log, 'registration', 'RegistrationsQueued');
			return answer(202, { status: 'pending', thing: req.thing, requestId: apiRequestId });
		} catch (e) {
			const r = e instanceof Refusal ? e : undefined;
			if (!r) log.error('register_validate.failed', errorFields(e));
			const code = r?.code ?? 'unavailable';
			const message = r?.message ?? 'registration failed, try again later';
			(code === 'unavailable' ? log.error : log.warn)('register_validate.refused', { reason: code, message });
			countMetric(log, 'registration', 'RegistrationsRefused');
			return answer(STATUS[code], { error: { code, message }, requestId: apiRequestId });
		}
	};

	async function checkCertificate(req: Request, log: Logger): Promise<{ cert: X509Certificate; certificateId: string }> {
		let cert: X509Certificate;
		try {
			cert = new X509Certificate(req.der);
		} catch (e) {
			throw new Refusal('invalid_request', 'certificate: not a DER X.509 certificate (' + (e as Error).message + ')');
		}
		if (cert.ca) throw new Refusal('untrusted_certificate', 'the certificate is a CA certificate, not a device certificate');
		const cas = await trusted(log);
		const at = now();
		const issuer = cas.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
		if (!issuer) throw new Refusal('untrusted_certificate', 'the certificate is not signed by a registered CA (issuer ' + JSON.stringify(cert.issuer.replace(/\n/g, ', ')) + ')');
		if (Date.parse(issuer.validTo) <= at || Date.parse(issuer.validFrom) > at) throw new Refusal('untrusted_certificate', 'the issuing CA is outside its validity dates');
		if (Date.parse(cert.validTo) <= at) throw new Refusal('certificate_expired', 'the certificate expired at ' + new Date(cert.validTo).toISOString());
		if (Date.parse(cert.validFrom) > at) throw new Refusal('certificate_not_yet_valid', 'the certificate is valid only from ' + new Date(cert.validFrom).toISOString());
		if (cert.keyUsage !== undefined && !cert.keyUsage.includes(CLIENT_AUTH)) throw new Refusal('untrusted_certificate', 'the certificate is not for TLS client authentication');
		const key = cert.publicKey;
		const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
		if (key.asymmetricKeyType !== 'rsa' || bits < MIN_RSA_BITS) throw new Refusal('unsupported_key', `the certificate key is ${key.asymmetricKeyType}${bits ? '-' + bits : ''}; RSA of at least ${MIN_RSA_BITS} bits is required`);
		const cns = cert.subject.split('\n').filter((l) => l.startsWith('CN='));
		const cn = cns.length === 1 ? cns[0]!.slice(3) : undefined;
		if (cn !== req.thing) throw new Refusal('thing_mismatch', `the certificate CN is ${JSON.stringify(cn)}, the request names ${JSON.stringify(req.thing)}`);
		return { cert, certificateId: certificateIdOfPem(cert.toString()) };
	}

	/**
	 * Keeps the proof's timestamp as the thing's newest, only if it is newer than the one kept:
	 * a replayed request (or its second copy racing the first) fails the condition.
	 */
	async function recordProof(req: Request, apiRequestId: string, at: number, log: Logger): Promise<Record<string, unknown>> {
		try {
			const out = await ddb.send(
				new UpdateCommand({
					TableName: table,
					Key: { [TABLES.robots.partitionKey.name]: req.thing },
					UpdateExpression: 'SET #proof = :ts, #proofReq = :req, #seen = :at',
					ConditionExpression: 'attribute_not_exists(#proof) OR #proof < :ts',
					ExpressionAttributeNames: { '#proof': 'lastProofAt', '#proofReq': 'lastProofRequestId', '#seen': 'lastRequestAt' },
					ExpressionAttributeValues: { ':ts': req.timestamp, ':req': apiRequestId, ':at': at },
					ReturnValues: 'ALL_NEW',
				}),
			);
			return out.Attributes ?? {};
		} catch (e) {
			if (e instanceof ConditionalCheckFailedException || (e as Error)?.name === 'ConditionalCheckFailedException') throw new Refusal('replayed', 'a proof with this timestamp or a newer one was already used: sign a new one');
			log.error('register_validate.table_failed', errorFields(e));
			throw new Refusal('unavailable', 'registration state could not be read, try again later');
		}
	}
}

function checkProof(req: Request, cert: X509Certificate): void {
	const good = verify('sha256', Buffer.from(proofMessage(req.thing, req.timestamp), 'utf8'), { key: cert.publicKey, padding: constants.RSA_PKCS1_PADDING }, req.signature);
	if (!good) throw new Refusal('bad_signature', 'the signature does not verify with the certificate key over the thing name and timestamp');
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function parseRequest(event: HttpApiEvent): Request {
	if (typeof event !== 'object' || event === null) throw new Refusal('invalid_request', 'no request');
	const method = event.requestContext?.http?.method;
	if (method !== undefined && method !== 'POST') throw new Refusal('invalid_request', 'registration takes POST, got ' + method);
	const raw = event.body ?? '';
	const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
	if (Buffer.byteLength(text) > MAX_REQUEST_BYTES) throw new Refusal('too_large', 'the request is ' + Buffer.byteLength(text) + ' bytes, at most ' + MAX_REQUEST_BYTES);
	let v: unknown;
	try {
		v = JSON.parse(text);
	} catch {
		throw new Refusal('invalid_request', 'the body is not JSON');
	}
	if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Refusal('invalid_request', 'the body is not a JSON object');
	const b = v as Record<string, unknown>;
	const errors: string[] = [];
	if (b.v !== 1) errors.push('v: expected 1');
	if (!isThingName(b.thing)) errors.push('thing: expected ' + THING_NAME_RULE);
	if (typeof b.certificate !== 'string' || b.certificate.length === 0 || !B64.test(b.certificate)) errors.push('certificate: expected base64 DER');
	if (typeof b.timestamp !== 'number' || !Number.isSafeInteger(b.timestamp) || b.timestamp <= 0) errors.push('timestamp: expected epoch milliseconds');
	if (typeof b.signature !== 'string' || b.signature.length === 0 || !B64.test(b.signature)) errors.push('signature: expected base64');
	if (errors.length > 0) throw new Refusal('invalid_request', errors.join('; '));
	return {
		thing: b.thing as string,
		der: Buffer.from(b.certificate as string, 'base64'),
		timestamp: b.timestamp as number,
		signature: Buffer.from(b.signature as string, 'base64'),
	};
}

/**
 * The Lambda entry's wiring: CA_CERTIFICATE_IDS (comma-separated IoT CA ids),
 * REGISTRATION_QUEUE_URL, ROBOTS_TABLE.
 */
export function fromEnv(env: Env): RegisterValidateHandler {
	const ids = caCertificateIdsFromEnv(env);
	const queueUrl = requireEnv(env, 'REGISTRATION_QUEUE_URL');
	const table = tableFromEnv(env, 'robots');
	return createRegisterValidateHandler({
		registry: awsIotRegistry(new IoTClient(clientConfig({}))),
		caCertificateIds: ids,
		sqs: new SQSClient(clientConfig({})),
		queueUrl,
		ddb: createDocumentClient(),
		table,
		logger: functionLogger(env, 'register-validate'),
	});
}

/** The Lambda entry (SAM `Handler: handler.handler`). */
export const handler: RegisterValidateHandler = lambdaEntry(fromEnv);
