/*
 * Pairing at setup: the robot makes a short-lived code, shows it to the person in front of it
 * (display, app-readable sound, the simulator's log) and reports only a digest of it, with its
 * expiry, in its `pairing` named shadow. The cloud's claim (cloud/functions/owner-api) binds the
 * owner who presents the code before it expires, once, and deletes the shadow.
 * The digest is SHA-256 over `<thing>:<code>`, hex: the code itself never leaves the robot.
 * The code comes from the crypto port's strong random bytes (RandomPort is not for secrets).
 */
import type { ClockPort, CryptoPort } from '../../ports';
import type { LinkError } from '../link/link';
import type { Result } from '../util/result';
import { err, ok } from '../util/result';
import { utf8Encode } from '../util/utf8';
import { shadowTopicPrefix } from '../contracts/topics';

/** 32 letters and digits without 0/O and 1/I: read off a screen without mistakes. */
export const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const CODE_LENGTH = 8;
/** How long a code is good for, seconds. */
export const DEFAULT_PAIRING_TTL_S = 600;

export interface PairingLink {
	publish(topic: string, payload: Uint8Array, qos: 0 | 1, durable?: boolean): Result<number, LinkError>;
}

export function pairingTopic(thing: string): string {
	return shadowTopicPrefix(thing, 'pairing') + '/update';
}

function hex(b: Uint8Array): string {
	let s = '';
	for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
	return s;
}

export function pairingDigestHex(crypto: Pick<CryptoPort, 'sha256'>, thing: string, code: string): string {
	return hex(crypto.sha256(utf8Encode(thing + ':' + code)));
}

/** Makes a code and reports its digest; the code is for the robot's own display only. */
export function beginPairing(
	link: PairingLink,
	ports: { crypto: Pick<CryptoPort, 'sha256' | 'random'>; clock: ClockPort },
	thing: string,
	ttlS = DEFAULT_PAIRING_TTL_S,
): Result<{ code: string; expiresAt: number }, { code: 'clock_unknown' } | LinkError> {
	const now = ports.clock.now();
	// an expiry needs the time: without it the code could never be checked, so none is made
	if (now === undefined) return err({ code: 'clock_unknown' });
	const bytes = ports.crypto.random(CODE_LENGTH);
	let code = '';
	// 256 is a multiple of 32: each byte's low 5 bits are uniform
	for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[bytes[i]! & 31];
	const expiresAt = Math.floor(now / 1000) + ttlS;
	const body = { state: { reported: { pairing: { digest: pairingDigestHex(ports.crypto, thing, code), expiresAt } } } };
	const sent = link.publish(pairingTopic(thing), utf8Encode(JSON.stringify(body)), 1, true);
	if (!sent.ok) return sent;
	return ok({ code, expiresAt });
}
