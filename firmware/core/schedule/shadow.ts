/* The schedule as the value the shadow sync reconciles (../shadow/reconcile.ts). */
import type { Json } from '../shadow/client';
import type { Codec } from '../shadow/reconcile';
import { canonicalJson, sameSchedule, validateSchedule, type Schedule } from './model';

export const SCHEDULE_SHADOW = 'schedule';

/** What a robot fresh from the factory runs: nothing scheduled, UTC. */
export const EMPTY_SCHEDULE: Schedule = Object.freeze({ tz: 'UTC0', entries: Object.freeze([]) });

export const scheduleCodec: Codec<Schedule> = Object.freeze({
	key: 'schedule',
	validate(x: unknown) {
		const r = validateSchedule(x);
		if (r.ok) return r;
		// one line a person reads in the app: every error with its path, at most five
		const text = r.error
			.slice(0, 5)
			.map((e) => e.path + ': ' + e.message)
			.join('; ');
		return { ok: false as const, error: text + (r.error.length > 5 ? '; and ' + (r.error.length - 5) + ' more' : '') };
	},
	equal: sameSchedule,
	toJson: (s: Schedule) => JSON.parse(canonicalJson(s)) as Json,
});
