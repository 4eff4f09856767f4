/*
 * The registration wire contract, shared by the robot (registration.ts) and the cloud
 * (cloud/functions/register-validate): the request a robot POSTs on first boot, the proof
 * of possession it signs, and the answers.
 *
 *   POST {registration url}            content-type: application/json
 *   { "v": 1, "thing": "robot-1", "certificate": "<base64 DER>",
 *     "timestamp": <epoch ms>, "signature": "<base64 RSASSA-PKCS1-v1_5 SHA-256>" }
 *
 * The signature is made with the robot's certificate key over proofMessage(thing, timestamp):
 * a domain string, the thing name and the timestamp, one per line, UTF-8. The domain string
 * keeps a registration proof from being any other signature the key ever makes. A proof is
 * good from MAX_SKEW_MS before the cloud's clock to MAX_FUTURE_SKEW_MS after it, and once:
 * the cloud keeps, per thing, the newest timestamp it accepted and refuses one that is not
 * newer (`replayed`). The future window is small on purpose: a proof dated ahead, once
 * accepted, would make every honest proof until that time look like a replay.
 *
 * Answers (JSON):
 *   200 { status: 'registered', thing, certificateId }   done: the robot remembers it
 *   202 { status: 'pending', thing, requestId }           queued: ask again later, fresh proof
 *   4xx/5xx { error: { code, message }, requestId }       see RegistrationErrorCode
 */

export const REGISTRATION_VERSION = 1;
/** Prefix of every signed proof: no other message the key signs starts with it. */
export const PROOF_DOMAIN = 'robot-registration/v1';
/** How old a proof's timestamp may be by the cloud's clock (transit, queueing, retries). */
export const MAX_SKEW_MS = 5 * 60 * 1000;
/** How far ahead of the cloud's clock a proof's timestamp may be (clock error of an SNTP-set robot). */
export const MAX_FUTURE_SKEW_MS = 30 * 1000;
/** The largest request body the cloud reads (a 2048-bit certificate is about 1 KB of DER). */
export const MAX_REQUEST_BYTES = 16 * 1024;
/** The path of the registration API under its base URL. */
export const REGISTRATION_PATH = '/register';

export interface RegistrationRequest {
	readonly v: 1;
	readonly thing: string;
	/** The device certificate, DER, base64. */
	readonly certificate: string;
	/** Epoch milliseconds when the proof was signed. */
	readonly timestamp: number;
	/** RSASSA-PKCS1-v1_5 SHA-256 over proofMessage(thing, timestamp), base64. */
	readonly signature: string;
}

export type RegistrationAnswer = { readonly status: 'registered'; readonly thing: string; readonly certificateId: string } | { readonly status: 'pending'; readonly thing: string; readonly requestId: string };

/**
 * Why a request was refused. Retrying the same proof never helps; `stale_timestamp`,
 * `replayed` and `unavailable` are worth a new proof later, the others are final for this
 * certificate.
 */
export type RegistrationErrorCode =
	| 'invalid_request'
	| 'too_large'
	| 'untrusted_certificate'
	| 'certificate_expired'
	| 'certificate_not_yet_valid'
	| 'unsupported_key'
	| 'thing_mismatch'
	| 'bad_signature'
	| 'stale_timestamp'
	| 'replayed'
	| 'certificate_revoked'
	| 'unavailable';

export const RETRYABLE_CODES: readonly RegistrationErrorCode[] = Object.freeze(['stale_timestamp', 'replayed', 'unavailable']);

export interface RegistrationError {
	readonly error: { readonly code: RegistrationErrorCode; readonly message: string };
	readonly requestId?: string;
}

/** The text the robot signs: `robot-registration/v1\n{thing}\n{timestamp}`. */
export function proofMessage(thing: string, timestamp: number): string {
	return PROOF_DOMAIN + '\n' + thing + '\n' + String(timestamp);
}
