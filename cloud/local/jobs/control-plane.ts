/*
 * The AWS IoT control plane for jobs over HTTP, the subset `@aws-sdk/client-iot` needs,
 * reached through an endpoint override and signed with SigV4 for the service `iot`:
 *   PUT    /jobs/{jobId}                          CreateJob
 *   GET    /jobs/{jobId}                          DescribeJob
 *   DELETE /jobs/{jobId}?force=                   DeleteJob
 *   PUT    /jobs/{jobId}/cancel?force=            CancelJob
 *   GET    /jobs/{jobId}/job-document             GetJobDocument
 *   GET    /jobs/{jobId}/things                   ListJobExecutionsForJob
 *   GET    /jobs                                  ListJobs
 *   GET    /things/{thingName}/jobs               ListJobExecutionsForThing
 *   GET    /things/{thingName}/jobs/{jobId}       DescribeJobExecution
 *   PUT    /things/{thingName}/jobs/{jobId}/cancel CancelJobExecution
 *   POST   /thing-groups/{name}                   CreateThingGroup (static groups, groups.ts)
 *   GET    /thing-groups/{name}                   DescribeThingGroup
 *   DELETE /thing-groups/{name}                   DeleteThingGroup
 *   GET    /thing-groups                          ListThingGroups
 *   GET    /thing-groups/{name}/things            ListThingsInThingGroup
 *   PUT    /thing-groups/addThingToThingGroup     AddThingToThingGroup
 *   PUT    /thing-groups/removeThingFromThingGroup RemoveThingFromThingGroup
 * CreateJob takes thing and thing-group targets, jobExecutionsRolloutConfig, abortConfig and
 * timeoutConfig (rollout.ts).
 * Times are epoch seconds (restJson1). Errors are restJson1 errors: `x-amzn-errortype` names
 * the exception and the body is `{ message }`.
 */
import type http from 'node:http';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../credentials';
import { bodyChecks, HttpError, listen, readBody, sendJson, type Listening } from '../http';
import type { LogFn } from '../log';
import { sha256Hex, verifySigV4 } from '../sigv4';
import { isThingName } from '../../../firmware/core/contracts/thing';
import { checkDocument } from './document';
import type { ControlResult, JobRecord, JobsRunner } from './runner';
import { MAX_TIMEOUT_MINUTES, type Execution } from './execution';
import { GROUP_NAME, type ThingGroup } from './groups';
import { ConfigError, parseAbort, parseRollout } from './rollout';

/** A 32 KB document escaped inside the JSON request, and the rest of the request. */
export const MAX_BODY_BYTES = 256 * 1024;
export const SIGNING_SERVICE = 'iot';
/** AWS: jobId is 1-64 of [a-zA-Z0-9_-]. */
const JOB_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const THING_ARN = /^arn:aws:iot:[a-z0-9-]+:\d{12}:thing\/(.+)$/;
const GROUP_ARN = /^arn:aws:iot:[a-z0-9-]+:\d{12}:thinggroup\/(.+)$/;
const DEFAULT_PAGE = 100;

export interface ControlPlaneOptions {
	readonly port?: number;
	readonly host?: string;
	readonly log: LogFn;
	/** Refuse requests without a valid SigV4 signature (default true). */
	readonly verifySignatures?: boolean;
	/** Whether the service can presign placeholders (it has an S3 endpoint). */
	readonly canPresign: boolean;
	readonly localS3?: string;
	/** Other control-plane operations on this endpoint (the commands service's, the registry's): a reply, or undefined when not theirs. */
	readonly more?: (
		method: string,
		path: string[],
		q: URLSearchParams,
		body: Uint8Array,
		headers: Readonly<Record<string, string | string[] | undefined>>,
	) => Promise<{ status: number; body: unknown } | undefined> | { status: number; body: unknown } | undefined;
}

export function startControlPlane(runner: JobsRunner, o: ControlPlaneOptions): Promise<Listening> {
	const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
		const body = await readBody(req, MAX_BODY_BYTES);
		if (o.verifySignatures !== false) {
			const signed = verifySigV4({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, rawHeaders: req.rawHeaders }, { service: SIGNING_SERVICE, payloadHash: sha256Hex(body), now: Date.now() });
			if (!signed.ok) throw new HttpError(signed.error.status, signed.error.code, signed.error.message);
		}
		const url = new URL(req.url ?? '/', 'http://local');
		const path = url.pathname.split('/').slice(1).map(decode);
		const method = req.method ?? 'GET';
		const q = url.searchParams;
		// the variable segments: jobs/{jobId}/..., things/{thingName}/jobs/{jobId}/...
		const route = method + ' ' + path.map((s, i) => (i === 1 || (i === 3 && path[0] === 'things') ? '{}' : s)).join('/');
		const json = (): Record<string, unknown> => parseBody(body);
		const other = await o.more?.(method, path, q, body, req.headers);
		if (other) return sendJson(res, other.status, other.body);
		if (path[0] === 'thing-groups') return reply(res, thingGroups(runner, method, path, q, json, Date.now()));
		switch (route) {
			case 'PUT jobs/{}':
				return reply(res, createJob(runner, path[1]!, json(), o));
			case 'GET jobs/{}':
				return reply(
					res,
					found(runner.job(path[1]!), path[1]!, (job) => ({ job: describeJob(runner, job) })),
				);
			case 'DELETE jobs/{}':
				return reply(res, runner.deleteJob(path[1]!, flag(q, 'force')));
			case 'PUT jobs/{}/cancel': {
				const b = json();
				const r = runner.cancelJob(path[1]!, flag(q, 'force'), optString(b, 'reasonCode', 128), optString(b, 'comment', 2028));
				return reply(res, r.ok ? ok({ jobArn: r.value.jobArn, jobId: r.value.jobId, description: r.value.description }) : r);
			}
			case 'GET jobs/{}/job-document':
				return reply(
					res,
					found(runner.job(path[1]!), path[1]!, (job) => ({ document: job.document })),
				);
			case 'GET jobs/{}/things':
				return reply(
					res,
					found(runner.job(path[1]!), path[1]!, (job) =>
						page(
							runner.executionsOfJob(job.jobId).filter((e) => !q.has('status') || e.status === q.get('status')),
							q,
							(e) => ({ thingArn: thingArn(e.thingName), jobExecutionSummary: summary(e) }),
							'executionSummaries',
						),
					),
				);
			case 'GET jobs':
				return reply(
					res,
					ok(
						page(
							runner.jobs().filter((j) => (!q.has('status') || j.status === q.get('status')) && (!q.has('thingName') || j.thingNames.includes(q.get('thingName')!))),
							q,
							jobSummary,
							'jobs',
						),
					),
				);
			case 'GET things/{}/jobs':
				return reply(
					res,
					ok(
						page(
							runner.executionsOfThing(path[1]!).filter((e) => (!q.has('status') || e.status === q.get('status')) && (!q.has('jobId') || e.jobId === q.get('jobId'))),
							q,
							(e) => ({ jobId: e.jobId, jobExecutionSummary: summary(e) }),
							'executionSummaries',
						),
					),
				);
			case 'GET things/{}/jobs/{}': {
				const e = runner.execution(path[1]!, path[3]!);
				const n = q.get('executionNumber');
				if (!e || (n !== null && Number(n) !== e.executionNumber)) {
					throw new HttpError(404, 'ResourceNotFoundException', `no execution of job ${path[3]} on thing ${path[1]}`);
				}
				return reply(res, ok({ execution: describeExecution(runner, e) }));
			}
			case 'PUT things/{}/jobs/{}/cancel': {
				const b = json();
				const version = b.expectedVersion;
				if (version !== undefined && !Number.isSafeInteger(version)) throw invalid('expectedVersion expected an integer');
				const details = b.statusDetails === undefined ? undefined : statusDetails(b.statusDetails);
				return reply(res, runner.cancelExecution(path[1]!, path[3]!, flag(q, 'force'), version as number | undefined, details));
			}
		}
		throw new HttpError(404, 'ResourceNotFoundException', 'no operation at ' + method + ' ' + url.pathname);
	};
	return listen(handle, {
		...(o.port !== undefined ? { port: o.port } : {}),
		...(o.host !== undefined ? { host: o.host } : {}),
		onError(res, e) {
			if (e instanceof HttpError) {
				o.log({ level: 'info', event: 'jobs.http.rejected', type: e.code, message: e.message });
				return sendJson(res, e.status, { message: e.message }, { 'x-amzn-errortype': e.code });
			}
			o.log({ level: 'error', event: 'jobs.http.error', error: String(e) });
			sendJson(res, 500, { message: 'Internal failure' }, { 'x-amzn-errortype': 'InternalFailureException' });
		},
	});
}

export function thingArn(thing: string): string {
	return `arn:aws:iot:${LOCAL_REGION}:${LOCAL_ACCOUNT}:thing/${thing}`;
}

export function jobArn(jobId: string): string {
	return `arn:aws:iot:${LOCAL_REGION}:${LOCAL_ACCOUNT}:job/${jobId}`;
}

/** CreateJob: every field the local service honours is checked; the others are ignored. */
function createJob(runner: JobsRunner, jobId: string, b: Record<string, unknown>, o: ControlPlaneOptions): ControlResult<unknown> {
	if (!JOB_ID.test(jobId)) throw invalid('jobId expected 1-64 characters of [a-zA-Z0-9_-], got ' + JSON.stringify(jobId));
	if (b.documentSource !== undefined) throw invalid('documentSource is not supported by the local jobs service; pass document');
	if (b.jobTemplateArn !== undefined) throw invalid('jobTemplateArn is not supported by the local jobs service');
	if (typeof b.document !== 'string') throw invalid('document expected a JSON string');
	const checked = checkDocument(b.document, o.localS3);
	if (!checked.ok) throw invalid(checked.message);
	if (!Array.isArray(b.targets) || b.targets.length === 0) throw invalid('targets expected at least one thing or thing group ARN');
	const groups: string[] = [];
	const thingNames = [
		...new Set(
			b.targets.flatMap((t: unknown) => {
				const g = typeof t === 'string' ? GROUP_ARN.exec(t) : null;
				if (g) {
					const group = runner.groups.get(g[1]!);
					if (!group) throw new HttpError(404, 'ResourceNotFoundException', `thing group ${g[1]} not found`);
					groups.push(group.thingGroupName);
					return group.things;
				}
				const m = typeof t === 'string' ? THING_ARN.exec(t) : null;
				if (!m || !isThingName(m[1]!)) throw invalid('targets expected thing or thing group ARNs such as ' + thingArn('robot-1') + ', got ' + JSON.stringify(t));
				return [m[1]!];
			}),
		),
	];
	let rollout: JobRecord['jobExecutionsRolloutConfig'];
	let abortConfig: JobRecord['abortConfig'];
	try {
		if (b.jobExecutionsRolloutConfig !== undefined) rollout = parseRollout(b.jobExecutionsRolloutConfig);
		if (b.abortConfig !== undefined) abortConfig = parseAbort(b.abortConfig);
	} catch (e) {
		if (e instanceof ConfigError) throw invalid(e.message);
		throw e;
	}
	const targetSelection = b.targetSelection ?? 'SNAPSHOT';
	if (targetSelection !== 'SNAPSHOT' && targetSelection !== 'CONTINUOUS') throw invalid('targetSelection expected SNAPSHOT or CONTINUOUS');
	const description = optString(b, 'description', 2028);
	let presignedUrlConfig: JobRecord['presignedUrlConfig'];
	if (b.presignedUrlConfig !== undefined) {
		const p = object(b.presignedUrlConfig, 'presignedUrlConfig');
		const expiresInSec = p.expiresInSec ?? 3600;
		if (!Number.isSafeInteger(expiresInSec) || (expiresInSec as number) < 60 || (expiresInSec as number) > 3600) {
			throw invalid('presignedUrlConfig.expiresInSec expected an integer 60-3600, got ' + String(expiresInSec));
		}
		presignedUrlConfig = { expiresInSec: expiresInSec as number, ...(typeof p.roleArn === 'string' ? { roleArn: p.roleArn } : {}) };
	}
	if (checked.placeholders.length > 0) {
		// AWS presigns with the role of presignedUrlConfig: without it there is nothing to sign with
		if (!presignedUrlConfig) throw invalid('the document has presigned URL placeholders but the job has no presignedUrlConfig');
		if (!o.canPresign) throw invalid('the document has presigned URL placeholders but the local jobs service was started without an S3 endpoint');
	}
	let timeoutConfig: JobRecord['timeoutConfig'];
	if (b.timeoutConfig !== undefined) {
		const t = object(b.timeoutConfig, 'timeoutConfig');
		const m = t.inProgressTimeoutInMinutes;
		if (m !== undefined && (!Number.isSafeInteger(m) || (m as number) < 1 || (m as number) > MAX_TIMEOUT_MINUTES)) {
			throw invalid(`timeoutConfig.inProgressTimeoutInMinutes expected an integer 1-${MAX_TIMEOUT_MINUTES}, got ${String(m)}`);
		}
		timeoutConfig = m === undefined ? {} : { inProgressTimeoutInMinutes: m as number };
	}
	const r = runner.createJob({
		jobId,
		jobArn: jobArn(jobId),
		document: b.document,
		targets: b.targets as string[],
		thingNames,
		targetSelection,
		...(description !== undefined ? { description } : {}),
		...(presignedUrlConfig ? { presignedUrlConfig } : {}),
		...(timeoutConfig ? { timeoutConfig } : {}),
		...(rollout ? { jobExecutionsRolloutConfig: rollout } : {}),
		...(abortConfig ? { abortConfig } : {}),
		...(groups.length ? { groups } : {}),
	});
	return r.ok ? ok({ jobArn: r.value.jobArn, jobId: r.value.jobId, ...(r.value.description !== undefined ? { description: r.value.description } : {}) }) : r;
}

function describeJob(runner: JobsRunner, job: JobRecord): Record<string, unknown> {
	const counts: Record<string, number> = {};
	for (const e of runner.executionsOfJob(job.jobId)) counts[e.status] = (counts[e.status] ?? 0) + 1;
	const n = (s: string): number => counts[s] ?? 0;
	return {
		jobArn: job.jobArn,
		jobId: job.jobId,
		targetSelection: job.targetSelection,
		status: job.status,
		forceCanceled: job.forceCanceled,
		...(job.reasonCode !== undefined ? { reasonCode: job.reasonCode } : {}),
		...(job.comment !== undefined ? { comment: job.comment } : {}),
		targets: job.targets,
		...(job.description !== undefined ? { description: job.description } : {}),
		...(job.presignedUrlConfig ? { presignedUrlConfig: job.presignedUrlConfig } : {}),
		...(job.timeoutConfig ? { timeoutConfig: job.timeoutConfig } : {}),
		...(job.jobExecutionsRolloutConfig ? { jobExecutionsRolloutConfig: job.jobExecutionsRolloutConfig } : {}),
		...(job.abortConfig ? { abortConfig: job.abortConfig } : {}),
		createdAt: job.createdAt / 1000,
		lastUpdatedAt: job.lastUpdatedAt / 1000,
		...(job.completedAt !== undefined ? { completedAt: job.completedAt / 1000 } : {}),
		jobProcessDetails: {
			numberOfCanceledThings: n('CANCELED'),
			numberOfSucceededThings: n('SUCCEEDED'),
			numberOfFailedThings: n('FAILED'),
			numberOfRejectedThings: n('REJECTED'),
			numberOfQueuedThings: n('QUEUED'),
			numberOfInProgressThings: n('IN_PROGRESS'),
			numberOfRemovedThings: n('REMOVED'),
			numberOfTimedOutThings: n('TIMED_OUT'),
		},
		isConcurrent: false,
	};
}

/** The thing-group operations (groups.ts) over restJson1. */
function thingGroups(runner: JobsRunner, method: string, path: string[], q: URLSearchParams, json: () => Record<string, unknown>, now: number): ControlResult<unknown> {
	const describe = (g: ThingGroup) => ({
		thingGroupName: g.thingGroupName,
		thingGroupId: g.thingGroupId,
		thingGroupArn: g.thingGroupArn,
		version: 1,
		thingGroupProperties: g.description !== undefined ? { thingGroupDescription: g.description } : {},
		thingGroupMetadata: { creationDate: g.creationDate / 1000 },
	});
	const named = (b: Record<string, unknown>, what: 'thingGroup' | 'thing'): string => {
		const name = b[what + 'Name'];
		if (typeof name === 'string') return name;
		const arn = b[what + 'Arn'];
		const m = typeof arn === 'string' ? (what === 'thing' ? THING_ARN : GROUP_ARN).exec(arn) : null;
		if (m) return m[1]!;
		throw invalid(`${what}Name or ${what}Arn expected`);
	};
	const result = <T>(r: { ok: true; value: T } | { ok: false; error: { type: string; message: string } }, value: (v: T) => unknown): ControlResult<unknown> => {
		if (r.ok) return ok(value(r.value));
		if (r.error.type === 'InvalidRequestException') throw invalid(r.error.message);
		const status = r.error.type === 'ResourceNotFoundException' ? 404 : r.error.type === 'ResourceAlreadyExistsException' ? 409 : 410;
		throw new HttpError(status, r.error.type, r.error.message);
	};
	const name = path[1];
	if (method === 'GET' && path.length === 1) return ok(page(runner.groups.list(), q, (g) => ({ groupName: g.thingGroupName, groupArn: g.thingGroupArn }), 'thingGroups'));
	if (method === 'PUT' && name === 'addThingToThingGroup') {
		const b = json();
		const thing = named(b, 'thing');
		if (!isThingName(thing)) throw invalid('thingName expected a thing name, got ' + JSON.stringify(thing));
		return result(runner.groups.add(named(b, 'thingGroup'), thing), () => ({}));
	}
	if (method === 'PUT' && name === 'removeThingFromThingGroup') {
		const b = json();
		return result(runner.groups.remove(named(b, 'thingGroup'), named(b, 'thing')), () => ({}));
	}
	if (name === undefined || !GROUP_NAME.test(name)) throw invalid('thingGroupName expected 1-128 of [a-zA-Z0-9:_-], got ' + JSON.stringify(name));
	if (method === 'POST' && path.length === 2) {
		const b = json();
		if (b.parentGroupName !== undefined) throw invalid('parentGroupName: group hierarchies are not supported by the local registry');
		const props = b.thingGroupProperties === undefined ? {} : object(b.thingGroupProperties, 'thingGroupProperties');
		const description = optString(props, 'thingGroupDescription', 2028);
		return result(runner.groups.create(name, description, now), (g) => ({ thingGroupName: g.thingGroupName, thingGroupArn: g.thingGroupArn, thingGroupId: g.thingGroupId }));
	}
	const g = runner.groups.get(name);
	if (!g) throw new HttpError(404, 'ResourceNotFoundException', `thing group ${name} not found`);
	if (method === 'GET' && path.length === 2) return ok(describe(g));
	if (method === 'DELETE' && path.length === 2) return (runner.groups.delete(name), ok({}));
	if (method === 'GET' && path[2] === 'things' && path.length === 3) return ok(page(g.things, q, (t) => t, 'things'));
	throw new HttpError(404, 'ResourceNotFoundException', 'no operation at ' + method + ' /' + path.join('/'));
}

function describeExecution(runner: JobsRunner, e: Execution): Record<string, unknown> {
	const left = runner.secondsBeforeTimedOut(e);
	return {
		jobId: e.jobId,
		status: e.status,
		forceCanceled: e.forceCanceled,
		statusDetails: { detailsMap: e.statusDetails },
		thingArn: thingArn(e.thingName),
		queuedAt: e.queuedAt / 1000,
		...(e.startedAt !== undefined ? { startedAt: e.startedAt / 1000 } : {}),
		lastUpdatedAt: e.lastUpdatedAt / 1000,
		executionNumber: e.executionNumber,
		versionNumber: e.versionNumber,
		...(left !== undefined ? { approximateSecondsBeforeTimedOut: left } : {}),
	};
}

function summary(e: Execution): Record<string, unknown> {
	return {
		status: e.status,
		queuedAt: e.queuedAt / 1000,
		...(e.startedAt !== undefined ? { startedAt: e.startedAt / 1000 } : {}),
		lastUpdatedAt: e.lastUpdatedAt / 1000,
		executionNumber: e.executionNumber,
	};
}

function jobSummary(job: JobRecord): Record<string, unknown> {
	return {
		jobArn: job.jobArn,
		jobId: job.jobId,
		targetSelection: job.targetSelection,
		status: job.status,
		createdAt: job.createdAt / 1000,
		lastUpdatedAt: job.lastUpdatedAt / 1000,
		...(job.completedAt !== undefined ? { completedAt: job.completedAt / 1000 } : {}),
		isConcurrent: false,
	};
}

/** maxResults (1-250) and an opaque nextToken (here: the offset). */
function page<T>(items: T[], q: URLSearchParams, map: (item: T) => unknown, key: string): Record<string, unknown> {
	const max = q.has('maxResults') ? Number(q.get('maxResults')) : DEFAULT_PAGE;
	if (!Number.isSafeInteger(max) || max < 1 || max > 250) throw invalid('maxResults expected 1-250');
	const token = q.get('nextToken');
	const from = token === null ? 0 : Number(token);
	if (!Number.isSafeInteger(from) || from < 0 || from > items.length) throw invalid('nextToken is not valid');
	const to = from + max;
	return { [key]: items.slice(from, to).map(map), ...(to < items.length ? { nextToken: String(to) } : {}) };
}

/** statusDetails of CancelJobExecution: string keys to string values. */
function statusDetails(v: unknown): Record<string, string> {
	const o = object(v, 'statusDetails');
	for (const [k, s] of Object.entries(o)) if (typeof s !== 'string') throw invalid(`statusDetails.${k} expected a string`);
	return o as Record<string, string>;
}

function found<T>(item: T | undefined, jobId: string, f: (item: T) => unknown): ControlResult<unknown> {
	return item === undefined ? { ok: false, error: { type: 'ResourceNotFoundException', message: `job ${jobId} not found` } } : ok(f(item));
}

function ok(value: unknown): ControlResult<unknown> {
	return { ok: true, value };
}

function reply(res: http.ServerResponse, r: ControlResult<unknown>): void {
	if (!r.ok) throw new HttpError(r.error.type === 'ResourceNotFoundException' ? 404 : r.error.type === 'InvalidRequestException' ? 400 : 409, r.error.type, r.error.message);
	sendJson(res, 200, r.value ?? {});
}

const { body: parseBody, object, optionalString: optString } = bodyChecks({ notJson: 'SerializationException', invalid: 'InvalidRequestException' });

function flag(q: URLSearchParams, name: string): boolean {
	return q.get(name) === 'true';
}

function invalid(message: string): HttpError {
	return new HttpError(400, 'InvalidRequestException', message);
}

function decode(s: string): string {
	try {
		return decodeURIComponent(s);
	} catch {
		throw invalid('malformed path');
	}
}
