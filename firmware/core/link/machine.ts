/*
 * The connection supervisor as a pure state machine (zwave-js shape): a union of
 * states, one `step` that returns the next state and the effects the runner must
 * perform. `undefined` means the event does not apply in this state.
 *
 * A connection counts as a success only once it has stayed up `minConnectedMs`
 * (the AWS CRT's minConnectedTimeToResetReconnectDelayMs, default 30 s there too):
 * a link that drops sooner keeps counting failures, so its backoff keeps growing.
 * Without this, two robots of one identity (a cloned certificate, an old process
 * still alive) take the session from each other: AWS IoT closes the older connection
 * of a client id on every CONNECT, and each CONNACK used to restart the backoff at
 * its shortest window, about nine connects a second forever.
 */
import { assertNever } from '../util/result';

export interface LinkTiming {
	/** A connection up at least this long resets the backoff; shorter ones count as failures. */
	readonly minConnectedMs: number;
	/** Short connections in a row after which a takeover loop is suspected (reported once). */
	readonly flapsToWarn: number;
}

export const DEFAULT_TIMING: LinkTiming = Object.freeze({ minConnectedMs: 30_000, flapsToWarn: 3 });

export function checkTiming(t: LinkTiming): LinkTiming {
	if (!(t.minConnectedMs >= 0)) throw new RangeError('"minConnectedMs" expected >= 0, got ' + t.minConnectedMs);
	if (!Number.isInteger(t.flapsToWarn) || t.flapsToWarn < 1) throw new RangeError('"flapsToWarn" expected an integer >= 1, got ' + t.flapsToWarn);
	return t;
}

export type LinkState =
	| { readonly value: 'offline' }
	/**
	 * Socket opening or CONNECT sent, CONNACK not yet in. `attempt` counts failures in a
	 * row (short connections included); `flaps` counts the short connections among them.
	 */
	| { readonly value: 'connecting'; readonly attempt: number; readonly flaps: number }
	/** Up since `since` (monotonic ms); `attempt` and `flaps` as they were when it connected. */
	| { readonly value: 'connected'; readonly sessionPresent: boolean; readonly attempt: number; readonly flaps: number; readonly since: number }
	/** Backoff timer running before the next attempt. */
	| { readonly value: 'waiting'; readonly attempt: number; readonly flaps: number; readonly reason: string };

export type LinkEvent =
	| { readonly type: 'start' }
	| { readonly type: 'stop' }
	/** `at`: monotonic ms. */
	| { readonly type: 'connack'; readonly sessionPresent: boolean; readonly at: number }
	/** CONNACK refused, socket closed or failed, dead link, bad frame, timeout. `at`: monotonic ms. */
	| { readonly type: 'lost'; readonly reason: string; readonly at: number }
	| { readonly type: 'retry' };

export type LinkEffect =
	| { readonly type: 'open' }
	/** Send DISCONNECT (then `close` follows): a graceful end of a connected session. */
	| { readonly type: 'disconnect' }
	| { readonly type: 'close' }
	| { readonly type: 'schedule'; readonly attempt: number }
	| { readonly type: 'cancel' }
	| { readonly type: 'online'; readonly sessionPresent: boolean }
	| { readonly type: 'offline'; readonly reason: string; readonly upMs: number }
	/** `flapsToWarn` short connections in a row: told once until a connection lasts. */
	| { readonly type: 'flapping'; readonly flaps: number; readonly upMs: number };

export type Step = { readonly state: LinkState; readonly effects: readonly LinkEffect[] } | undefined;

export const OFFLINE: LinkState = Object.freeze({ value: 'offline' });

export function step(s: LinkState, e: LinkEvent, timing: LinkTiming = DEFAULT_TIMING): Step {
	if (e.type === 'stop') {
		if (s.value === 'offline') return undefined;
		// a stop while connected says goodbye first: on DISCONNECT the broker discards the will
		// [MQTT-3.14.4-3] and AWS IoT reports CLIENT_INITIATED_DISCONNECT, not a lost connection
		if (s.value === 'connected') return { state: OFFLINE, effects: [{ type: 'disconnect' }, { type: 'close' }, { type: 'offline', reason: 'stopped', upMs: 0 }] };
		return { state: OFFLINE, effects: s.value === 'waiting' ? [{ type: 'cancel' }] : [{ type: 'close' }] };
	}
	switch (s.value) {
		case 'offline':
			return e.type === 'start' ? { state: { value: 'connecting', attempt: 0, flaps: 0 }, effects: [{ type: 'open' }] } : undefined;
		case 'connecting':
			if (e.type === 'connack')
				return {
					state: { value: 'connected', sessionPresent: e.sessionPresent, attempt: s.attempt, flaps: s.flaps, since: e.at },
					effects: [{ type: 'online', sessionPresent: e.sessionPresent }],
				};
			if (e.type === 'lost') {
				const attempt = s.attempt + 1;
				return { state: { value: 'waiting', attempt, flaps: s.flaps, reason: e.reason }, effects: [{ type: 'close' }, { type: 'schedule', attempt }] };
			}
			return undefined;
		case 'connected': {
			if (e.type !== 'lost') return undefined;
			const upMs = Math.max(0, e.at - s.since);
			const offline: LinkEffect = { type: 'offline', reason: e.reason, upMs };
			// a link that lasted starts its backoff afresh: one short random wait, then try
			if (upMs >= timing.minConnectedMs) return { state: { value: 'waiting', attempt: 1, flaps: 0, reason: e.reason }, effects: [{ type: 'close' }, offline, { type: 'schedule', attempt: 1 }] };
			// one that did not is one more failure in a row
			const attempt = s.attempt + 1;
			const flaps = s.flaps + 1;
			const effects: LinkEffect[] = [{ type: 'close' }, offline];
			if (flaps === timing.flapsToWarn) effects.push({ type: 'flapping', flaps, upMs });
			effects.push({ type: 'schedule', attempt });
			return { state: { value: 'waiting', attempt, flaps, reason: e.reason }, effects };
		}
		case 'waiting':
			return e.type === 'retry' ? { state: { value: 'connecting', attempt: s.attempt, flaps: s.flaps }, effects: [{ type: 'open' }] } : undefined;
		default:
			return assertNever(s);
	}
}
