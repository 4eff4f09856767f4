/*
 * AWS IoT Jobs device MQTT API client, the parts an OTA agent needs: notify-next,
 * start-next and update (with expectedVersion), each request carrying a clientToken
 * matched on /accepted and /rejected, with typed results like the shadow client.
 * Replies and notifications at QoS 0: the agent asks start-next on every connection,
 * so a notification missed while away is not lost.
 */
import type { LogPort, RandomPort, TimerPort } from '../../ports';
import type { Message } from '../link/link';
import type { Messenger } from '../shadow/client';
import { err, ok, type Result } from '../util/result';
import { utf8Decode, utf8Encode } from '../util/utf8';
import type { Details, Execution, Status } from './machine';

export type JobsError =
	| { readonly code: 'rejected'; readonly rejection: string; readonly message: string; readonly versionNumber?: number }
	| { readonly code: 'timeout' }
	| { readonly code: 'offline' }
	| { readonly code: 'link' };

type Reply = { readonly ok: true; readonly body: Record<string, unknown> } | { readonly ok: false; readonly body: Record<string, unknown> };

interface Pending {
	readonly resolve: (r: Reply | undefined) => void;
	readonly timer: ReturnType<TimerPort['set']>;
	readonly seq: number;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function execution(x: unknown): Execution | undefined {
	if (!isObject(x) || typeof x.jobId !== 'string' || typeof x.versionNumber !== 'number') return undefined;
	return { jobId: x.jobId, versionNumber: x.versionNumber, document: x.jobDocument };
}

export class JobsClient {
	readonly prefix: string;
	readonly #link: Messenger;
	readonly #ports: { timers: TimerPort; random: RandomPort; log: LogPort };
	readonly #timeoutMs: number;
	readonly #pending = new Map<string, Pending>();
	#tokens = 0;
	#notify: ((jobId: string | undefined) => void) | undefined;

	constructor(link: Messenger, ports: { timers: TimerPort; random: RandomPort; log: LogPort }, options: { thing: string; timeoutMs?: number }) {
		if (typeof options.thing !== 'string' || !/^[A-Za-z0-9:_-]{1,128}$/.test(options.thing))
			throw new RangeError('"thing" expected 1..128 of [A-Za-z0-9:_-], got ' + JSON.stringify(options.thing));
		this.#link = link;
		this.#ports = ports;
		this.#timeoutMs = options.timeoutMs ?? 10_000;
		this.prefix = '$aws/things/' + options.thing + '/jobs/';
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

	/** Settles every request in flight as offline. */
	abandon(): void {
		for (const [token, p] of this.#pending) this.#settle(token, p, undefined);
	}

	#request(op: string, body: Record<string, unknown>): Promise<Result<Record<string, unknown>, JobsError>> {
		const s = this.#link.state.value;
		if (s !== 'connected' && s !== 'connecting') return Promise.resolve(err({ code: 'offline' }));
		const token = (++this.#tokens).toString(36) + '-' + Math.floor(this.#ports.random.random() * 0x7fffffff).toString(36);
		body.clientToken = token;
		const sent = this.#link.publish(this.prefix + op, utf8Encode(JSON.stringify(body)), 1, false);
		if (!sent.ok) return Promise.resolve(err({ code: 'link' }));
		return new Promise<Reply | undefined | 'timeout'>((resolve) => {
			const timer = this.#ports.timers.set(() => {
				const p = this.#pending.get(token);
				if (!p) return;
				this.#ports.log.log('warn', 'jobs.timeout', { op, ms: this.#timeoutMs });
				this.#pending.delete(token);
				this.#link.withdraw(p.seq);
				resolve('timeout');
			}, this.#timeoutMs);
			this.#pending.set(token, { resolve, timer, seq: sent.value });
		}).then((r): Result<Record<string, unknown>, JobsError> => {
			if (r === 'timeout') return err({ code: 'timeout' });
			if (r === undefined) return err({ code: 'offline' });
			if (r.ok) return ok(r.body);
			const state = r.body.executionState;
			const versionNumber = isObject(state) && typeof state.versionNumber === 'number' ? state.versionNumber : undefined;
			const rejection = typeof r.body.code === 'string' ? r.body.code : 'unknown';
			this.#ports.log.log('warn', 'jobs.rejected', { op, code: rejection, message: String(r.body.message ?? '') });
			return err({ code: 'rejected', rejection, message: String(r.body.message ?? ''), ...(versionNumber !== undefined ? { versionNumber } : {}) });
		});
	}

	#settle(token: string, p: Pending, r: Reply | undefined): void {
		this.#pending.delete(token);
		this.#ports.timers.clear(p.timer);
		if (!r) this.#link.withdraw(p.seq);
		p.resolve(r);
	}

	#received(m: Message): void {
		const text = utf8Decode(m.payload);
		let body: unknown;
		try {
			body = text === undefined ? undefined : JSON.parse(text);
		} catch {
			body = undefined;
		}
		if (!isObject(body)) return this.#ports.log.log('error', 'jobs.bad_message', { topic: m.topic, bytes: m.payload.length });
		const suffix = m.topic.slice(this.prefix.length);
		if (suffix === 'notify-next') {
			this.#notify?.(execution(body.execution)?.jobId);
			return;
		}
		const token = body.clientToken;
		const p = typeof token === 'string' ? this.#pending.get(token) : undefined;
		if (!p) return;
		this.#settle(token as string, p, { ok: suffix.endsWith('/accepted'), body });
	}
}
