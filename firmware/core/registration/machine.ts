/*
 * Registration as a state machine: ask the registration API, and on an answer decide
 * whether the robot is registered, refused for good, or should ask again after a backoff
 * (up to `maxAttempts`). Pure: registration.ts runs it on the core's runner and performs
 * the effects (the signed POST, the timer, the mark on storage). `classify` reads one HTTP
 * answer against the contract (contract.ts).
 */
import { RETRYABLE_CODES } from './contract';

/** What one attempt came to. */
export type Attempt = { readonly kind: 'registered'; readonly certificateId: string } | { readonly kind: 'retry'; readonly reason: string } | { readonly kind: 'refused'; readonly reason: string; readonly message: string };

export type RegistrationState =
	| { readonly value: 'idle' }
	| { readonly value: 'asking'; readonly attempt: number }
	| { readonly value: 'backoff'; readonly attempt: number; readonly last: string }
	| { readonly value: 'registered'; readonly attempts: number; readonly certificateId: string }
	| { readonly value: 'refused'; readonly reason: string; readonly message: string }
	| { readonly value: 'gaveUp'; readonly attempts: number; readonly last: string };

export type RegistrationEvent = { readonly type: 'start' } | { readonly type: 'answered'; readonly attempt: Attempt } | { readonly type: 'wake' };

export type RegistrationEffect =
	| { readonly type: 'ask'; readonly attempt: number }
	/** Wait before attempt `attempt + 1`: the backoff's `attempt`. */
	| { readonly type: 'sleep'; readonly attempt: number }
	/** Remember on storage that this certificate is registered. */
	| { readonly type: 'mark' }
	| { readonly type: 'log'; readonly level: 'info' | 'warn' | 'error'; readonly event: string; readonly fields: Record<string, string | number> };

export const IDLE: RegistrationState = Object.freeze({ value: 'idle' });

/** The next state and its effects, or undefined when `e` does not apply in `s`. */
export function step(s: RegistrationState, e: RegistrationEvent, maxAttempts: number): { state: RegistrationState; effects: RegistrationEffect[] } | undefined {
	switch (s.value) {
		case 'idle':
			return e.type === 'start' ? { state: { value: 'asking', attempt: 1 }, effects: [{ type: 'ask', attempt: 1 }] } : undefined;
		case 'asking': {
			if (e.type !== 'answered') return undefined;
			const a = e.attempt;
			if (a.kind === 'registered')
				return {
					state: { value: 'registered', attempts: s.attempt, certificateId: a.certificateId },
					// registration is idempotent in the cloud: if the store refuses the mark, the next boot asks again
					effects: [{ type: 'mark' }, { type: 'log', level: 'info', event: 'registration.registered', fields: { attempts: s.attempt } }],
				};
			if (a.kind === 'refused')
				return {
					state: { value: 'refused', reason: a.reason, message: a.message },
					effects: [{ type: 'log', level: 'error', event: 'registration.refused', fields: { reason: a.reason, message: a.message } }],
				};
			const log: RegistrationEffect = {
				type: 'log',
				level: a.reason === 'pending' ? 'info' : 'warn',
				event: 'registration.retry',
				fields: { attempt: s.attempt, reason: a.reason },
			};
			if (s.attempt >= maxAttempts) return { state: { value: 'gaveUp', attempts: s.attempt, last: a.reason }, effects: [log] };
			return { state: { value: 'backoff', attempt: s.attempt, last: a.reason }, effects: [log, { type: 'sleep', attempt: s.attempt }] };
		}
		case 'backoff':
			return e.type === 'wake' ? { state: { value: 'asking', attempt: s.attempt + 1 }, effects: [{ type: 'ask', attempt: s.attempt + 1 }] } : undefined;
		case 'registered':
		case 'refused':
		case 'gaveUp':
			return undefined;
	}
}

/** One HTTP answer of the registration API, for `thing`: registered, refused for good, or worth another try. */
export function classify(status: number, answer: Record<string, unknown> | undefined, thing: string): Attempt {
	if (status === 200 && answer?.status === 'registered' && answer.thing === thing && typeof answer.certificateId === 'string') return { kind: 'registered', certificateId: answer.certificateId };
	if (status === 202 && answer?.status === 'pending') return { kind: 'retry', reason: 'pending' };
	const e = answer?.error as { code?: unknown; message?: unknown } | undefined;
	const code = typeof e?.code === 'string' ? e.code : undefined;
	if (status === 429 || status >= 500 || (code !== undefined && (RETRYABLE_CODES as readonly string[]).includes(code))) return { kind: 'retry', reason: code ?? 'http ' + status };
	if (status >= 400 && status < 500) return { kind: 'refused', reason: code ?? 'http ' + status, message: typeof e?.message === 'string' ? e.message : '' };
	// a 2xx or 3xx the contract does not know: not a registration, worth another try
	return { kind: 'retry', reason: 'unexpected answer ' + status };
}
