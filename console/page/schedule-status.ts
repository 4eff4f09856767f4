/*
 * Where an owner's schedule edit stands, from the `schedule` shadow alone: the robot takes
 * `desired.schedule`, reports what it runs in `reported.schedule` and clears desired
 * (README "The schedule, offline first"); a schedule it refuses is cleared with the reason
 * in `reported.scheduleError`. Pure, so it is checked on Node too.
 */
import { canonicalJson, validateSchedule } from '../../firmware/core/schedule/model';
import type { ShadowView } from '../protocol';

/** The edit this page wrote: the shadow version the write made and the schedule's canonical JSON. */
export interface Written {
	readonly version: number;
	readonly canonical: string;
}

export type ScheduleStatus =
	| { readonly value: 'none' }
	/** desired holds an edit the robot has not taken yet (it is offline, or about to). */
	| { readonly value: 'waiting'; readonly version: number }
	/** The robot reported the edit this page wrote. */
	| { readonly value: 'applied'; readonly version: number }
	| { readonly value: 'refused'; readonly version: number; readonly reason: string }
	| { readonly value: 'in-sync'; readonly version: number };

/** A schedule's canonical JSON, or undefined when it is not a valid schedule. */
export function canonicalSchedule(x: unknown): string | undefined {
	const v = validateSchedule(x);
	return v.ok ? canonicalJson(v.value) : undefined;
}

export function scheduleStatus(s: ShadowView | null, written?: Written): ScheduleStatus {
	if (!s) return { value: 'none' };
	const desired = s.desired?.schedule;
	if (desired !== undefined && desired !== null) return { value: 'waiting', version: s.version };
	const error = s.reported?.scheduleError;
	const reported = canonicalSchedule(s.reported?.schedule);
	if (written && s.version > written.version) {
		if (reported === written.canonical) return { value: 'applied', version: s.version };
		if (error !== undefined && error !== null) return { value: 'refused', version: s.version, reason: typeof error === 'string' ? error : JSON.stringify(error) };
	}
	return { value: 'in-sync', version: s.version };
}
