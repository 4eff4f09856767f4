/*
 * The AWS IoT data plane over HTTP (AWS "Device Shadow REST API"), as
 * `@aws-sdk/client-iot-data-plane` calls it through an endpoint override:
 *   GET|POST|DELETE /things/{thingName}/shadow[?name={shadowName}]
 *   GET /api/things/shadow/ListNamedShadowsForThing/{thingName}?nextToken=&pageSize=
 *   POST /topics/{topic}?qos=0|1                     Publish (the body is the payload), when
 *                                                    the service is given a `publish` function
 * Requests are SigV4-signed for the service `iotdata` with the local credentials. Errors are
 * restJson1 errors: the `x-amzn-errortype` header names the exception the SDK throws, the body
 * is the shadow error document ({ code, message, timestamp }).
 */
import type http from 'node:http';
import { HttpError, listen, readBody, sendJson, type Listening } from '../http';
import type { LogFn } from '../log';
import { sha256Hex, verifySigV4 } from '../sigv4';
import { MESSAGES, seconds, type ErrorCode, type ErrorReply } from './document';
import type { Reply, ShadowClock, ShadowOperations } from './service';

/** AWS IoT message payload limit; the state limit (8 KB) is the shadow's own 413. */
export const MAX_BODY_BYTES = 128 * 1024;
/** The signing name of the IoT data plane. */
export const SIGNING_SERVICE = 'iotdata';

/** The exception each shadow error code maps to in the IoT data plane model. */
const EXCEPTIONS: Readonly<Record<ErrorCode, string>> = Object.freeze({
	400: 'InvalidRequestException',
	404: 'ResourceNotFoundException',
	409: 'ConflictException',
	413: 'RequestEntityTooLargeException',
	415: 'UnsupportedDocumentEncodingException',
});

export interface ShadowHttpOptions {
	readonly port?: number;
	readonly host?: string;
	readonly clock: ShadowClock;
	readonly log: LogFn;
	/** Refuse requests without a valid SigV4 signature (default true). */
	readonly verifySignatures?: boolean;
	/** The data plane's Publish: a message from the cloud onto the broker. */
	readonly publish?: (topic: string, payload: Uint8Array, qos: 0 | 1) => Promise<void>;
}

export function startShadowHttp(ops: ShadowOperations, options: ShadowHttpOptions): Promise<Listening> {
	const verify = options.verifySignatures ?? true;
	const handler = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
		const body = await readBody(req, MAX_BODY_BYTES);
		if (verify) {
			const signed = verifySigV4({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, rawHeaders: req.rawHeaders }, { service: SIGNING_SERVICE, payloadHash: sha256Hex(body), now: options.clock.now() });
			if (!signed.ok) throw new HttpError(signed.error.status, signed.error.code, signed.error.message);
		}
		const url = new URL(req.url ?? '/', 'http://local');
		const segments = url.pathname.split('/').slice(1).map(decode);
		const method = req.method ?? 'GET';
		if (segments.length === 3 && segments[0] === 'things' && segments[2] === 'shadow') {
			const thing = segments[1] as string;
			const name = url.searchParams.get('name') ?? '';
			if (method === 'GET') return answer(res, ops.get(thing, name, ''));
			if (method === 'POST') return answer(res, ops.update(thing, name, body));
			if (method === 'DELETE') return answer(res, ops.delete(thing, name, ''));
			throw new HttpError(405, 'MethodNotAllowedException', 'method ' + method + ' not allowed');
		}
		if (segments.length === 2 && segments[0] === 'topics' && options.publish) {
			if (method !== 'POST') throw new HttpError(405, 'MethodNotAllowedException', 'method ' + method + ' not allowed');
			const topic = segments[1] as string;
			const qos = url.searchParams.get('qos') ?? '0';
			if (qos !== '0' && qos !== '1') throw new HttpError(400, 'InvalidRequestException', 'qos expected 0 or 1, got ' + JSON.stringify(qos));
			// a topic name, not a filter (MQTT-4.7.3); AWS IoT topics are at most 256 bytes
			if (topic.length === 0 || /[+#\u0000]/.test(topic) || new TextEncoder().encode(topic).byteLength > 256)
				throw new HttpError(400, 'InvalidRequestException', 'topic expected a topic name of 1-256 bytes without + # or U+0000, got ' + JSON.stringify(topic));
			await options.publish(topic, new Uint8Array(body), qos === '1' ? 1 : 0);
			options.log({ level: 'info', event: 'iotdata.publish', topic, qos: Number(qos), bytes: body.byteLength });
			return sendJson(res, 200, {});
		}
		if (segments.length === 5 && segments.slice(0, 4).join('/') === 'api/things/shadow/ListNamedShadowsForThing') {
			if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowedException', 'method ' + method + ' not allowed');
			const size = url.searchParams.get('pageSize');
			const pageSize = size === null ? undefined : /^\d+$/.test(size) ? Number(size) : NaN;
			const next = url.searchParams.get('nextToken') ?? undefined;
			return answer(res, ops.list(segments[4] as string, pageSize, next));
		}
		throw new HttpError(404, 'ResourceNotFoundException', 'no operation at ' + method + ' ' + url.pathname);
	};
	return listen(handler, {
		...(options.port !== undefined ? { port: options.port } : {}),
		...(options.host !== undefined ? { host: options.host } : {}),
		onError(res, e) {
			const now = options.clock.now();
			if (e instanceof HttpError) {
				// readBody's 413 speaks the shadow's words, like a state over 8 KB
				const message = e.status === 413 ? MESSAGES.tooLarge : e.message;
				sendJson(res, e.status, { code: e.status, message, timestamp: seconds(now) }, { 'x-amzn-errortype': e.code });
				return;
			}
			options.log({ level: 'error', event: 'shadow.http.failed', error: String(e) });
			sendJson(res, 500, { code: 500, message: 'Internal service failure', timestamp: seconds(now) }, { 'x-amzn-errortype': 'InternalFailureException' });
		},
	});
}

function answer(res: http.ServerResponse, reply: Reply<unknown>): void {
	if (reply.ok) return sendJson(res, 200, reply.value);
	const e: ErrorReply = reply.error;
	sendJson(res, e.code, e, { 'x-amzn-errortype': EXCEPTIONS[e.code] });
}

function decode(segment: string): string {
	try {
		return decodeURIComponent(segment);
	} catch {
		throw new HttpError(400, 'InvalidRequestException', 'malformed path');
	}
}
