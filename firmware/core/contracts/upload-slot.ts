/*
 * The map upload contract (design.md, "Wire contracts" and "Key choices"), one copy for the
 * robot and the cloud: the request a robot publishes on `mapUploadRequestTopic`, the slot
 * it gets back on `mapUploadSlotTopic` (topics.ts), where the encrypted map goes and which
 * encryption context binds it. The cloud's handler checks requests with
 * `validateUploadRequest`; the robot reads slots with `parseUploadSlot`.
 *
 * One mission, one name, three places: the S3 key `maps/<thing>/<missionId>.esdk`, the
 * KMS encryption context `{ thing, mission, purpose: 'map' }` of the data key, and the
 * same context in the Encryption SDK message header (authenticated by the header tag).
 * The ingest derives the expected context from the object key and refuses a message whose
 * header says anything else, so a slot issued for mission A cannot deliver a map for
 * mission B (nor robot-2's slot one for robot-1): KMS opens the data key only under the
 * context it was generated with, and the ingest accepts only the context the key names.
 */
import { MISSION_ID } from '../mission/report';
import { base64Decode } from '../util/base64';
import { THING_NAME } from './thing';
import { pattern } from '../util/pattern';

/** The content type a map upload is signed with (the presigned PUT must carry exactly this). */
export const UPLOAD_CONTENT_TYPE = 'application/octet-stream';
/** Encryption SDK frame length the cloud asks for (the robot's constant-memory unit). */
export const FRAME_LENGTH = 4096;
/** Largest map a robot may announce or upload, ciphertext included (a map is a few MB). */
export const MAX_MAP_BYTES = 16 * 1024 * 1024;
/** clientToken as in the shadow service: 1..64 printable ASCII characters. */
export const CLIENT_TOKEN = pattern(() => /^[\x21-\x7e]{1,64}$/);

export type MapEncryptionContext = { readonly thing: string; readonly mission: string; readonly purpose: 'map' };

export function mapEncryptionContext(thing: string, missionId: string): MapEncryptionContext {
	return { thing, mission: missionId, purpose: 'map' };
}

/** Where the robot PUTs the Encryption SDK message of a mission's map. */
export function uploadKey(thing: string, missionId: string): string {
	return 'maps/' + thing + '/' + missionId + '.esdk';
}

/** The thing and mission an upload key names, or undefined for any other key. */
export function parseUploadKey(key: string): { thing: string; missionId: string } | undefined {
	const m = /^maps\/([^/]+)\/([^/]+)\.esdk$/.exec(key);
	if (!m || !THING_NAME.test(m[1]!) || !MISSION_ID.test(m[2]!)) return undefined;
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

/** The cloud's "try again later" (KMS or IoT briefly failing): the only refusal worth retrying. */
export const RETRYABLE_SLOT_ERROR: SlotErrorCode = 'unavailable';

/** The reply when no slot is issued: the robot stops waiting at once. */
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

/** The clientToken to answer with, if the request has a usable one. */
export function replyToken(x: Record<string, unknown>): string | undefined {
	return typeof x.clientToken === 'string' && CLIENT_TOKEN.test(x.clientToken) ? x.clientToken : undefined;
}

/** A slot as the robot uses it: keys decoded, headers defaulted. */
export interface ReceivedSlot {
	readonly url: string;
	readonly wrappedKey: Uint8Array;
	readonly blob: Uint8Array;
	readonly keyArn: string;
	readonly context: Record<string, string>;
	readonly frameLength: number;
	readonly headers: Record<string, string>;
}

const strings = (x: unknown) => typeof x === 'object' && x !== null && !Object.values(x).some((v) => typeof v !== 'string');

/**
 * Reads an untrusted slot reply on the robot: the slot, or the name of the first field that
 * is wrong. `maxFrameLength` is the largest frame the robot will buffer (its one buffer).
 */
export function parseUploadSlot(body: Record<string, unknown>, maxFrameLength: number): ReceivedSlot | string {
	const { url, wrappedKey, ciphertextBlob, keyArn, encryptionContext, frameLength, headers } = body;
	if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return 'url';
	const wk = typeof wrappedKey === 'string' ? base64Decode(wrappedKey) : undefined;
	if (!wk) return 'wrappedKey';
	const blob = typeof ciphertextBlob === 'string' ? base64Decode(ciphertextBlob) : undefined;
	if (!blob || blob.length === 0) return 'ciphertextBlob';
	if (typeof keyArn !== 'string' || !keyArn.startsWith('arn:')) return 'keyArn';
	if (!strings(encryptionContext)) return 'encryptionContext';
	if (typeof frameLength !== 'number' || !Number.isInteger(frameLength) || frameLength < 1 || frameLength > maxFrameLength) return 'frameLength';
	if (headers !== undefined && !strings(headers)) return 'headers';
	return { url, wrappedKey: wk, blob, keyArn, context: encryptionContext as Record<string, string>, frameLength, headers: (headers ?? {}) as Record<string, string> };
}
