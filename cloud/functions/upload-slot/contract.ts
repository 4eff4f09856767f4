/*
 * The map upload contract (design.md, "Wire contracts" and "Key choices"), as the cloud
 * states it: the request a robot publishes on `robots/{thing}/maps/upload-request`, the
 * slot it gets back on `robots/{thing}/maps/upload-slot`, where the encrypted map goes
 * and which encryption context binds it.
 *
 * One mission, one name, three places: the S3 key `maps/<thing>/<missionId>.esdk`, the
 * KMS encryption context `{ thing, mission, purpose: 'map' }` of the data key, and the
 * same context in the Encryption SDK message header (authenticated by the header tag).
 * The ingest derives the expected context from the object key and refuses a message whose
 * header says anything else, so a slot issued for mission A cannot deliver a map for
 * mission B (nor robot-2's slot one for robot-1): KMS opens the data key only under the
 * context it was generated with, and the ingest accepts only the context the key names.
 */
import { MISSION_ID } from '../../../firmware/core/mission/report';

export const REQUEST_TOPIC_FILTER = 'robots/+/maps/upload-request';
export const requestTopic = (thing: string) => 'robots/' + thing + '/maps/upload-request';
export const slotTopic = (thing: string) => 'robots/' + thing + '/maps/upload-slot';

/** The content type a map upload is signed with (the presigned PUT must carry exactly this). */
export const UPLOAD_CONTENT_TYPE = 'application/octet-stream';

/** The bucket of encrypted uploads and of the decoded maps. */
export const MAPS_BUCKET = 'maps';
/** Encryption SDK frame length the robot must use (its constant-memory unit). */
export const FRAME_LENGTH = 4096;
/** Largest map a robot may announce or upload, ciphertext included (a map is a few MB). */
export const MAX_MAP_BYTES = 16 * 1024 * 1024;
/** clientToken as in the shadow service: 1..64 printable ASCII characters. */
const CLIENT_TOKEN = /^[\x21-\x7e]{1,64}$/;
const THING = /^[A-Za-z0-9:_-]{1,128}$/;

export type MapEncryptionContext = { readonly thing: string; readonly mission: string; readonly purpose: 'map' };

export function mapEncryptionContext(thing: string, missionId: string): MapEncryptionContext {
	return { thing, mission: missionId, purpose: 'map' };
}

/** Where the robot PUTs the Encryption SDK message of a mission's map. */
export function uploadKey(thing: string, missionId: string): string {
	return 'maps/' + thing + '/' + missionId + '.esdk';
}

/** Where the ingest keeps the decrypted map. */
export function decodedKey(thing: string, missionId: string): string {
	return 'decoded/' + thing + '/' + missionId + '.map';
}

/** The thing and mission an upload key names, or undefined for any other key. */
export function parseUploadKey(key: string): { thing: string; missionId: string } | undefined {
	const m = /^maps\/([^/]+)\/([^/]+)\.esdk$/.exec(key);
	if (!m || !THING.test(m[1]!) || !MISSION_ID.test(m[2]!)) return undefined;
	return { thing: m[1]!, missionId: m[2]! };
}

export interface UploadRequest {
	readonly clientToken: string;
	readonly missionId: string;
	/** The map's size as the robot announces it, checked against MAX_MAP_BYTES. */
	readonly bytes?: number;
}

export interface UploadSlot {
	readonly clientToken: string;
	/** Presigned S3 PUT URL of `maps/<thing>/<missionId>.esdk`. */
	readonly url: string;
	/** Epoch ms after which S3 refuses the URL. */
	readonly expiresAt: number;
	/** The 32-byte AES-256 data key, RSA-OAEP (SHA-256, MGF1-SHA-256) to the robot's certificate key, base64. */
	readonly wrappedKey: string;
	/** KMS ciphertext blob of the same data key: the message's encrypted data key (provider `aws-kms`), base64. */
	readonly ciphertextBlob: string;
	/** The KMS key ARN: the encrypted data key's provider info. */
	readonly keyArn: string;
	readonly encryptionContext: MapEncryptionContext;
	readonly frameLength: typeof FRAME_LENGTH;
	readonly method: 'PUT';
	/** Headers the PUT must carry besides Content-Length: the signed `content-type` (UPLOAD_CONTENT_TYPE). */
	readonly headers: Readonly<Record<string, string>>;
}

export type SlotErrorCode = 'invalid_request' | 'too_large' | 'thing_mismatch' | 'unknown_certificate' | 'unsupported_key' | 'unavailable';

/** The reply when no slot is issued: the robot stops waiting at once. `unavailable` is the only one worth retrying. */
export interface SlotError {
	/** Absent when the request carried no usable clientToken. */
	readonly clientToken?: string;
	readonly error: { readonly code: SlotErrorCode; readonly message: string };
}

const REQUEST_KEYS = Object.freeze(['clientToken', 'missionId', 'bytes']);

/** Checks an untrusted request; every problem is named with its field. */
export function validateUploadRequest(x: Record<string, unknown>): { ok: true; value: UploadRequest } | { ok: false; errors: string[]; tooLarge: boolean } {
	const e: string[] = [];
	let tooLarge = false;
	for (const k of Object.keys(x)) if (!REQUEST_KEYS.includes(k)) e.push(k + ': unknown field');
	if (typeof x.clientToken !== 'string' || !CLIENT_TOKEN.test(x.clientToken)) e.push('clientToken: expected 1..64 printable ASCII characters');
	if (typeof x.missionId !== 'string' || !MISSION_ID.test(x.missionId)) e.push('missionId: expected m-<1..12 of [0-9a-z]>, got ' + JSON.stringify(x.missionId));
	if (x.bytes !== undefined) {
		if (typeof x.bytes !== 'number' || !Number.isInteger(x.bytes) || x.bytes < 1) e.push('bytes: expected a positive integer');
		else if (x.bytes > MAX_MAP_BYTES) {
			tooLarge = true;
			e.push('bytes: ' + x.bytes + ', limit ' + MAX_MAP_BYTES);
		}
	}
	return e.length ? { ok: false, errors: e, tooLarge } : { ok: true, value: x as unknown as UploadRequest };
}

/** A request's payload is a small JSON object; anything longer is refused unread. */
export const MAX_REQUEST_BYTES = 1024;

/**
 * The request as the robot published it (the rule hands the bytes over base64, so a payload
 * that is not JSON reaches the handler and is answered instead of being lost in the rule's
 * error action while the robot waits out its timeout). On failure, the clientToken is taken
 * from the text if one is recognisable there, so the refusal still reaches the waiting request.
 */
export function parseRequestPayload(base64: string): { ok: true; value: Record<string, unknown> } | { ok: false; error: string; clientToken?: string } {
	const bytes = Buffer.from(base64, 'base64');
	if (bytes.length > MAX_REQUEST_BYTES) return { ok: false, error: 'request: ' + bytes.length + ' bytes, limit ' + MAX_REQUEST_BYTES };
	let text: string;
	try {
		text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
	} catch {
		return { ok: false, error: 'request: not UTF-8' };
	}
	const token = /"clientToken"\s*:\s*"([\x21-\x7e]{1,64}?)"/.exec(text)?.[1];
	const withToken = token !== undefined && CLIENT_TOKEN.test(token) && !token.includes('"') ? { clientToken: token } : {};
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch (e) {
		return { ok: false, error: 'request: not JSON (' + (e as Error).message + ')', ...withToken };
	}
	if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'request: expected a JSON object', ...withToken };
	return { ok: true, value: value as Record<string, unknown> };
}

/** The clientToken to answer with, if the request has a usable one. */
export function replyToken(x: Record<string, unknown>): string | undefined {
	return typeof x.clientToken === 'string' && CLIENT_TOKEN.test(x.clientToken) ? x.clientToken : undefined;
}
