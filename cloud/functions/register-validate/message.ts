/*
 * The registration queue's message: what the validate function hands the worker once a
 * request has been checked (certificate chain, dates, proof, freshness, replay).
 */
import { isThingName } from '../../../firmware/core/contracts/thing';

export interface RegistrationMessage {
	readonly v: 1;
	readonly thing: string;
	readonly certificatePem: string;
	/** SHA-256 of the DER, hex: the IoT certificate id. */
	readonly certificateId: string;
	/** The proof's timestamp (epoch ms). */
	readonly proofTimestamp: number;
	/** API Gateway's request id of the POST: joins the worker's log lines to the validate's. */
	readonly apiRequestId: string;
	/** Epoch ms at which the request was accepted. */
	readonly acceptedAt: number;
}

/** The message, or what is wrong with it (a message that fails this is poison: it ends in the DLQ). */
export function parseRegistrationMessage(body: string): { ok: true; value: RegistrationMessage } | { ok: false; errors: string[] } {
	let v: unknown;
	try {
		v = JSON.parse(body);
	} catch {
		return { ok: false, errors: ['body is not JSON'] };
	}
	if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, errors: ['body is not a JSON object'] };
	const m = v as Record<string, unknown>;
	const errors: string[] = [];
	if (m.v !== 1) errors.push('v: expected 1');
	if (!isThingName(m.thing)) errors.push('thing: expected a thing name');
	if (typeof m.certificatePem !== 'string' || !m.certificatePem.includes('BEGIN CERTIFICATE')) errors.push('certificatePem: expected a PEM certificate');
	if (typeof m.certificateId !== 'string' || !/^[0-9a-f]{64}$/.test(m.certificateId)) errors.push('certificateId: expected 64 hex digits');
	if (typeof m.proofTimestamp !== 'number' || !Number.isSafeInteger(m.proofTimestamp)) errors.push('proofTimestamp: expected epoch ms');
	if (typeof m.apiRequestId !== 'string') errors.push('apiRequestId: expected a string');
	if (typeof m.acceptedAt !== 'number') errors.push('acceptedAt: expected epoch ms');
	return errors.length > 0 ? { ok: false, errors } : { ok: true, value: m as unknown as RegistrationMessage };
}
