/*
 * AWS's JSON protocol (DynamoDB, SQS, KMS) as the local services speak it. The request: the body
 * read whole (its SHA-256 is part of the signature), the SigV4 signature checked for the service,
 * a refusal logged once and answered as that service's error; the input a JSON object, a body that
 * is not one a SerializationException. The error: `{ __type, message }` with the service's content
 * type; a failure that is not an HttpError is the service's internal error (500), logged.
 */
import type http from 'node:http';
import { HttpError, jsonObjectBody, readBody, sendJson, type BodyErrors } from './http';
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

export interface JsonErrorStyle {
	/** application/x-amz-json-1.0 (SQS) or 1.1 (KMS). */
	readonly contentType: string;
	/** The type of an unexpected failure: KMSInternalException, InternalError. */
	readonly internalType: string;
	/** Put before the type in `__type` (SQS: `com.amazonaws.sqs#`). */
	readonly typePrefix?: string;
	/** Headers an error type adds (SQS's x-amzn-query-error for the query-protocol SDKs). */
	readonly headers?: (type: string) => Readonly<Record<string, string>>;
	readonly log: LogFn;
	/** An unexpected failure is logged as `<logAs>.error`. */
	readonly logAs: string;
}

/** Answers `e` the JSON protocol's way (a listen() onError). */
export function sendJsonProtocolError(res: http.ServerResponse, e: unknown, style: JsonErrorStyle): void {
	const err = e instanceof HttpError ? e : new HttpError(500, style.internalType, String(e));
	if (!(e instanceof HttpError)) style.log({ level: 'error', event: style.logAs + '.error', error: String(e) });
	sendJson(res, err.status, { __type: (style.typePrefix ?? '') + err.code, message: err.message }, { ...style.headers?.(err.code), 'content-type': style.contentType });
}
