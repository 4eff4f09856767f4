/*
 * The map upload contract on the cloud's side. The contract itself (topics, request, slot,
 * keys, encryption context) is defined once in firmware/core/contracts/upload-slot.ts,
 * which the robot reads too; here is what only the cloud needs: the bucket, the decoded
 * map's key, and reading the request payload the IoT rule hands over base64.
 */
import { CLIENT_TOKEN } from '../../../firmware/core/contracts/upload-slot';

// the contract itself lives in the core, where the robot reads the same definitions
export {
	FRAME_LENGTH,
	MAX_MAP_BYTES,
	UPLOAD_CONTENT_TYPE,
	mapEncryptionContext,
	parseUploadKey,
	replyToken,
	uploadKey,
	validateUploadRequest,
	type MapEncryptionContext,
	type SlotError,
	type SlotErrorCode,
	type UploadRequest,
	type UploadSlot,
} from '../../../firmware/core/contracts/upload-slot';
export { MAP_UPLOAD_REQUEST_FILTER as REQUEST_TOPIC_FILTER, mapUploadRequestTopic as requestTopic, mapUploadSlotTopic as slotTopic } from '../../../firmware/core/contracts/topics';

/** The bucket of encrypted uploads and of the decoded maps. */
export const MAPS_BUCKET = 'maps';

/** Where the ingest keeps the decrypted map. */
export function decodedKey(thing: string, missionId: string): string {
	return 'decoded/' + thing + '/' + missionId + '.map';
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
