/*
 * AWS IoT Jobs device MQTT API client, the parts an OTA agent needs: notify-next,
 * start-next and update (with expectedVersion), each request carrying a clientToken
 * matched on /accepted and /rejected, with typed results like the shadow client.
 * Replies and notifications at QoS 0: the agent asks start-next on every connection,
 * so a notification missed while away is not lost.
 */
import type { LogPort, RandomPort, TimerPort } from '../../ports';
import type { LinkError, Message } from '../link/link';
import { jsonObject, Requests, type Messenger } from '../link/requests';
import { checkThingName } from '../contracts/thing';
import { jobsTopicPrefix } from '../contracts/topics';
import { err, ok, type Result } from '../util/result';
import type { Details, Execution, Status } from './machine';

export type JobsError =
	{ readonly code: 'rejected'; readonly rejection: string; readonly message: string; readonly versionNumber?: number } | { readonly code: 'timeout' } | { readonly code: 'offline' } | { readonly code: 'link'; readonly error: LinkError };

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function execution(x: unknown): Execution | undefined {
	if (!isObject(x) || typeof x.jobId !== 'string' || typeof x.versionNumber !== 'number') return undefined;
	return { jobId: x.jobId, versionNumber: x.versionNumber, document: x.jobDocument };
}

export class JobsClient {
	readonly prefix: string;
	readonly #ports: { timers: TimerPort; random: RandomPort; log: LogPort };
	readonly #requests: Requests;
	#notify: ((jobId: string | undefined) => void) | undefined;

	constructor(link: Messenger, ports: { timers: TimerPort; random: RandomPort; log: LogPort }, options: { thing: string; timeoutMs?: number }) {
		checkThingName(options.thing);
		this.#ports = ports;
		this.#requests = new Requests(link, ports, { name: 'jobs', timeoutMs: options.timeoutMs ?? 10_000 });
		this.prefix = jobsTopicPrefix(options.thing);
		for (const f of ['notify-next', 'start-next/+', '+/update/+']) {
			const r = link.subscribe(this.prefix + f, (m) => this.#received(m), 0);
			if (!r.ok) throw new Error('jobs: cannot subscribe ' + f + ': ' + JSON.stringify(r.error));
		}
	}

	/** The next pending execution changed; undefined when none is left. */
	onNotifyNext(handler: (jobId: string | undefined) => void): void {
		this.#notify = handler;
	}

	/** Starts the next pending execution (IN_PROGRESS) and returns it with its document, or undefined when none is pending. */
	async startNext(details: Details, stepTimeoutInMinutes?: number): Promise<Result<Execution | undefined, JobsError>> {
		const body: Record<string, unknown> = { statusDetails: details };
		if (stepTimeoutInMinutes !== undefined) body.stepTimeoutInMinutes = stepTimeoutInMinutes;
		const r = await this.#request('start-next', body);
		if (!r.ok) return r;
		return ok(execution(r.value.execution));
	}

	/** Updates an execution; returns its new versionNumber. */
	async update(jobId: string, status: Status, details: Details, expectedVersion?: number): Promise<Result<number, JobsError>> {
		const body: Record<string, unknown> = { status, statusDetails: details, includeJobExecutionState: true };
		if (expectedVersion !== undefined) body.expectedVersion = expectedVersion;
		const r = await this.#request(jobId + '/update', body);
		if (!r.ok) return r;
		const state = r.value.executionState;
		const v = isObject(state) && typeof state.versionNumber === 'number' ? state.versionNumber : (expectedVersion ?? 0) + 1;
		return ok(v);
	}

	async #request(op: string, body: Record<string, unknown>): Promise<Result<Record<string, unknown>, JobsError>> {
		const r = await this.#requests.send(this.prefix + op, body, op);
		if (!r.ok) return r;
		const reply = r.value.body;
		if (r.value.accepted) return ok(reply);
		const state = reply.executionState;
		const versionNumber = isObject(state) && typeof state.versionNumber === 'number' ? state.versionNumber : undefined;
		const rejection = typeof reply.code === 'string' ? reply.code : 'unknown';
		this.#ports.log.log('warn', 'jobs.rejected', { op, code: rejection, message: String(reply.message ?? '') });
		return err({ code: 'rejected', rejection, message: String(reply.message ?? ''), ...(versionNumber !== undefined ? { versionNumber } : {}) });
	}

	#received(m: Message): void {
		const body = jsonObject(m.payload);
		if (!body) return this.#ports.log.log('error', 'jobs.bad_message', { topic: m.topic, bytes: m.payload.length });
		const suffix = m.topic.slice(this.prefix.length);
		if (suffix === 'notify-next') {
			this.#notify?.(execution(body.execution)?.jobId);
			return;
		}
		this.#requests.answer(body, suffix.endsWith('/accepted'));
	}
}
