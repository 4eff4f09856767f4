/*
 * The mission lifecycle as a pure state machine: idle, running, paused, docking
 * (on the way back: cleaning done, stopped by a person, or failed), and back to
 * idle with a report once docked. `step` returns the next state and the effects
 * (events to send, what to persist, the report) for the runner (missions.ts).
 */
import { assertNever } from '../util/result';
import { MAX_DURATION_S, MAX_ERRORS, type MissionError, type MissionReport, type Outcome, type Trigger } from './report';

export interface Mission {
	readonly id: string;
	readonly trigger: Trigger;
	readonly entryId?: string;
	/** Wall clock at start (epoch ms), null when unknown. */
	readonly startedAt: number | null;
	/** Monotonic ms at start: durations come from here. */
	readonly startedMono: number;
	readonly areaM2: number;
	readonly batteryStart: number;
	readonly battery: number;
	readonly errors: readonly MissionError[];
}

export type MissionState =
	{ readonly value: 'idle' } | { readonly value: 'running'; readonly m: Mission } | { readonly value: 'paused'; readonly m: Mission } | { readonly value: 'docking'; readonly m: Mission; readonly outcome: Exclude<Outcome, 'interrupted'> };

export type MissionInput =
	| {
			readonly type: 'start';
			readonly id: string;
			readonly trigger: Trigger;
			readonly entryId?: string;
			readonly at: number | null;
			readonly mono: number;
			readonly battery: number;
	  }
	| { readonly type: 'progress'; readonly areaM2: number; readonly battery: number }
	| { readonly type: 'pause' }
	| { readonly type: 'resume' }
	| { readonly type: 'error'; readonly code: string; readonly fatal: boolean; readonly mono: number }
	/** Cleaning done: head home. */
	| { readonly type: 'finish' }
	/** A person stops it: head home. */
	| { readonly type: 'cancel' }
	| { readonly type: 'docked'; readonly at: number | null; readonly mono: number; readonly battery: number };

export type MissionEventName = 'started' | 'progress' | 'paused' | 'resumed' | 'error' | 'docking' | 'docked';

export type MissionEffect =
	| { readonly type: 'event'; readonly mission: string; readonly name: MissionEventName; readonly data: Readonly<Record<string, string | number | boolean>> }
	| { readonly type: 'persist'; readonly m: Mission }
	| { readonly type: 'report'; readonly report: MissionReport };

export type MissionStep = { readonly state: MissionState; readonly effects: readonly MissionEffect[] } | undefined;

export const IDLE: MissionState = Object.freeze({ value: 'idle' });

/**
 * Whole seconds from `fromMono` to `toMono`, at most the report's MAX_DURATION_S. Time alone
 * must never make a report the cloud refuses (a refused report is a lost mission): a robot left
 * paused or stuck over a holiday, or a simulated one whose fast clock multiplies a starved event
 * loop's lag (the fleet bench at 1,000 robots measured one-hour missions as 7.2 days), reports
 * the ceiling; startedAt/endedAt still carry the whole span on the wall clock.
 */
function secondsSince(fromMono: number, toMono: number): number {
	return Math.min(MAX_DURATION_S, Math.max(0, Math.round((toMono - fromMono) / 1000)));
}

/** The report keeps the first MAX_ERRORS: a robot stuck in a loop must not grow it. */
function withError(m: Mission, code: string, mono: number): Mission {
	if (m.errors.length >= MAX_ERRORS) return m;
	return { ...m, errors: [...m.errors, { code, atS: secondsSince(m.startedMono, mono) }] };
}

/** The report of a mission that ended, or of one cut short by power loss (`interrupted`). */
export function reportOf(thing: string, m: Mission, outcome: Outcome, endedAt: number | null, endMono: number, hasMap: boolean): MissionReport {
	const durationMs = Math.max(0, endMono - m.startedMono);
	// the wall clock can jump back mid-mission (SNTP correcting a fast clock, a manual set);
	// a report ending before it started is refused by the cloud and the mission lost, so the
	// end is then placed by the monotonic duration (found by the rig's clock-jump fault)
	if (endedAt !== null && m.startedAt !== null && endedAt < m.startedAt) endedAt = m.startedAt + Math.round(durationMs);
	return {
		v: 1,
		missionId: m.id,
		thing,
		trigger: m.trigger,
		...(m.entryId !== undefined ? { entryId: m.entryId } : {}),
		startedAt: m.startedAt,
		endedAt,
		durationS: secondsSince(m.startedMono, endMono),
		outcome,
		areaM2: Math.round(m.areaM2 * 10) / 10,
		battery: { start: m.batteryStart, end: m.battery },
		errors: m.errors,
		map: hasMap ? 'pending' : 'none',
	};
}

export function step(thing: string, s: MissionState, e: MissionInput): MissionStep {
	switch (s.value) {
		case 'idle': {
			if (e.type !== 'start') return undefined;
			const m: Mission = {
				id: e.id,
				trigger: e.trigger,
				...(e.entryId !== undefined ? { entryId: e.entryId } : {}),
				startedAt: e.at,
				startedMono: e.mono,
				areaM2: 0,
				batteryStart: e.battery,
				battery: e.battery,
				errors: [],
			};
			return {
				state: { value: 'running', m },
				effects: [
					{ type: 'persist', m },
					{ type: 'event', mission: m.id, name: 'started', data: { trigger: e.trigger, battery: e.battery, ...(e.entryId ? { entry: e.entryId } : {}) } },
				],
			};
		}
		case 'running':
		case 'paused': {
			const m = s.m;
			switch (e.type) {
				case 'progress': {
					if (s.value !== 'running') return undefined;
					const next = { ...m, areaM2: Math.max(m.areaM2, e.areaM2), battery: e.battery };
					return {
						state: { value: 'running', m: next },
						effects: [{ type: 'event', mission: m.id, name: 'progress', data: { areaM2: Math.round(next.areaM2 * 10) / 10, battery: e.battery } }],
					};
				}
				case 'pause':
					return s.value === 'running'
						? {
								state: { value: 'paused', m },
								effects: [
									{ type: 'persist', m },
									{ type: 'event', mission: m.id, name: 'paused', data: {} },
								],
							}
						: undefined;
				case 'resume':
					return s.value === 'paused' ? { state: { value: 'running', m }, effects: [{ type: 'event', mission: m.id, name: 'resumed', data: {} }] } : undefined;
				case 'error': {
					const next = withError(m, e.code, e.mono);
					const fx: MissionEffect[] = [
						{ type: 'persist', m: next },
						{ type: 'event', mission: m.id, name: 'error', data: { code: e.code, fatal: e.fatal } },
					];
					if (!e.fatal) return { state: { value: s.value, m: next }, effects: fx };
					return { state: { value: 'docking', m: next, outcome: 'failed' }, effects: [...fx, { type: 'event', mission: m.id, name: 'docking', data: { outcome: 'failed' } }] };
				}
				case 'finish':
				case 'cancel': {
					const outcome = e.type === 'finish' ? 'finished' : 'cancelled';
					return {
						state: { value: 'docking', m, outcome },
						effects: [
							{ type: 'persist', m },
							{ type: 'event', mission: m.id, name: 'docking', data: { outcome } },
						],
					};
				}
				default:
					return undefined;
			}
		}
		case 'docking': {
			if (e.type === 'cancel') return undefined;
			if (e.type === 'error') {
				// errors on the way home are recorded; the outcome stays
				return { state: { ...s, m: withError(s.m, e.code, e.mono) }, effects: [{ type: 'event', mission: s.m.id, name: 'error', data: { code: e.code, fatal: e.fatal } }] };
			}
			if (e.type !== 'docked') return undefined;
			const m = { ...s.m, battery: e.battery };
			const report = reportOf(thing, m, s.outcome, e.at, e.mono, m.areaM2 > 0);
			return {
				state: IDLE,
				effects: [
					{ type: 'event', mission: m.id, name: 'docked', data: { outcome: s.outcome, areaM2: report.areaM2, durationS: report.durationS } },
					{ type: 'report', report },
				],
			};
		}
		default:
			return assertNever(s);
	}
}
