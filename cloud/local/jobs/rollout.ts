/*
 * Staged rollouts and abort criteria of AWS IoT Jobs, as the developer guide ("Job rollout
 * and abort configuration") and the API reference (JobExecutionsRolloutConfig,
 * ExponentialRolloutRate, RateIncreaseCriteria, AbortConfig, AbortCriteria) describe them:
 *
 * - `maximumPerMinute` (1-1000, default 1000): at most this many things are notified of the
 *   job per minute;
 * - `exponentialRate` { baseRatePerMinute (1-1000), incrementFactor (1.1-5, one decimal),
 *   rateIncreaseCriteria { numberOfNotifiedThings | numberOfSucceededThings } (1-1000, one of
 *   them) }: the job starts at the base rate; each time that many more things were notified
 *   (or succeeded) since the last increase, the rate is multiplied by the factor, never above
 *   maximumPerMinute (required with exponentialRate);
 * - `abortConfig.criteriaList[]` { failureType FAILED | REJECTED | TIMED_OUT | ALL, action
 *   CANCEL, thresholdPercentage (<= 100, two decimals), minNumberOfExecutedThings (>= 1) }:
 *   once at least minNumberOfExecutedThings executions have finished, the job is canceled
 *   when the failures of that type reach the threshold percentage of them. A canceled job's
 *   queued executions are canceled and things not yet notified never get one; executions in
 *   progress finish (CancelJob without force).
 * Pure functions: the jobs runner (runner.ts) keeps the state and runs the timers.
 */

export interface ExponentialRate {
	readonly baseRatePerMinute: number;
	readonly incrementFactor: number;
	readonly rateIncreaseCriteria: { readonly numberOfNotifiedThings: number } | { readonly numberOfSucceededThings: number };
}

export interface RolloutConfig {
	readonly maximumPerMinute: number;
	readonly exponentialRate?: ExponentialRate;
}

export type FailureType = 'FAILED' | 'REJECTED' | 'TIMED_OUT' | 'ALL';

export interface AbortCriteria {
	readonly failureType: FailureType;
	readonly action: 'CANCEL';
	readonly thresholdPercentage: number;
	readonly minNumberOfExecutedThings: number;
}

export interface AbortConfig {
	readonly criteriaList: readonly AbortCriteria[];
}

/** Where a rollout stands: its rate now and what counted toward the next increase. */
export interface RolloutProgress {
	readonly ratePerMinute: number;
	readonly notifiedSinceIncrease: number;
	readonly succeededSinceIncrease: number;
}

export class ConfigError extends Error {}

const isInt = (v: unknown, lo: number, hi: number): v is number => Number.isSafeInteger(v) && (v as number) >= lo && (v as number) <= hi;
const decimals = (v: number, n: number) => Math.abs(Math.round(v * 10 ** n) - v * 10 ** n) < 1e-9;

function object(v: unknown, name: string): Record<string, unknown> {
	if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(name + ' expected an object');
	return v as Record<string, unknown>;
}

/** JobExecutionsRolloutConfig as CreateJob takes it; throws ConfigError naming the field. */
export function parseRollout(v: unknown): RolloutConfig {
	const o = object(v, 'jobExecutionsRolloutConfig');
	const max = o.maximumPerMinute ?? 1000;
	if (!isInt(max, 1, 1000)) throw new ConfigError('jobExecutionsRolloutConfig.maximumPerMinute expected an integer 1-1000, got ' + JSON.stringify(o.maximumPerMinute));
	if (o.exponentialRate === undefined) return { maximumPerMinute: max };
	if (o.maximumPerMinute === undefined) throw new ConfigError('jobExecutionsRolloutConfig.maximumPerMinute is required with exponentialRate');
	const e = object(o.exponentialRate, 'jobExecutionsRolloutConfig.exponentialRate');
	if (!isInt(e.baseRatePerMinute, 1, 1000)) throw new ConfigError('exponentialRate.baseRatePerMinute expected an integer 1-1000, got ' + JSON.stringify(e.baseRatePerMinute));
	const f = e.incrementFactor;
	if (typeof f !== 'number' || f < 1.1 || f > 5 || !decimals(f, 1)) throw new ConfigError('exponentialRate.incrementFactor expected 1.1-5 with one decimal, got ' + JSON.stringify(f));
	const c = object(e.rateIncreaseCriteria, 'exponentialRate.rateIncreaseCriteria');
	const notified = c.numberOfNotifiedThings;
	const succeeded = c.numberOfSucceededThings;
	if ((notified === undefined) === (succeeded === undefined)) throw new ConfigError('rateIncreaseCriteria expected one of numberOfNotifiedThings or numberOfSucceededThings');
	const n = notified ?? succeeded;
	if (!isInt(n, 1, 1000)) throw new ConfigError('rateIncreaseCriteria expected a number of things 1-1000, got ' + JSON.stringify(n));
	return {
		maximumPerMinute: max,
		exponentialRate: {
			baseRatePerMinute: e.baseRatePerMinute as number,
			incrementFactor: f,
			rateIncreaseCriteria: notified !== undefined ? { numberOfNotifiedThings: n } : { numberOfSucceededThings: n },
		},
	};
}

/** AbortConfig as CreateJob takes it; throws ConfigError naming the field. */
export function parseAbort(v: unknown): AbortConfig {
	const o = object(v, 'abortConfig');
	if (!Array.isArray(o.criteriaList) || o.criteriaList.length === 0) throw new ConfigError('abortConfig.criteriaList expected at least one criterion');
	return {
		criteriaList: o.criteriaList.map((x, i) => {
			const c = object(x, `abortConfig.criteriaList[${i}]`);
			if (c.failureType !== 'FAILED' && c.failureType !== 'REJECTED' && c.failureType !== 'TIMED_OUT' && c.failureType !== 'ALL')
				throw new ConfigError(`criteriaList[${i}].failureType expected FAILED, REJECTED, TIMED_OUT or ALL, got ${JSON.stringify(c.failureType)}`);
			if (c.action !== 'CANCEL') throw new ConfigError(`criteriaList[${i}].action expected CANCEL, got ${JSON.stringify(c.action)}`);
			const t = c.thresholdPercentage;
			if (typeof t !== 'number' || t < 0 || t > 100 || !decimals(t, 2)) throw new ConfigError(`criteriaList[${i}].thresholdPercentage expected 0-100 with at most two decimals, got ${JSON.stringify(t)}`);
			if (!isInt(c.minNumberOfExecutedThings, 1, Number.MAX_SAFE_INTEGER)) throw new ConfigError(`criteriaList[${i}].minNumberOfExecutedThings expected an integer >= 1, got ${JSON.stringify(c.minNumberOfExecutedThings)}`);
			return { failureType: c.failureType, action: 'CANCEL', thresholdPercentage: t, minNumberOfExecutedThings: c.minNumberOfExecutedThings as number };
		}),
	};
}

export function startRollout(r: RolloutConfig): RolloutProgress {
	return {
		ratePerMinute: r.exponentialRate ? Math.min(r.exponentialRate.baseRatePerMinute, r.maximumPerMinute) : r.maximumPerMinute,
		notifiedSinceIncrease: 0,
		succeededSinceIncrease: 0,
	};
}

/** After `notified` more things were notified and `succeeded` more succeeded: the progress, the rate raised when its criterion is met. */
export function advance(r: RolloutConfig, p: RolloutProgress, notified: number, succeeded: number): RolloutProgress {
	let next = { ...p, notifiedSinceIncrease: p.notifiedSinceIncrease + notified, succeededSinceIncrease: p.succeededSinceIncrease + succeeded };
	const e = r.exponentialRate;
	if (!e) return next;
	const c = e.rateIncreaseCriteria;
	const [have, need] = 'numberOfNotifiedThings' in c ? [next.notifiedSinceIncrease, c.numberOfNotifiedThings] : [next.succeededSinceIncrease, c.numberOfSucceededThings];
	if (have >= need && next.ratePerMinute < r.maximumPerMinute) next = { ratePerMinute: Math.min(r.maximumPerMinute, Math.ceil(next.ratePerMinute * e.incrementFactor)), notifiedSinceIncrease: 0, succeededSinceIncrease: 0 };
	return next;
}

/** The criterion that aborts the job, given the terminal executions by status, or undefined. */
export function abortCriterion(a: AbortConfig, finished: Readonly<Record<string, number>>): AbortCriteria | undefined {
	const executed = Object.values(finished).reduce((s, n) => s + n, 0);
	const failed = (t: FailureType) => (t === 'ALL' ? (finished.FAILED ?? 0) + (finished.REJECTED ?? 0) + (finished.TIMED_OUT ?? 0) : (finished[t] ?? 0));
	return a.criteriaList.find((c) => executed >= c.minNumberOfExecutedThings && (100 * failed(c.failureType)) / executed >= c.thresholdPercentage);
}
