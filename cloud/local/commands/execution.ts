/*
 * One command execution and its pure moves, as AWS IoT Device Management commands document them
 * ("Start and monitor command executions", GetCommandExecution, the UpdateCommandExecution MQTT
 * API of the device SDKs, "AWS IoT Commands Troubleshooting"):
 * - an execution is CREATED when StartCommandExecution returns; the device moves it with
 *   IN_PROGRESS, SUCCEEDED, FAILED, REJECTED or TIMED_OUT;
 * - SUCCEEDED, FAILED, REJECTED and a device-reported TIMED_OUT are terminal: later updates are
 *   refused (TerminalStateReached);
 * - the execution timer starts at creation; an execution not terminal when it runs out becomes
 *   TIMED_OUT by the service, which is NOT terminal: the device can still report its final status.
 * No clock and no I/O here: the runner (runner.ts) passes `now`.
 */

export const EXECUTION_STATUSES = Object.freeze(['CREATED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT'] as const);
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** What a device may report (UpdateCommandExecution: CommandExecutionStatus of the device SDKs). */
export const DEVICE_STATUSES = Object.freeze(['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT'] as const);
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/** StatusReason: reasonCode [A-Z0-9_-]{1,64}, reasonDescription at most 1024 characters, no control characters. */
export interface StatusReason {
	readonly reasonCode: string;
	readonly reasonDescription?: string;
}

/** A result value (CommandExecutionResult): one of S, B, BIN (base64 here, as on the wire). */
export type ResultValue = { readonly S: string } | { readonly B: boolean } | { readonly BIN: string };

/** A parameter value (CommandParameterValue), as StartCommandExecution and GetCommandExecution carry it. */
export type ParameterValue = { readonly S: string } | { readonly B: boolean } | { readonly I: number } | { readonly L: number } | { readonly D: number } | { readonly UL: string } | { readonly BIN: string };

export interface Execution {
	readonly executionId: string;
	readonly commandId: string;
	readonly commandArn: string;
	readonly targetArn: string;
	readonly thingName: string;
	readonly status: ExecutionStatus;
	readonly statusReason?: StatusReason;
	readonly result?: Readonly<Record<string, ResultValue>>;
	readonly parameters?: Readonly<Record<string, ParameterValue>>;
	readonly executionTimeoutSeconds: number;
	/** Epoch milliseconds. */
	readonly createdAt: number;
	readonly lastUpdatedAt: number;
	readonly startedAt?: number;
	readonly completedAt?: number;
	/** TIMED_OUT set by the service's timer (not terminal) rather than reported by the device. */
	readonly timedOutByService: boolean;
	/** StartCommandExecution's idempotency: the token and a canonical form of the request. */
	readonly clientToken?: string;
	readonly requestKey?: string;
}

export interface DeviceUpdate {
	readonly status: DeviceStatus;
	readonly statusReason?: StatusReason;
	readonly result?: Readonly<Record<string, ResultValue>>;
}

export type UpdateRefusal = { readonly code: 'TerminalStateReached' | 'InvalidStateTransition'; readonly message: string };

const REASON_CODE = /^[A-Z0-9_-]{1,64}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function isTerminal(e: Pick<Execution, 'status' | 'timedOutByService'>): boolean {
	return e.status === 'SUCCEEDED' || e.status === 'FAILED' || e.status === 'REJECTED' || (e.status === 'TIMED_OUT' && !e.timedOutByService);
}

/** Why a status reason is not valid, or undefined when it is. */
export function checkStatusReason(v: unknown): string | undefined {
	if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'statusReason expected an object';
	const r = v as Record<string, unknown>;
	if (typeof r.reasonCode !== 'string' || !REASON_CODE.test(r.reasonCode)) return 'statusReason.reasonCode expected 1-64 of [A-Z0-9_-]';
	if (r.reasonDescription !== undefined && (typeof r.reasonDescription !== 'string' || r.reasonDescription.length > 1024 || CONTROL.test(r.reasonDescription))) {
		return 'statusReason.reasonDescription expected at most 1024 characters without control characters';
	}
	for (const k of Object.keys(r)) if (k !== 'reasonCode' && k !== 'reasonDescription') return 'statusReason has an unknown field ' + k;
	return undefined;
}

/** The device's update applied, or why it is refused. */
export function applyDeviceUpdate(e: Execution, u: DeviceUpdate, now: number): { ok: true; execution: Execution } | { ok: false; refusal: UpdateRefusal } {
	if (isTerminal(e)) return { ok: false, refusal: { code: 'TerminalStateReached', message: `execution ${e.executionId} is ${e.status}` } };
	// after the service's timeout only a final answer still counts (the troubleshooting guide:
	// the device "can still update" a cloud-initiated TIMED_OUT); going back to IN_PROGRESS would
	// restart nothing, so it is refused
	if (e.status === 'TIMED_OUT' && u.status === 'IN_PROGRESS') {
		return { ok: false, refusal: { code: 'InvalidStateTransition', message: `execution ${e.executionId} timed out; only a terminal status is accepted` } };
	}
	const terminal = u.status !== 'IN_PROGRESS';
	const { statusReason: _r, result: _x, ...rest } = e;
	return {
		ok: true,
		execution: {
			...rest,
			status: u.status,
			timedOutByService: false,
			...(u.statusReason ? { statusReason: u.statusReason } : {}),
			...(u.result ? { result: u.result } : e.result ? { result: e.result } : {}),
			lastUpdatedAt: now,
			startedAt: e.startedAt ?? now,
			...(terminal ? { completedAt: now } : {}),
		},
	};
}

/** The service's timer ran out: a CREATED or IN_PROGRESS execution becomes TIMED_OUT; anything else is unchanged. */
export function expire(e: Execution, now: number): Execution | undefined {
	if (e.status !== 'CREATED' && e.status !== 'IN_PROGRESS') return undefined;
	// AWS documents no reason code for a service timeout; the local one says what happened
	return {
		...e,
		status: 'TIMED_OUT',
		timedOutByService: true,
		statusReason: { reasonCode: 'NO_RESPONSE_FROM_DEVICE', reasonDescription: `no terminal status within ${e.executionTimeoutSeconds} s` },
		lastUpdatedAt: now,
		completedAt: now,
	};
}

/** When the timer runs out, epoch ms. */
export function deadline(e: Execution, secondMs: number): number {
	return e.createdAt + e.executionTimeoutSeconds * secondMs;
}
