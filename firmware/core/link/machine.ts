/*
 * The connection supervisor as a pure state machine (zwave-js shape): a union of
 * states, one `step` that returns the next state and the effects the runner must
 * perform. `undefined` means the event does not apply in this state.
 */
import { assertNever } from '../util/result';

export type LinkState =
	| { readonly value: 'offline' }
	/** Socket opening or CONNECT sent, CONNACK not yet in. `attempt` counts failures in a row. */
	| { readonly value: 'connecting'; readonly attempt: number }
	| { readonly value: 'connected'; readonly sessionPresent: boolean }
	/** Backoff timer running before the next attempt. */
	| { readonly value: 'waiting'; readonly attempt: number; readonly reason: string };

export type LinkEvent =
	| { readonly type: 'start' }
	| { readonly type: 'stop' }
	| { readonly type: 'connack'; readonly sessionPresent: boolean }
	/** CONNACK refused, socket closed or failed, dead link, bad frame, timeout. */
	| { readonly type: 'lost'; readonly reason: string }
	| { readonly type: 'retry' };

export type LinkEffect =
	| { readonly type: 'open' }
	| { readonly type: 'close' }
	| { readonly type: 'schedule'; readonly attempt: number }
	| { readonly type: 'cancel' }
	| { readonly type: 'online'; readonly sessionPresent: boolean }
	| { readonly type: 'offline'; readonly reason: string };

export type Step = { readonly state: LinkState; readonly effects: readonly LinkEffect[] } | undefined;

export const OFFLINE: LinkState = Object.freeze({ value: 'offline' });

export function step(s: LinkState, e: LinkEvent): Step {
	if (e.type === 'stop') {
		if (s.value === 'offline') return undefined;
		return { state: OFFLINE, effects: s.value === 'waiting' ? [{ type: 'cancel' }] : s.value === 'connected' ? [{ type: 'close' }, { type: 'offline', reason: 'stopped' }] : [{ type: 'close' }] };
	}
	switch (s.value) {
		case 'offline':
			return e.type === 'start' ? { state: { value: 'connecting', attempt: 0 }, effects: [{ type: 'open' }] } : undefined;
		case 'connecting':
			if (e.type === 'connack') return { state: { value: 'connected', sessionPresent: e.sessionPresent }, effects: [{ type: 'online', sessionPresent: e.sessionPresent }] };
			if (e.type === 'lost') {
				const attempt = s.attempt + 1;
				return { state: { value: 'waiting', attempt, reason: e.reason }, effects: [{ type: 'close' }, { type: 'schedule', attempt }] };
			}
			return undefined;
		case 'connected':
			// a link that worked starts its backoff afresh: one short random wait, then try
			if (e.type === 'lost')
				return { state: { value: 'waiting', attempt: 1, reason: e.reason }, effects: [{ type: 'close' }, { type: 'offline', reason: e.reason }, { type: 'schedule', attempt: 1 }] };
			return undefined;
		case 'waiting':
			return e.type === 'retry' ? { state: { value: 'connecting', attempt: s.attempt }, effects: [{ type: 'open' }] } : undefined;
		default:
			return assertNever(s);
	}
}
