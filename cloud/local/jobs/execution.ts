/*
 * One job execution (one job on one thing) and the moves the AWS IoT Jobs service allows it,
 * as pure functions: the service performs the effects (publish, timers, persistence).
 *
 * Statuses and transitions follow the Jobs developer guide ("Job execution states"):
 *   QUEUED      -> IN_PROGRESS | SUCCEEDED | FAILED | REJECTED    (device)
 *   IN_PROGRESS -> IN_PROGRESS | SUCCEEDED | FAILED | REJECTED    (device; IN_PROGRESS again
 *                                                                  updates details, resets the step timer)
 *   QUEUED      -> CANCELED                                       (CancelJob / CancelJobExecution)
 *   IN_PROGRESS -> CANCELED                                       (only with force)
 *   IN_PROGRESS -> TIMED_OUT                                      (in-progress or step timer)
 * Terminal statuses never change again. Every change increments versionNumber.
 */

export type ExecutionStatus = 'QUEUED' | 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'REJECTED' | 'TIMED_OUT' | 'CANCELED' | 'REMOVED';

/** What a device may set with UpdateJobExecution. */
export type DeviceStatus = 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'REJECTED';

export const DEVICE_STATUSES: ReadonlySet<string> = Object.freeze(new Set(['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED']));

export type StatusDetails = Readonly<Record<string, string>>;

export interface Execution {
	readonly jobId: string;
	readonly thingName: string;
	readonly status: ExecutionStatus;
	readonly statusDetails: StatusDetails;
	/** Milliseconds since the epoch, like every time here; the planes convert. */
	readonly queuedAt: number;
	readonly startedAt?: number;
	readonly lastUpdatedAt: number;
	readonly versionNumber: number;
	readonly executionNumber: number;
	readonly forceCanceled: boolean;
	/** The job's timeoutConfig timer, armed when the execution first goes IN_PROGRESS. */
	readonly inProgressDeadline?: number;
	/** The device's stepTimeoutInMinutes timer. */
	readonly stepDeadline?: number;
	/** Queueing order across all jobs: the next pending execution is the oldest. */
	readonly seq: number;
}

export type ExecutionFailure = { readonly code: 'InvalidStateTransition'; readonly message: string } | { readonly code: 'VersionMismatch'; readonly message: string } | { readonly code: 'InvalidRequest'; readonly message: string };

export type Step = { readonly ok: true; readonly execution: Execution } | { readonly ok: false; readonly error: ExecutionFailure };

/** Milliseconds per timer setting: `minuteMs` is 60 000 except in tests that scale time. */
export interface Timing {
	readonly minuteMs: number;
	/** The job's timeoutConfig.inProgressTimeoutInMinutes, if any. */
	readonly inProgressTimeoutInMinutes?: number;
}

/** AWS: stepTimeoutInMinutes 1..10080; -1 cancels the current step timer (update only). */
export const MAX_TIMEOUT_MINUTES = 10080;

export function isTerminal(status: ExecutionStatus): boolean {
	return status !== 'QUEUED' && status !== 'IN_PROGRESS';
}

export function queued(jobId: string, thingName: string, now: number, seq: number): Execution {
	return { jobId, thingName, status: 'QUEUED', statusDetails: {}, queuedAt: now, lastUpdatedAt: now, versionNumber: 1, executionNumber: 1, forceCanceled: false, seq };
}

export interface DeviceUpdate {
	readonly status: DeviceStatus;
	readonly statusDetails?: StatusDetails;
	readonly expectedVersion?: number;
	/** Already validated: 1..10080, or -1 to cancel the step timer. */
	readonly stepTimeoutInMinutes?: number;
}

/** UpdateJobExecution from the device (also what StartNextPendingJobExecution does with IN_PROGRESS). */
export function deviceUpdate(e: Execution, u: DeviceUpdate, now: number, t: Timing): Step {
	if (u.expectedVersion !== undefined && u.expectedVersion !== e.versionNumber) {
		return fail('VersionMismatch', `expectedVersion ${u.expectedVersion} does not match the current version ${e.versionNumber}`);
	}
	if (isTerminal(e.status)) {
		return fail('InvalidStateTransition', `the job execution is ${e.status}, a terminal state; it cannot become ${u.status}`);
	}
	const startedAt = e.startedAt ?? (u.status === 'IN_PROGRESS' ? now : undefined);
	let inProgressDeadline = e.inProgressDeadline;
	let stepDeadline = e.stepDeadline;
	if (u.status === 'IN_PROGRESS') {
		if (e.status === 'QUEUED' && t.inProgressTimeoutInMinutes !== undefined) inProgressDeadline = now + t.inProgressTimeoutInMinutes * t.minuteMs;
		if (u.stepTimeoutInMinutes === -1) stepDeadline = undefined;
		else if (u.stepTimeoutInMinutes !== undefined) stepDeadline = now + u.stepTimeoutInMinutes * t.minuteMs;
	} else {
		inProgressDeadline = undefined;
		stepDeadline = undefined;
	}
	return ok({
		...e,
		status: u.status,
		statusDetails: u.statusDetails ?? e.statusDetails,
		...(startedAt !== undefined ? { startedAt } : {}),
		lastUpdatedAt: now,
		versionNumber: e.versionNumber + 1,
		inProgressDeadline,
		stepDeadline,
	});
}

/** CancelJob and CancelJobExecution: an IN_PROGRESS execution is canceled only with force. */
export function cancel(e: Execution, force: boolean, now: number, opts: { expectedVersion?: number; statusDetails?: StatusDetails } = {}): Step {
	if (isTerminal(e.status)) return fail('InvalidStateTransition', `the job execution is already ${e.status}`);
	if (e.status === 'IN_PROGRESS' && !force) return fail('InvalidStateTransition', 'the job execution is IN_PROGRESS; cancel it with force');
	if (opts.expectedVersion !== undefined && opts.expectedVersion !== e.versionNumber) {
		return fail('VersionMismatch', `expectedVersion ${opts.expectedVersion} does not match the current version ${e.versionNumber}`);
	}
	return ok(finish(e, 'CANCELED', now, { forceCanceled: e.status === 'IN_PROGRESS', statusDetails: opts.statusDetails ?? e.statusDetails }));
}

/** A timer fired: only an IN_PROGRESS execution whose deadline passed times out. */
export function timeOut(e: Execution, now: number): Execution | undefined {
	const due = deadline(e);
	if (e.status !== 'IN_PROGRESS' || due === undefined || due > now) return undefined;
	return finish(e, 'TIMED_OUT', now, {});
}

/** When the execution times out, if a timer is armed. */
export function deadline(e: Execution): number | undefined {
	if (e.status !== 'IN_PROGRESS') return undefined;
	const ds = [e.inProgressDeadline, e.stepDeadline].filter((d): d is number => d !== undefined);
	return ds.length === 0 ? undefined : Math.min(...ds);
}

/** AWS: IN_PROGRESS executions come before QUEUED ones, each oldest first. */
export function pendingInOrder(list: Iterable<Execution>): Execution[] {
	const pending = [...list].filter((e) => !isTerminal(e.status));
	return pending.sort((a, b) => rank(a) - rank(b) || a.seq - b.seq);
}

function rank(e: Execution): number {
	return e.status === 'IN_PROGRESS' ? 0 : 1;
}

function finish(e: Execution, status: ExecutionStatus, now: number, extra: Partial<Execution>): Execution {
	return { ...e, ...extra, status, lastUpdatedAt: now, versionNumber: e.versionNumber + 1, inProgressDeadline: undefined, stepDeadline: undefined };
}

function ok(execution: Execution): Step {
	return { ok: true, execution };
}

function fail(code: ExecutionFailure['code'], message: string): Step {
	return { ok: false, error: { code, message } };
}
