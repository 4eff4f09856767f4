/*
 * One map upload as a state machine: ask for a slot, PUT the map into it, and on a failure
 * decide whether to try again (after a backoff) or stop. Pure: the uploader (uploader.ts)
 * runs it on the core's runner and performs the effects (the MQTT request, the HTTP PUT,
 * the timer).
 *
 * What is final: a refusal the cloud means (`slot-refused`, not retryable), a slot it sent
 * malformed (`bad-slot`), a data key that does not open (`unwrap`) and a map that cannot be
 * read (`source`): trying again would give the same answer. Anything else (a slot request
 * timed out or offline, the cloud's `unavailable`, a network or HTTP failure, a refused or
 * expired URL) is tried again with a new slot, up to `maxAttempts`; after that the upload
 * fails with the last reason and the queue (queue.ts) owes the map for later.
 */
import type { ReceivedSlot } from '../contracts/upload-slot';
import type { UploadError } from './uploader';

export type UploadState =
	| { readonly value: 'idle' }
	| { readonly value: 'asking'; readonly attempt: number }
	| { readonly value: 'putting'; readonly attempt: number }
	| { readonly value: 'backoff'; readonly attempt: number }
	| { readonly value: 'uploaded'; readonly attempts: number; readonly bytes: number }
	| { readonly value: 'failed'; readonly error: UploadError };

export type UploadEvent =
	| { readonly type: 'start' }
	| { readonly type: 'slot'; readonly slot: ReceivedSlot }
	| { readonly type: 'slotFailed'; readonly error: UploadError }
	| { readonly type: 'put'; readonly bytes: number }
	| { readonly type: 'putFailed'; readonly error: UploadError }
	| { readonly type: 'wake' };

export type UploadEffect =
	| { readonly type: 'requestSlot' }
	| { readonly type: 'put'; readonly slot: ReceivedSlot }
	/** Wait before attempt `attempt + 1`: the backoff's `attempt`. */
	| { readonly type: 'sleep'; readonly attempt: number }
	| { readonly type: 'log'; readonly level: 'info' | 'warn'; readonly event: string; readonly fields: Record<string, string | number> };

export const IDLE: UploadState = Object.freeze({ value: 'idle' });

const slotFinal = (e: UploadError) => (e.code === 'slot-refused' && !e.retryable) || e.code === 'bad-slot';
const putFinal = (e: UploadError) => e.code === 'unwrap' || e.code === 'source';

/** A failed attempt, logged as `event`: the end when `final` or the last attempt, else a backoff. */
function failed(attempt: number, error: UploadError, final: boolean, maxAttempts: number, event: string): { state: UploadState; effects: UploadEffect[] } {
	const detail: Record<string, string | number> = error.code === 'slot-refused' ? { reason: error.reason } : error.code === 'http' ? { status: error.status } : {};
	const log: UploadEffect = { type: 'log', level: 'warn', event, fields: { attempt, code: error.code, ...detail } };
	if (final || attempt >= maxAttempts) return { state: { value: 'failed', error }, effects: [log] };
	return { state: { value: 'backoff', attempt }, effects: [log, { type: 'sleep', attempt }] };
}

/** The next state and its effects, or undefined when `e` does not apply in `s`. */
export function step(s: UploadState, e: UploadEvent, maxAttempts: number): { state: UploadState; effects: UploadEffect[] } | undefined {
	switch (s.value) {
		case 'idle':
			return e.type === 'start' ? { state: { value: 'asking', attempt: 1 }, effects: [{ type: 'requestSlot' }] } : undefined;
		case 'asking':
			if (e.type === 'slot') return { state: { value: 'putting', attempt: s.attempt }, effects: [{ type: 'put', slot: e.slot }] };
			if (e.type !== 'slotFailed') return undefined;
			return failed(s.attempt, e.error, slotFinal(e.error), maxAttempts, 'map.slot_failed');
		case 'putting':
			if (e.type === 'put')
				return {
					state: { value: 'uploaded', attempts: s.attempt, bytes: e.bytes },
					effects: [{ type: 'log', level: 'info', event: 'map.uploaded', fields: { bytes: e.bytes, attempts: s.attempt } }],
				};
			if (e.type !== 'putFailed') return undefined;
			return failed(s.attempt, e.error, putFinal(e.error), maxAttempts, 'map.upload_failed');
		case 'backoff':
			return e.type === 'wake' ? { state: { value: 'asking', attempt: s.attempt + 1 }, effects: [{ type: 'requestSlot' }] } : undefined;
		case 'uploaded':
		case 'failed':
			return undefined;
	}
}
