/*
 * The Jobs device MQTT API ("Jobs device MQTT API operations" in the AWS IoT guide):
 *   $aws/things/{thing}/jobs/get                 GetPendingJobExecutions
 *   $aws/things/{thing}/jobs/start-next          StartNextPendingJobExecution
 *   $aws/things/{thing}/jobs/{jobId|$next}/get   DescribeJobExecution
 *   $aws/things/{thing}/jobs/{jobId}/update      UpdateJobExecution
 * each answered on <request topic>/accepted or /rejected, echoing `clientToken`. A rejection
 * is { code, message, timestamp, clientToken, executionState? } with the codes AWS documents;
 * executionState comes with InvalidStateTransition and VersionMismatch only.
 */
import type { Bus } from '../bus';
import type { LogFn } from '../log';
import type { JobsRunner } from './runner';
import { executionSummary, seconds } from './runner';
import { parseJsonObject } from '../json-object';
import { DEVICE_STATUSES, MAX_TIMEOUT_MINUTES, isTerminal, type DeviceStatus, type Execution, type StatusDetails } from './execution';

export type RejectionCode = 'InvalidTopic' | 'InvalidJson' | 'InvalidRequest' | 'InvalidStateTransition' | 'ResourceNotFound' | 'VersionMismatch' | 'InternalError' | 'RequestThrottled' | 'TerminalStateReached';

/** AWS: clientToken is at most 64 bytes. */
export const MAX_CLIENT_TOKEN = 64;
const DETAIL_KEY = /^[a-zA-Z0-9:_-]{1,128}$/;
const MAX_DETAIL_VALUE = 1024;

type Request = { readonly op: 'get' } | { readonly op: 'start-next' } | { readonly op: 'describe'; readonly jobId: string } | { readonly op: 'update'; readonly jobId: string };

class Rejected extends Error {
	constructor(
		readonly code: RejectionCode,
		message: string,
		readonly execution?: Execution,
	) {
		super(message);
	}
}

/** Subscribes to every thing's job request topics; returns the off switch. */
export function serveDeviceApi(runner: JobsRunner, bus: Bus, log: LogFn): () => void {
	return bus.subscribe('$aws/things/+/jobs/#', async (m) => {
		const [, , thing, , ...rest] = m.topic.split('/');
		if (!thing || ours(rest)) return; // a reply or notification of ours: never answered
		const request = parseTopic(rest);
		let clientToken: string | undefined;
		try {
			const body = parseJson(m.payload);
			clientToken = token(body);
			// AWS answers a topic of the jobs namespace that maps to no API on <topic>/rejected with
			// InvalidTopic ("Jobs device MQTT API", ErrorResponse); JSON and clientToken are read
			// first so the rejection echoes the token (our choice: AWS documents no order)
			if (!request) throw new Rejected('InvalidTopic', 'the request was sent to a topic in the AWS IoT Jobs namespace that does not map to any API: ' + m.topic);
			const reply = handle(runner, thing, request, body);
			await runner.emit(m.topic + '/accepted', async () => ({ ...(await reply()), timestamp: seconds(Date.now()), ...(clientToken !== undefined ? { clientToken } : {}) }));
		} catch (e) {
			if (!(e instanceof Rejected)) {
				log({ level: 'error', event: 'jobs.device.error', topic: m.topic, error: String(e) });
			}
			const r = e instanceof Rejected ? e : new Rejected('InternalError', 'internal error');
			log({ level: 'info', event: 'jobs.device.rejected', thing, topic: m.topic, code: r.code, message: r.message });
			await runner.emit(m.topic + '/rejected', () => ({
				code: r.code,
				message: r.message,
				timestamp: seconds(Date.now()),
				...(clientToken !== undefined ? { clientToken } : {}),
				...(r.execution ? { executionState: executionState(r.execution) } : {}),
			}));
		}
	});
}

/** Topics the service itself publishes (replies and notifications), after `$aws/things/{thing}/jobs/`. */
function ours(rest: string[]): boolean {
	const last = rest[rest.length - 1];
	return last === 'accepted' || last === 'rejected' || (rest.length === 1 && (last === 'notify' || last === 'notify-next'));
}

/** `rest` is what follows `$aws/things/{thing}/jobs/`. */
function parseTopic(rest: string[]): Request | undefined {
	if (rest.length === 1 && rest[0] === 'get') return { op: 'get' };
	if (rest.length === 1 && rest[0] === 'start-next') return { op: 'start-next' };
	if (rest.length === 2 && rest[0]) {
		if (rest[1] === 'get') return { op: 'describe', jobId: rest[0] };
		if (rest[1] === 'update' && rest[0] !== '$next') return { op: 'update', jobId: rest[0] };
	}
	return undefined;
}

/**
 * Performs the request now (so its state change is ordered with the others) and returns
 * how to build the accepted body later (documents are presigned at publish time).
 */
function handle(runner: JobsRunner, thing: string, r: Request, b: Record<string, unknown>): () => Promise<Record<string, unknown>> {
	switch (r.op) {
		case 'get': {
			const pending = runner.pending(thing);
			return async () => ({
				inProgressJobs: pending.filter((e) => e.status === 'IN_PROGRESS').map(executionSummary),
				queuedJobs: pending.filter((e) => e.status === 'QUEUED').map(executionSummary),
			});
		}
		case 'start-next': {
			const details = optDetails(b);
			const step = optInteger(b, 'stepTimeoutInMinutes');
			if (step !== undefined && (step < 1 || step > MAX_TIMEOUT_MINUTES)) throw new Rejected('InvalidRequest', `stepTimeoutInMinutes expected 1-${MAX_TIMEOUT_MINUTES}, got ${step}`);
			const e = runner.startNext(thing, details, step);
			return async () => (e ? { execution: await runner.deviceExecution(e, true) } : {});
		}
		case 'describe': {
			const n = optInteger(b, 'executionNumber');
			const withDocument = optBoolean(b, 'includeJobDocument') ?? true;
			const e = r.jobId === '$next' ? runner.next(thing) : runner.execution(thing, r.jobId);
			if (r.jobId === '$next' && !e) return async () => ({});
			if (!e || (n !== undefined && n !== e.executionNumber)) throw new Rejected('ResourceNotFound', `no execution of job ${r.jobId} on thing ${thing}`);
			if (isTerminal(e.status)) throw new Rejected('TerminalStateReached', `the job execution is ${e.status}, a terminal state`);
			return async () => ({ execution: await runner.deviceExecution(e, withDocument) });
		}
		case 'update': {
			if (typeof b.status !== 'string' || !DEVICE_STATUSES.has(b.status)) {
				throw new Rejected('InvalidRequest', 'status expected one of IN_PROGRESS, SUCCEEDED, FAILED, REJECTED, got ' + JSON.stringify(b.status));
			}
			const details = optDetails(b);
			const expectedVersion = optInteger(b, 'expectedVersion');
			const n = optInteger(b, 'executionNumber');
			const step = optInteger(b, 'stepTimeoutInMinutes');
			if (step !== undefined && step !== -1 && (step < 1 || step > MAX_TIMEOUT_MINUTES)) {
				throw new Rejected('InvalidRequest', `stepTimeoutInMinutes expected 1-${MAX_TIMEOUT_MINUTES} or -1, got ${step}`);
			}
			const withState = optBoolean(b, 'includeJobExecutionState') ?? false;
			const withDocument = optBoolean(b, 'includeJobDocument') ?? false;
			const e = runner.execution(thing, r.jobId);
			if (!e || (n !== undefined && n !== e.executionNumber)) throw new Rejected('ResourceNotFound', `no execution of job ${r.jobId} on thing ${thing}`);
			const result = runner.update(e, {
				status: b.status as DeviceStatus,
				...(details ? { statusDetails: details } : {}),
				...(expectedVersion !== undefined ? { expectedVersion } : {}),
				...(step !== undefined ? { stepTimeoutInMinutes: step } : {}),
			});
			if (!result.ok) throw new Rejected(result.error.code, result.error.message, result.error.code === 'InvalidRequest' ? undefined : e);
			const updated = result.execution;
			return async () => ({
				...(withState ? { executionState: executionState(updated) } : {}),
				...(withDocument ? { jobDocument: await runner.deviceDocument(updated.jobId) } : {}),
			});
		}
	}
}

function executionState(e: Execution): Record<string, unknown> {
	return { status: e.status, statusDetails: e.statusDetails, versionNumber: e.versionNumber };
}

/** An empty payload counts as `{}`. */
function parseJson(payload: Uint8Array): Record<string, unknown> {
	const r = parseJsonObject(payload, true);
	if (!r.ok) throw new Rejected('InvalidJson', r.error === 'notJson' ? 'the payload is not JSON' : 'the payload expected a JSON object');
	return r.value;
}

function token(b: Record<string, unknown>): string | undefined {
	const t = b.clientToken;
	if (t === undefined) return undefined;
	if (typeof t !== 'string' || t.length === 0 || new TextEncoder().encode(t).byteLength > MAX_CLIENT_TOKEN) {
		throw new Rejected('InvalidRequest', `clientToken expected a string of 1-${MAX_CLIENT_TOKEN} bytes`);
	}
	return t;
}

function optDetails(b: Record<string, unknown>): StatusDetails | undefined {
	const v = b.statusDetails;
	if (v === undefined) return undefined;
	if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Rejected('InvalidRequest', 'statusDetails expected an object of strings');
	for (const [k, s] of Object.entries(v)) {
		if (!DETAIL_KEY.test(k)) throw new Rejected('InvalidRequest', `statusDetails key ${JSON.stringify(k)} expected 1-128 of [a-zA-Z0-9:_-]`);
		if (typeof s !== 'string' || s.length === 0 || s.length > MAX_DETAIL_VALUE) {
			throw new Rejected('InvalidRequest', `statusDetails.${k} expected a string of 1-${MAX_DETAIL_VALUE} characters`);
		}
	}
	return v as StatusDetails;
}

function optInteger(b: Record<string, unknown>, name: string): number | undefined {
	const v = b[name];
	if (v === undefined) return undefined;
	if (!Number.isSafeInteger(v)) throw new Rejected('InvalidRequest', `${name} expected an integer, got ${JSON.stringify(v)}`);
	return v as number;
}

function optBoolean(b: Record<string, unknown>, name: string): boolean | undefined {
	const v = b[name];
	if (v === undefined) return undefined;
	if (typeof v !== 'boolean') throw new Rejected('InvalidRequest', `${name} expected true or false`);
	return v;
}
