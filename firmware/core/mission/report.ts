/*
 * The mission report: the product's memory of what the robot did. One shape,
 * checked by one function, on both ends: the robot checks what it sends and the
 * cloud's handler checks what it stores (cloud/functions/mission-report).
 *
 * It travels on the Basic Ingest topic (no messaging charge) at QoS 1:
 *   $aws/rules/mission_report/robots/{thing}/missions/{missionId}/report
 */
import { err, ok, type Result } from '../util/result';
import { isThingName } from '../contracts/thing';
import { pattern } from '../util/pattern';

export const REPORT_VERSION = 1;
/** One AWS IoT billing unit is 5 KB; a report stays inside one. */
export const MAX_REPORT_BYTES = 4096;
export const MAX_ERRORS = 16;
/** The longest mission a report states (7 days); see reportOf in machine.ts for a longer one. */
export const MAX_DURATION_S = 7 * 86400;
export const REPORT_RULE = 'mission_report';

export const TRIGGERS = Object.freeze(['schedule', 'button', 'app'] as const);
export type Trigger = (typeof TRIGGERS)[number];

/**
 * finished: docked after cleaning; failed: stopped by an error it could not clear;
 * cancelled: stopped by a person; interrupted: power was lost during it (reported at
 * the next boot, from what was persisted).
 */
export const OUTCOMES = Object.freeze(['finished', 'failed', 'cancelled', 'interrupted'] as const);
export type Outcome = (typeof OUTCOMES)[number];

export interface MissionError {
	readonly code: string;
	/** Seconds since the mission started; at most MAX_DURATION_S. */
	readonly atS: number;
}

export interface MissionReport {
	readonly v: typeof REPORT_VERSION;
	readonly missionId: string;
	readonly thing: string;
	readonly trigger: Trigger;
	/** The schedule entry that started it, for trigger "schedule". */
	readonly entryId?: string;
	/** Epoch ms; null when the robot's clock was unknown. */
	readonly startedAt: number | null;
	readonly endedAt: number | null;
	/** Measured on the monotonic clock, so right even when the wall clock was not; at most MAX_DURATION_S. */
	readonly durationS: number;
	readonly outcome: Outcome;
	readonly areaM2: number;
	readonly battery: { readonly start: number; readonly end: number };
	readonly errors: readonly MissionError[];
	/** Whether a map of this mission is on its way (it arrives through its own upload). */
	readonly map: 'pending' | 'none';
}

export const MISSION_ID = pattern(() => /^m-[0-9a-z]{1,12}$/);
const CODE = pattern(() => /^[a-z0-9_.-]{1,32}$/);
const KEYS = Object.freeze(['v', 'missionId', 'thing', 'trigger', 'entryId', 'startedAt', 'endedAt', 'durationS', 'outcome', 'areaM2', 'battery', 'errors', 'map']);

export function reportTopic(thing: string, missionId: string): string {
	return '$aws/rules/' + REPORT_RULE + '/robots/' + thing + '/missions/' + missionId + '/report';
}

function isObj(x: unknown): x is Record<string, unknown> {
	return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const num = (x: unknown, min: number, max: number) => typeof x === 'number' && Number.isFinite(x) && x >= min && x <= max;
const time = (x: unknown) => x === null || (typeof x === 'number' && Number.isInteger(x) && x > 1_500_000_000_000 && x < 4_000_000_000_000);

/** Checks an untrusted report; every problem is named with its field. */
export function validateReport(x: unknown): Result<MissionReport, string[]> {
	const e: string[] = [];
	if (!isObj(x)) return err(['report: expected an object']);
	for (const k of Object.keys(x)) if (KEYS.indexOf(k) < 0) e.push(k + ': unknown field');
	if (x.v !== REPORT_VERSION) e.push('v: expected ' + REPORT_VERSION + ', got ' + JSON.stringify(x.v));
	if (typeof x.missionId !== 'string' || !MISSION_ID.test(x.missionId)) e.push('missionId: expected m-<1..12 of [0-9a-z]>, got ' + JSON.stringify(x.missionId));
	if (!isThingName(x.thing)) e.push('thing: expected a thing name, got ' + JSON.stringify(x.thing));
	if (TRIGGERS.indexOf(x.trigger as Trigger) < 0) e.push('trigger: expected one of ' + TRIGGERS.join(', ') + ', got ' + JSON.stringify(x.trigger));
	if (x.entryId !== undefined && (typeof x.entryId !== 'string' || !/^[a-z0-9-]{1,32}$/.test(x.entryId))) e.push('entryId: expected 1..32 of [a-z0-9-]');
	if (!time(x.startedAt)) e.push('startedAt: expected epoch ms or null');
	if (!time(x.endedAt)) e.push('endedAt: expected epoch ms or null');
	if (typeof x.startedAt === 'number' && typeof x.endedAt === 'number' && x.endedAt < x.startedAt) e.push('endedAt: before startedAt');
	if (!num(x.durationS, 0, MAX_DURATION_S) || !Number.isInteger(x.durationS)) e.push('durationS: expected whole seconds 0..' + MAX_DURATION_S);
	if (OUTCOMES.indexOf(x.outcome as Outcome) < 0) e.push('outcome: expected one of ' + OUTCOMES.join(', ') + ', got ' + JSON.stringify(x.outcome));
	if (!num(x.areaM2, 0, 10_000)) e.push('areaM2: expected 0..10000');
	if (!isObj(x.battery) || !num(x.battery.start, 0, 100) || !num(x.battery.end, 0, 100) || Object.keys(x.battery).length !== 2) e.push('battery: expected { start, end } in percent');
	if (!Array.isArray(x.errors) || x.errors.length > MAX_ERRORS) e.push('errors: expected at most ' + MAX_ERRORS + ' entries');
	else
		x.errors.forEach((m, i) => {
			if (!isObj(m) || typeof m.code !== 'string' || !CODE.test(m.code) || !num(m.atS, 0, MAX_DURATION_S) || Object.keys(m).length !== 2) e.push('errors[' + i + ']: expected { code, atS }');
		});
	if (x.map !== 'pending' && x.map !== 'none') e.push('map: expected "pending" or "none"');
	return e.length ? err(e) : ok(x as unknown as MissionReport);
}
