/*
 * The request side of the AWS JSON-protocol services run locally (DynamoDB, SQS, KMS): the body
 * is read whole (its SHA-256 is part of the signature), the SigV4 signature is checked for the
 * service, and a refusal is logged once and answered as that service's JSON error; the input is
 * a JSON object, and a body that is not one is a SerializationException.
 */
import type http from 'node:http';
import { HttpError, jsonObjectBody, readBody, type BodyErrors } from './http';
import type { LogFn } from './log';
import { jsonAuthError, sha256Hex, verifySigV4 } from './sigv4';

export interface SignedJsonOptions {
	/** The SigV4 service name: dynamodb, sqs, kms. */
	readonly service: string;
	readonly maxBytes: number;
	/** Epoch milliseconds the signature's time is checked against. */
	readonly now: number;
	readonly log: LogFn;
	/** The refusal is logged as `<logAs>.auth.refused`. */
	readonly logAs: string;
	/** Put before the error type (DynamoDB answers `com.amazon.coral.service#<type>`). */
	readonly typePrefix?: string;
}

/** The request's body once its signature is good; else an HttpError with the service's error type. */
export async function signedJsonBody(req: http.IncomingMessage, o: SignedJsonOptions): Promise<Buffer> {
	const body = await readBody(req, o.maxBytes);
	const auth = verifySigV4({ method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, rawHeaders: req.rawHeaders }, { service: o.service, payloadHash: sha256Hex(body), now: o.now });
	if (!auth.ok) {
		const e = jsonAuthError(auth.error);
		o.log({ level: 'warn', event: o.logAs + '.auth.refused', code: auth.error.code, reason: auth.error.message });
		throw new HttpError(e.status, (o.typePrefix ?? '') + e.type, e.message);
	}
	return body;
}

/** The JSON protocol's answer to a body that is not a JSON object (SQS, KMS). */
const SERIALIZATION: BodyErrors = Object.freeze({ notJson: 'SerializationException', invalid: 'SerializationException' });

/** The operation's input: the body as a JSON object, an empty body as `{}`. */
export function jsonProtocolInput(body: Uint8Array): Record<string, unknown> {
	return jsonObjectBody(body, SERIALIZATION);
}
