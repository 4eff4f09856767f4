/*
 * The state of the local Jobs service and the runner around the pure execution moves:
 * jobs, their executions per thing, the timeout timers, the notify / notify-next messages
 * and persistence. Both planes (HTTP control, MQTT device) call into one JobsRunner.
 *
 * Notifications follow the Jobs device API:
 * - notify-next (NextJobExecutionChanged) when the thing's next pending execution becomes
 *   another one (not when the same one changes details), with `execution`, or without it
 *   when none is left;
 * - notify (JobExecutionsChanged) when an execution joins or leaves the pending list.
 * They are published after the reply of the request that caused them (a microtask later).
 */
import path from 'node:path';
import type { LogFn } from '../log';
import { SnapshotFile } from '../snapshot-file';
import { substitute, type Presign } from './document';
import * as X from './execution';
import type { Execution, StatusDetails } from './execution';
import { ThingGroups, type ThingGroup } from './groups';
import { abortCriterion, advance, startRollout, type AbortConfig, type RolloutConfig, type RolloutProgress } from './rollout';

export type JobStatus = 'IN_PROGRESS' | 'CANCELED' | 'COMPLETED';

export interface JobRecord {
	readonly jobId: string;
	readonly jobArn: string;
	readonly description?: string;
	/** The document as given, placeholders and all. */
	readonly document: string;
	readonly targets: readonly string[];
	readonly thingNames: readonly string[];
	readonly targetSelection: 'SNAPSHOT' | 'CONTINUOUS';
	readonly presignedUrlConfig?: { readonly roleArn?: string; readonly expiresInSec: number };
	readonly timeoutConfig?: { readonly inProgressTimeoutInMinutes?: number };
	/** Things are notified at most this fast (rollout.ts); without it, all at creation. */
	readonly jobExecutionsRolloutConfig?: RolloutConfig;
	readonly abortConfig?: AbortConfig;
	/** Thing groups among the targets: a CONTINUOUS job follows things added to them. */
	readonly groups?: readonly string[];
	readonly status: JobStatus;
	readonly forceCanceled: boolean;
	readonly reasonCode?: string;
	readonly comment?: string;
	readonly createdAt: number;
	readonly lastUpdatedAt: number;
	readonly completedAt?: number;
}

export type ControlErrorType = 'ResourceNotFoundException' | 'InvalidRequestException' | 'ResourceAlreadyExistsException' | 'InvalidStateTransitionException' | 'VersionConflictException';

export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };
export type ControlResult<T> = Result<T, { readonly type: ControlErrorType; readonly message: string }>;

export interface JobsRunnerOptions {
	readonly publish: (topic: string, payload: string) => Promise<void>;
	readonly log: LogFn;
	/** Milliseconds per "minute" of every timeout: 60 000, or less in tests. */
	readonly minuteMs: number;
	readonly presign?: Presign;
	/** Origin of the local S3 endpoint: placeholders may name it in path style. */
	readonly localS3?: string;
	/** Where jobs.json lives; nothing is kept without it. */
	readonly dataDir?: string;
	readonly now?: () => number;
}

/** AWS presignedUrlConfig.expiresInSec: 60..3600, default 3600. */
export const DEFAULT_PRESIGN_EXPIRES_SEC = 3600;

interface Snapshot {
	readonly version: 1;
	readonly seq: number;
	readonly jobs: JobRecord[];
	readonly executions: Execution[];
	readonly groups?: ThingGroup[];
}

export class JobsRunner {
	readonly #o: JobsRunnerOptions;
	readonly #now: () => number;
	readonly #jobs = new Map<string, JobRecord>();
	/** thing -> jobId -> execution */
	readonly #executions = new Map<string, Map<string, Execution>>();
	readonly #timers = new Map<string, NodeJS.Timeout>();
	/** Rollouts under way: their rate and the timer that notifies the next things each minute. */
	readonly #rollouts = new Map<string, { progress: RolloutProgress; succeeded: number; timer: NodeJS.Timeout }>();
	/** Static thing groups, which job targets may name. */
	readonly groups = new ThingGroups();
	#seq = 0;
	#out: Promise<void> = Promise.resolve();
	readonly #store: SnapshotFile<Snapshot> | undefined;
	#closed = false;

	constructor(o: JobsRunnerOptions) {
		this.#o = o;
		this.#now = o.now ?? Date.now;
		this.#store = o.dataDir
			? new SnapshotFile(
					path.join(o.dataDir, 'jobs.json'),
					(): Snapshot => ({
						version: 1,
						seq: this.#seq,
						jobs: this.jobs(),
						executions: [...this.#executions.values()].flatMap((m) => [...m.values()]),
						groups: this.groups.snapshot(),
					}),
					o.log,
					'jobs',
				)
			: undefined;
		this.groups.onAdded((group, thing) => this.#joined(group, thing));
	}

	/** Loads jobs.json from dataDir, if any, and re-arms the timers (overdue ones fire at once). */
	async load(): Promise<void> {
		const snap = await this.#store?.read();
		if (!snap) return;
		this.#seq = snap.seq;
		for (const j of snap.jobs) this.#jobs.set(j.jobId, j);
		for (const e of snap.executions) this.#thing(e.thingName).set(e.jobId, e);
		for (const e of snap.executions) this.#arm(e);
		if (snap.groups) this.groups.restore(snap.groups);
		// a rollout resumes at its base rate with the things it had not notified yet
		for (const j of snap.jobs) if (j.status === 'IN_PROGRESS' && j.jobExecutionsRolloutConfig) this.#startRollout(j);
	}

	// ---- reads ---------------------------------------------------------------------------

	job(jobId: string): JobRecord | undefined {
		return this.#jobs.get(jobId);
	}

	jobs(): JobRecord[] {
		return [...this.#jobs.values()];
	}

	execution(thing: string, jobId: string): Execution | undefined {
		return this.#executions.get(thing)?.get(jobId);
	}

	executionsOfThing(thing: string): Execution[] {
		return [...(this.#executions.get(thing)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
	}

	executionsOfJob(jobId: string): Execution[] {
		const job = this.#jobs.get(jobId);
		return (job?.thingNames ?? []).map((t) => this.execution(t, jobId)).filter((e): e is Execution => e !== undefined);
	}

	pending(thing: string): Execution[] {
		return X.pendingInOrder(this.#executions.get(thing)?.values() ?? []);
	}

	next(thing: string): Execution | undefined {
		return this.pending(thing)[0];
	}

	/** The job document as a device gets it: parsed, with fresh presigned URLs. */
	async deviceDocument(jobId: string): Promise<unknown> {
		const job = this.#jobs.get(jobId);
		if (!job) return undefined;
		if (!this.#o.presign) return JSON.parse(job.document) as unknown;
		return substitute(job.document, this.#o.presign, job.presignedUrlConfig?.expiresInSec ?? DEFAULT_PRESIGN_EXPIRES_SEC, this.#o.localS3);
	}

	/** AWS JobExecution as the MQTT API gives it (times in epoch seconds). */
	async deviceExecution(e: Execution, includeJobDocument: boolean): Promise<Record<string, unknown>> {
		const out: Record<string, unknown> = { jobId: e.jobId, thingName: e.thingName, status: e.status, statusDetails: e.statusDetails, ...executionSummary(e) };
		const left = this.secondsBeforeTimedOut(e);
		if (left !== undefined) out.approximateSecondsBeforeTimedOut = left;
		if (includeJobDocument) out.jobDocument = await this.deviceDocument(e.jobId);
		return out;
	}

	secondsBeforeTimedOut(e: Execution): number | undefined {
		const due = X.deadline(e);
		return due === undefined ? undefined : Math.max(0, Math.round((due - this.#now()) / 1000));
	}

	// ---- control plane -------------------------------------------------------------------

	createJob(input: Omit<JobRecord, 'status' | 'forceCanceled' | 'createdAt' | 'lastUpdatedAt'>): ControlResult<JobRecord> {
		if (this.#jobs.has(input.jobId)) return controlError('ResourceAlreadyExistsException', `job ${input.jobId} already exists`);
		const now = this.#now();
		const job: JobRecord = { ...input, status: 'IN_PROGRESS', forceCanceled: false, createdAt: now, lastUpdatedAt: now };
		this.#o.log({
			level: 'info',
			event: 'jobs.created',
			jobId: job.jobId,
			things: job.thingNames,
			...(job.jobExecutionsRolloutConfig ? { rollout: job.jobExecutionsRolloutConfig } : {}),
		});
		if (job.jobExecutionsRolloutConfig) {
			this.#jobs.set(job.jobId, job);
			this.#startRollout(job);
			return { ok: true, value: job };
		}
		this.#change(job.thingNames, () => {
			this.#jobs.set(job.jobId, job);
			for (const thing of job.thingNames) this.#thing(thing).set(job.jobId, X.queued(job.jobId, thing, now, ++this.#seq));
		});
		return { ok: true, value: job };
	}

	/** CancelJob: QUEUED executions are canceled, IN_PROGRESS ones too with force. */
	cancelJob(jobId: string, force: boolean, reasonCode?: string, comment?: string): ControlResult<JobRecord> {
		const job = this.#jobs.get(jobId);
		if (!job) return controlError('ResourceNotFoundException', `job ${jobId} not found`);
		if (job.status === 'COMPLETED') return controlError('InvalidStateTransitionException', `job ${jobId} is COMPLETED and cannot be canceled`);
		const now = this.#now();
		this.#change(job.thingNames, () => {
			this.#jobs.set(jobId, {
				...job,
				status: 'CANCELED',
				forceCanceled: job.forceCanceled || force,
				...(reasonCode !== undefined ? { reasonCode } : {}),
				...(comment !== undefined ? { comment } : {}),
				lastUpdatedAt: now,
			});
			for (const e of this.executionsOfJob(jobId)) {
				const step = X.cancel(e, force, now);
				if (step.ok) this.#put(step.execution);
			}
		});
		this.#o.log({ level: 'info', event: 'jobs.canceled', jobId, force });
		return { ok: true, value: this.#jobs.get(jobId)! };
	}

	/** DeleteJob: pending executions are REMOVED; IN_PROGRESS ones need force. */
	deleteJob(jobId: string, force: boolean): ControlResult<void> {
		const job = this.#jobs.get(jobId);
		if (!job) return controlError('ResourceNotFoundException', `job ${jobId} not found`);
		const executions = this.executionsOfJob(jobId);
		if (!force && executions.some((e) => e.status === 'IN_PROGRESS')) {
			return controlError('InvalidStateTransitionException', `job ${jobId} has executions IN_PROGRESS; delete it with force`);
		}
		this.#stopRollout(jobId);
		this.#change(job.thingNames, () => {
			this.#jobs.delete(jobId);
			for (const e of executions) this.#executions.get(e.thingName)?.delete(jobId);
		});
		this.#o.log({ level: 'info', event: 'jobs.deleted', jobId, force });
		return { ok: true, value: undefined };
	}

	/** CancelJobExecution: one thing's execution. */
	cancelExecution(thing: string, jobId: string, force: boolean, expectedVersion?: number, statusDetails?: StatusDetails): ControlResult<void> {
		const e = this.execution(thing, jobId);
		if (!e) return controlError('ResourceNotFoundException', `no execution of job ${jobId} on thing ${thing}`);
		const step = X.cancel(e, force, this.#now(), { ...(expectedVersion !== undefined ? { expectedVersion } : {}), ...(statusDetails ? { statusDetails } : {}) });
		if (!step.ok) return controlError(step.error.code === 'VersionMismatch' ? 'VersionConflictException' : 'InvalidStateTransitionException', step.error.message);
		this.#change([thing], () => this.#put(step.execution));
		return { ok: true, value: undefined };
	}

	// ---- device plane --------------------------------------------------------------------

	/** StartNextPendingJobExecution: the next pending execution, QUEUED ones set IN_PROGRESS. */
	startNext(thing: string, statusDetails?: StatusDetails, stepTimeoutInMinutes?: number): Execution | undefined {
		const e = this.next(thing);
		if (!e || e.status === 'IN_PROGRESS') return e;
		const step = this.#deviceStep(e, {
			status: 'IN_PROGRESS',
			...(statusDetails ? { statusDetails } : {}),
			...(stepTimeoutInMinutes !== undefined ? { stepTimeoutInMinutes } : {}),
		});
		return step.ok ? step.execution : e;
	}

	/** UpdateJobExecution. The caller found the execution (ResourceNotFound otherwise). */
	update(e: Execution, u: X.DeviceUpdate): X.Step {
		return this.#deviceStep(e, u);
	}

	#deviceStep(e: Execution, u: X.DeviceUpdate): X.Step {
		const job = this.#jobs.get(e.jobId);
		const timeout = job?.timeoutConfig?.inProgressTimeoutInMinutes;
		const step = X.deviceUpdate(e, u, this.#now(), { minuteMs: this.#o.minuteMs, ...(timeout !== undefined ? { inProgressTimeoutInMinutes: timeout } : {}) });
		if (step.ok) this.#change([e.thingName], () => this.#put(step.execution));
		return step;
	}

	// ---- runner --------------------------------------------------------------------------

	/** Publishes in order with every other message of the service; resolves when sent. */
	emit(topic: string, body: () => Promise<unknown> | unknown): Promise<void> {
		const sent = this.#out.then(async () => {
			if (this.#closed) return;
			await this.#o.publish(topic, JSON.stringify(await body()));
		});
		this.#out = sent.catch((e: unknown) => this.#o.log({ level: 'error', event: 'jobs.publish.failed', topic, error: String(e) }));
		return this.#out;
	}

	async close(): Promise<void> {
		this.#closed = true;
		for (const t of this.#timers.values()) clearTimeout(t);
		this.#timers.clear();
		for (const id of [...this.#rollouts.keys()]) this.#stopRollout(id);
		await this.#out;
		await this.#store?.settled();
	}

	/** Applies `fn`, then notifies the things whose pending list or next execution changed. */
	#change(things: Iterable<string>, fn: () => void): void {
		const names = [...new Set(things)];
		const before = new Map(names.map((t) => [t, this.#view(t)] as const));
		fn();
		this.#settleJobs();
		this.#checkAborts();
		const now = this.#now();
		for (const thing of names) {
			const was = before.get(thing)!;
			const is = this.#view(thing);
			for (const e of this.#executions.get(thing)?.values() ?? []) this.#arm(e);
			queueMicrotask(() => {
				if (is.next !== was.next) {
					const next = this.next(thing);
					this.emit(`$aws/things/${thing}/jobs/notify-next`, async () => (next ? { timestamp: seconds(now), execution: await this.deviceExecution(next, true) } : { timestamp: seconds(now) }));
				}
				if (is.pending !== was.pending) this.emit(`$aws/things/${thing}/jobs/notify`, () => this.#notifyBody(thing, now));
			});
		}
		this.#save();
	}

	#view(thing: string): { next: string | undefined; pending: string } {
		const pending = this.pending(thing);
		return {
			next: pending[0]?.jobId,
			pending: pending
				.map((e) => e.jobId)
				.sort()
				.join('\n'),
		};
	}

	#notifyBody(thing: string, now: number): unknown {
		const jobs: Record<string, unknown[]> = {};
		for (const e of this.pending(thing)) {
			(jobs[e.status] ??= []).push(executionSummary(e));
		}
		return { timestamp: seconds(now), jobs };
	}

	/** A SNAPSHOT job whose executions are all terminal is COMPLETED. */
	#settleJobs(): void {
		const now = this.#now();
		for (const job of this.#jobs.values()) {
			if (job.status !== 'IN_PROGRESS' || job.targetSelection !== 'SNAPSHOT') continue;
			const executions = this.executionsOfJob(job.jobId);
			// a rollout is not done while things are still to be notified
			if (executions.length === job.thingNames.length && executions.every((e) => X.isTerminal(e.status))) {
				this.#jobs.set(job.jobId, { ...job, status: 'COMPLETED', completedAt: now, lastUpdatedAt: now });
				this.#o.log({ level: 'info', event: 'jobs.completed', jobId: job.jobId });
			}
		}
	}

	/** AbortConfig: a job whose finished executions meet a criterion is canceled (a microtask later, outside the change). */
	#checkAborts(): void {
		for (const job of this.#jobs.values()) {
			if (job.status !== 'IN_PROGRESS' || !job.abortConfig) continue;
			const finished: Record<string, number> = {};
			for (const e of this.executionsOfJob(job.jobId)) if (X.isTerminal(e.status)) finished[e.status] = (finished[e.status] ?? 0) + 1;
			const c = abortCriterion(job.abortConfig, finished);
			if (!c) continue;
			queueMicrotask(() => {
				if (this.#jobs.get(job.jobId)?.status !== 'IN_PROGRESS') return;
				this.#stopRollout(job.jobId);
				const comment = `aborted: ${c.failureType} reached ${c.thresholdPercentage}% of ${Object.values(finished).reduce((a, b) => a + b, 0)} finished executions (minimum ${c.minNumberOfExecutedThings})`;
				this.#o.log({
					level: 'warn',
					event: 'jobs.aborted',
					jobId: job.jobId,
					failureType: c.failureType,
					thresholdPercentage: c.thresholdPercentage,
					finished,
					notNotified: job.thingNames.length - this.executionsOfJob(job.jobId).length,
				});
				this.cancelJob(job.jobId, false, undefined, comment);
			});
		}
	}

	#startRollout(job: JobRecord): void {
		const config = job.jobExecutionsRolloutConfig!;
		const timer = setInterval(() => this.#release(job.jobId), this.#o.minuteMs);
		timer.unref();
		this.#rollouts.set(job.jobId, { progress: startRollout(config), succeeded: 0, timer });
		this.#release(job.jobId);
	}

	#stopRollout(jobId: string): void {
		const r = this.#rollouts.get(jobId);
		if (r) clearInterval(r.timer);
		this.#rollouts.delete(jobId);
	}

	/** One minute of a rollout: the next things (up to the rate) get their execution and are notified. */
	#release(jobId: string): void {
		const job = this.#jobs.get(jobId);
		const r = this.#rollouts.get(jobId);
		if (!job || !r || job.status !== 'IN_PROGRESS' || this.#closed) return this.#stopRollout(jobId);
		const have = new Set(this.executionsOfJob(jobId).map((e) => e.thingName));
		const waiting = job.thingNames.filter((t) => !have.has(t));
		const batch = waiting.slice(0, r.progress.ratePerMinute);
		const now = this.#now();
		if (batch.length > 0) this.#change(batch, () => batch.forEach((t) => this.#thing(t).set(jobId, X.queued(jobId, t, now, ++this.#seq))));
		const succeeded = this.executionsOfJob(jobId).filter((e) => e.status === 'SUCCEEDED').length;
		r.progress = advance(job.jobExecutionsRolloutConfig!, r.progress, batch.length, succeeded - r.succeeded);
		r.succeeded = succeeded;
		this.#o.log({ level: 'info', event: 'jobs.rollout.notified', jobId, things: batch, ratePerMinute: r.progress.ratePerMinute, waiting: waiting.length - batch.length });
		// a CONTINUOUS job keeps its timer: things may still join its groups
		if (waiting.length === batch.length && job.targetSelection === 'SNAPSHOT') this.#stopRollout(jobId);
	}

	/** A thing joined a group: CONTINUOUS jobs on that group now target it too. */
	#joined(group: string, thing: string): void {
		this.#save();
		for (const job of this.#jobs.values()) {
			if (job.status !== 'IN_PROGRESS' || job.targetSelection !== 'CONTINUOUS' || !job.groups?.includes(group) || job.thingNames.includes(thing)) continue;
			const updated: JobRecord = { ...job, thingNames: [...job.thingNames, thing], lastUpdatedAt: this.#now() };
			if (job.jobExecutionsRolloutConfig) {
				this.#jobs.set(job.jobId, updated);
				if (!this.#rollouts.has(job.jobId)) this.#startRollout(updated);
				continue;
			}
			const now = this.#now();
			this.#change([thing], () => {
				this.#jobs.set(job.jobId, updated);
				this.#thing(thing).set(job.jobId, X.queued(job.jobId, thing, now, ++this.#seq));
			});
		}
	}

	#arm(e: Execution): void {
		const key = e.thingName + '\n' + e.jobId;
		const old = this.#timers.get(key);
		if (old) clearTimeout(old);
		this.#timers.delete(key);
		const due = X.deadline(e);
		if (due === undefined || this.#closed) return;
		const timer = setTimeout(
			() => {
				this.#timers.delete(key);
				const current = this.execution(e.thingName, e.jobId);
				const timedOut = current && X.timeOut(current, this.#now());
				if (!timedOut) return;
				this.#o.log({ level: 'info', event: 'jobs.execution.timed_out', jobId: e.jobId, thing: e.thingName });
				this.#change([e.thingName], () => this.#put(timedOut));
			},
			Math.max(0, due - this.#now()),
		);
		timer.unref();
		this.#timers.set(key, timer);
	}

	#put(e: Execution): void {
		this.#thing(e.thingName).set(e.jobId, e);
	}

	#thing(thing: string): Map<string, Execution> {
		let m = this.#executions.get(thing);
		if (!m) this.#executions.set(thing, (m = new Map()));
		return m;
	}

	#save(): void {
		this.#store?.save();
	}
}

export function seconds(ms: number): number {
	return Math.floor(ms / 1000);
}

/** AWS JobExecutionSummary as the MQTT API gives it (get-pending lists, notify): times in epoch seconds. */
export function executionSummary(e: Execution): Record<string, unknown> {
	return {
		jobId: e.jobId,
		queuedAt: seconds(e.queuedAt),
		...(e.startedAt !== undefined ? { startedAt: seconds(e.startedAt) } : {}),
		lastUpdatedAt: seconds(e.lastUpdatedAt),
		versionNumber: e.versionNumber,
		executionNumber: e.executionNumber,
	};
}

function controlError(type: ControlErrorType, message: string): { ok: false; error: { type: ControlErrorType; message: string } } {
	return { ok: false, error: { type, message } };
}
