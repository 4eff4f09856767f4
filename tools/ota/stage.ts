/*
 * A staged firmware rollout with tools/ota's signed jobs: a canary group first, then the
 * rest of the fleet at a rising rate, each stage stopped by the Jobs service itself when
 * its failure rate crosses the threshold (abortConfig), so a bad image reaches as few
 * robots as the threshold allows and the others never receive the job.
 *
 *   1. thing groups `<name>-canary` and `<name>-rest` (static), the robots added;
 *   2. job `<name>-canary` on the canary group, every robot at once, abort when failures
 *      (FAILED, REJECTED, TIMED_OUT) reach `failurePercent` of finished executions;
 *   3. when it COMPLETED with no more failures than that, job `<name>-rest` on the rest with
 *      `restRollout` (exponentialRate by default: 10/min doubling per 50 succeeded, up to
 *      1000/min) and the same abort; if the canary job was aborted, there is no second job.
 * Progress is printed as each job moves; the result says where it stopped and why.
 */
import { AddThingToThingGroupCommand, CreateThingGroupCommand, DescribeJobCommand, type CreateJobCommandInput, type IoTClient } from '@aws-sdk/client-iot';
import { publishFirmware, type PublishOptions } from '../../cloud/ota/publish';

export interface StageOptions extends Omit<PublishOptions, 'things' | 'jobId' | 'rollout'> {
	/** Names the groups and jobs: `<name>-canary`, `<name>-rest`. 1-50 of [a-zA-Z0-9_-]. */
	readonly name: string;
	readonly canary: readonly string[];
	readonly rest: readonly string[];
	/** Failures (of finished executions) at which a stage aborts, 0-100. */
	readonly failurePercent: number;
	/** Finished executions before a stage may abort (default: 1 for the canary, 5 for the rest). */
	readonly minFinished?: { readonly canary?: number; readonly rest?: number };
	readonly restRollout?: CreateJobCommandInput['jobExecutionsRolloutConfig'];
	/** How long each stage may take, and how often it is looked at. */
	readonly stageTimeoutMs?: number;
	readonly pollMs?: number;
	/** A group's ARN; by default the one CreateThingGroup answers. */
	readonly groupArn?: (group: string) => string;
	readonly progress?: (line: string) => void;
}

export interface StageReport {
	readonly jobId: string;
	readonly status: string;
	readonly succeeded: number;
	readonly failed: number;
	readonly comment?: string;
}

export type StageResult =
	{ readonly outcome: 'completed'; readonly canary: StageReport; readonly rest: StageReport } | { readonly outcome: 'aborted'; readonly stage: 'canary' | 'rest'; readonly canary: StageReport; readonly rest?: StageReport };

export const DEFAULT_REST_ROLLOUT = Object.freeze({
	maximumPerMinute: 1000,
	exponentialRate: { baseRatePerMinute: 10, incrementFactor: 2, rateIncreaseCriteria: { numberOfSucceededThings: 50 } },
});

/** What is wrong with a rollout's plan before anything is created (the CLI answers it with exit 2), or undefined. */
export function stagePlanProblem(o: Pick<StageOptions, 'name' | 'canary' | 'rest' | 'failurePercent'>): string | undefined {
	if (!/^[a-zA-Z0-9_-]{1,50}$/.test(o.name)) return '"name" expected 1-50 of [a-zA-Z0-9_-], got ' + JSON.stringify(o.name);
	if (o.canary.length === 0 || o.rest.length === 0) return '"canary" and "rest" expected at least one robot each';
	const both = o.canary.find((t) => o.rest.includes(t));
	if (both !== undefined) return 'a robot is in both "canary" and "rest": ' + both;
	// AWS's thresholdPercentage: 0-100 with at most two decimals
	if (!(o.failurePercent >= 0 && o.failurePercent <= 100) || Math.round(o.failurePercent * 100) !== o.failurePercent * 100) return '"failurePercent" expected 0-100 with at most two decimals, got ' + o.failurePercent;
	return undefined;
}

export async function stagedRollout(o: StageOptions): Promise<StageResult> {
	const problem = stagePlanProblem(o);
	if (problem !== undefined) throw new RangeError(problem);
	const say = o.progress ?? (() => {});
	const abort = (min: number): CreateJobCommandInput['abortConfig'] => ({
		criteriaList: [{ failureType: 'ALL', action: 'CANCEL', thresholdPercentage: o.failurePercent, minNumberOfExecutedThings: min }],
	});

	const groupArns = new Map<string, string>();
	for (const [stage, things] of [
		['canary', o.canary],
		['rest', o.rest],
	] as const) {
		const group = `${o.name}-${stage}`;
		const created = await o.iot.send(new CreateThingGroupCommand({ thingGroupName: group, thingGroupProperties: { thingGroupDescription: `firmware ${o.version}: ${stage}` } }));
		const arn = o.groupArn?.(group) ?? created.thingGroupArn;
		if (!arn) throw new Error('CreateThingGroup ' + group + ' answered without thingGroupArn');
		groupArns.set(group, arn);
		for (const thing of things) await o.iot.send(new AddThingToThingGroupCommand({ thingGroupName: group, thingName: thing }));
		say(`group ${group}: ${things.length} robots`);
	}
	const { name: _name, canary: _c, rest: _r, failurePercent: _f, minFinished: _m, restRollout: _rr, stageTimeoutMs: _t, pollMs: _p, groupArn: _g, progress: _s, ...publish } = o;

	const run = async (stage: 'canary' | 'rest', rollout: PublishOptions['rollout']): Promise<StageReport> => {
		const jobId = `${o.name}-${stage}`;
		await publishFirmware({ ...publish, things: [groupArns.get(jobId)!], jobId, rollout });
		say(`job ${jobId} created`);
		return watch(o.iot, jobId, o.stageTimeoutMs ?? 3_600_000, o.pollMs ?? 5_000, say);
	};
	const canary = await run('canary', { abortConfig: abort(o.minFinished?.canary ?? 1) });
	if (canary.status !== 'COMPLETED') {
		say(`canary ${canary.status}: ${canary.comment ?? ''}; the rest is not touched`);
		return { outcome: 'aborted', stage: 'canary', canary };
	}
	const rest = await run('rest', { jobExecutionsRolloutConfig: o.restRollout ?? DEFAULT_REST_ROLLOUT, abortConfig: abort(o.minFinished?.rest ?? 5) });
	if (rest.status !== 'COMPLETED') {
		say(`rest ${rest.status}: ${rest.comment ?? ''}`);
		return { outcome: 'aborted', stage: 'rest', canary, rest };
	}
	return { outcome: 'completed', canary, rest };
}

/** Polls DescribeJob until the job is COMPLETED or CANCELED, printing its counts as they change. */
async function watch(iot: IoTClient, jobId: string, timeoutMs: number, pollMs: number, say: (l: string) => void): Promise<StageReport> {
	const until = Date.now() + timeoutMs;
	let last = '';
	for (;;) {
		const job = (await iot.send(new DescribeJobCommand({ jobId }))).job;
		if (!job) throw new Error('job ' + jobId + ' is gone');
		const d = job.jobProcessDetails ?? {};
		const failed = (d.numberOfFailedThings ?? 0) + (d.numberOfRejectedThings ?? 0) + (d.numberOfTimedOutThings ?? 0);
		const line = `${jobId}: ${job.status} queued ${d.numberOfQueuedThings ?? 0}, in progress ${d.numberOfInProgressThings ?? 0}, succeeded ${d.numberOfSucceededThings ?? 0}, failed ${failed}`;
		if (line !== last) say((last = line));
		if (job.status === 'COMPLETED' || job.status === 'CANCELED') return { jobId, status: job.status, succeeded: d.numberOfSucceededThings ?? 0, failed, ...(job.comment ? { comment: job.comment } : {}) };
		if (Date.now() > until) throw new Error(`job ${jobId} still ${job.status} after ${timeoutMs} ms`);
		await new Promise((r) => setTimeout(r, pollMs));
	}
}
