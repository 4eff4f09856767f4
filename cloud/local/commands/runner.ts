/*
 * The state of the local commands service and the runner around the pure moves of execution.ts:
 * commands, executions, the execution timers, the request and event messages, persistence
 * (<dataDir>/commands.json, write then rename). Both HTTP planes and the MQTT device side call
 * into one CommandsRunner.
 */
import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../credentials';
import type { LogFn } from '../log';
import { SnapshotFile } from '../snapshot-file';
import * as X from './execution';
import type { DeviceUpdate, Execution, ParameterValue, UpdateRefusal } from './execution';
import { executionPayload, resolveParameters, type CommandRecord } from './payload';

export type ErrorType = 'ValidationException' | 'ResourceNotFoundException' | 'ConflictException';
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: { readonly type: ErrorType; readonly message: string } };

export interface CommandsRunnerOptions {
	readonly publish: (topic: string, payload: Uint8Array | string) => Promise<void>;
	readonly log: LogFn;
	/** Milliseconds per second of executionTimeoutSeconds: 1000, or less in tests. */
	readonly secondMs: number;
	readonly dataDir?: string;
	readonly now?: () => number;
}

/** Without executionTimeoutSeconds: AWS's API reference names no default; the local service uses 10 s. */
export const DEFAULT_TIMEOUT_S = 10;
/** The local bound on executionTimeoutSeconds (a day; AWS documents none in the API reference). */
export const MAX_TIMEOUT_S = 86_400;

interface Snapshot {
	readonly version: 1;
	readonly commands: CommandRecord[];
	readonly executions: Execution[];
}

export function commandArn(commandId: string): string {
	return `arn:aws:iot:${LOCAL_REGION}:${LOCAL_ACCOUNT}:command/${commandId}`;
}

export function requestTopic(thing: string, executionId: string, format: 'json' | 'cbor' | undefined): string {
	return `$aws/commands/things/${thing}/executions/${executionId}/request` + (format ? '/' + format : '');
}

export class CommandsRunner {
	readonly #o: CommandsRunnerOptions;
	readonly #now: () => number;
	readonly #commands = new Map<string, CommandRecord>();
	readonly #executions = new Map<string, Execution>();
	readonly #timers = new Map<string, NodeJS.Timeout>();
	readonly #store: SnapshotFile<Snapshot> | undefined;
	#closed = false;

	constructor(o: CommandsRunnerOptions) {
		this.#o = o;
		this.#now = o.now ?? Date.now;
		this.#store = o.dataDir ? new SnapshotFile(path.join(o.dataDir, 'commands.json'), (): Snapshot => ({ version: 1, commands: this.commands(), executions: this.executions() }), o.log, 'commands') : undefined;
	}

	/** Loads commands.json, if any, and re-arms the timers (overdue ones fire at once). */
	async load(): Promise<void> {
		const snap = await this.#store?.read();
		if (!snap) return;
		for (const c of snap.commands) this.#commands.set(c.commandId, c);
		for (const e of snap.executions) this.#executions.set(e.executionId, e);
		for (const e of snap.executions) this.#arm(e);
	}

	command(commandId: string): CommandRecord | undefined {
		return this.#commands.get(commandId);
	}

	commands(): CommandRecord[] {
		return [...this.#commands.values()];
	}

	execution(executionId: string): Execution | undefined {
		return this.#executions.get(executionId);
	}

	executions(): Execution[] {
		return [...this.#executions.values()];
	}

	createCommand(c: Omit<CommandRecord, 'commandArn' | 'createdAt' | 'lastUpdatedAt' | 'namespace'>): Result<CommandRecord> {
		if (this.#commands.has(c.commandId)) return fail('ConflictException', `command ${c.commandId} already exists`);
		const now = this.#now();
		const record: CommandRecord = { ...c, namespace: 'AWS-IoT', commandArn: commandArn(c.commandId), createdAt: now, lastUpdatedAt: now };
		this.#commands.set(c.commandId, record);
		this.#save();
		return { ok: true, value: record };
	}

	/**
	 * StartCommandExecution: the execution is stored CREATED, its timer armed, and the request is
	 * published to the thing's request topic at QoS 1 (a robot with a persistent session gets it
	 * when it returns). The same clientToken with the same request returns the same execution;
	 * with another request it is a ConflictException.
	 */
	start(r: { commandId: string; targetArn: string; thingName: string; parameters?: Readonly<Record<string, ParameterValue>>; executionTimeoutSeconds?: number; clientToken?: string }): Result<Execution> {
		const command = this.#commands.get(r.commandId);
		if (!command) return fail('ResourceNotFoundException', `command ${r.commandId} not found`);
		const key = createHash('sha256')
			.update(JSON.stringify([r.commandId, r.targetArn, r.parameters ?? null, r.executionTimeoutSeconds ?? null]))
			.digest('hex');
		if (r.clientToken !== undefined) {
			const earlier = [...this.#executions.values()].find((e) => e.clientToken === r.clientToken);
			if (earlier) return earlier.requestKey === key ? { ok: true, value: earlier } : fail('ConflictException', `clientToken ${r.clientToken} was used with other parameters`);
		}
		const params = resolveParameters(command, r.parameters);
		if (!params.ok) return fail('ValidationException', params.message);
		const now = this.#now();
		const e: Execution = {
			executionId: randomUUID(),
			commandId: command.commandId,
			commandArn: command.commandArn,
			targetArn: r.targetArn,
			thingName: r.thingName,
			status: 'CREATED',
			...(Object.keys(params.parameters).length > 0 ? { parameters: params.parameters } : {}),
			executionTimeoutSeconds: r.executionTimeoutSeconds ?? DEFAULT_TIMEOUT_S,
			createdAt: now,
			lastUpdatedAt: now,
			timedOutByService: false,
			...(r.clientToken !== undefined ? { clientToken: r.clientToken, requestKey: key } : {}),
		};
		this.#executions.set(e.executionId, e);
		this.#arm(e);
		this.#save();
		const { bytes, format } = executionPayload(command, e);
		this.#o.log({ level: 'info', event: 'commands.execution.created', executionId: e.executionId, commandId: e.commandId, thing: e.thingName });
		this.#emitLater(requestTopic(e.thingName, e.executionId, format), bytes);
		this.#event(e);
		return { ok: true, value: e };
	}

	/** UpdateCommandExecution from the device, after the device API parsed and checked it. */
	update(executionId: string, thing: string, u: DeviceUpdate): { ok: true; execution: Execution } | { ok: false; refusal: UpdateRefusal | { code: 'ResourceNotFound'; message: string } } {
		const e = this.#executions.get(executionId);
		// another thing's execution id is answered as unknown: nothing about it leaks
		if (!e || e.thingName !== thing) return { ok: false, refusal: { code: 'ResourceNotFound', message: `no execution ${executionId} for ${thing}` } };
		const r = X.applyDeviceUpdate(e, u, this.#now());
		if (!r.ok) return r;
		this.#executions.set(executionId, r.execution);
		if (X.isTerminal(r.execution)) this.#disarm(executionId);
		this.#save();
		this.#o.log({ level: 'info', event: 'commands.execution.updated', executionId, status: r.execution.status, reason: r.execution.statusReason?.reasonCode });
		this.#event(r.execution);
		return r;
	}

	/** DeleteCommandExecution: only executions in a terminal state ("Only command executions that enter a terminal state can be deleted"). */
	deleteExecution(executionId: string, targetArn: string): Result<undefined> {
		const e = this.#executions.get(executionId);
		if (!e || e.targetArn !== targetArn) return fail('ResourceNotFoundException', `no execution ${executionId} on ${targetArn}`);
		if (!X.isTerminal(e) && e.status !== 'TIMED_OUT') return fail('ConflictException', `execution ${executionId} is ${e.status}, not terminal`);
		this.#executions.delete(executionId);
		this.#disarm(executionId);
		this.#save();
		return { ok: true, value: undefined };
	}

	async close(): Promise<void> {
		this.#closed = true;
		for (const t of this.#timers.values()) clearTimeout(t);
		this.#timers.clear();
		await this.#store?.settled();
	}

	#arm(e: Execution): void {
		if (e.status !== 'CREATED' && e.status !== 'IN_PROGRESS') return;
		this.#disarm(e.executionId);
		const wait = Math.max(0, X.deadline(e, this.#o.secondMs) - this.#now());
		const t = setTimeout(() => {
			this.#timers.delete(e.executionId);
			const current = this.#executions.get(e.executionId);
			const next = current && X.expire(current, this.#now());
			if (!next) return;
			this.#executions.set(next.executionId, next);
			this.#save();
			this.#o.log({ level: 'info', event: 'commands.execution.timed_out', executionId: next.executionId, thing: next.thingName });
			this.#event(next);
		}, wait);
		t.unref?.();
		this.#timers.set(e.executionId, t);
	}

	#disarm(executionId: string): void {
		const t = this.#timers.get(executionId);
		if (t) clearTimeout(t);
		this.#timers.delete(executionId);
	}

	/** Command execution events ("Command execution events"): `$aws/events/commandExecution/<commandId>/<status>`. */
	#event(e: Execution): void {
		this.#emitLater(
			`$aws/events/commandExecution/${e.commandId}/${e.status}`,
			JSON.stringify({
				executionId: e.executionId,
				status: e.status,
				...(e.statusReason ? { statusReason: e.statusReason } : {}),
				eventType: 'COMMAND_EXECUTION',
				commandArn: e.commandArn,
				targetArn: e.targetArn,
				timestamp: e.lastUpdatedAt,
			}),
		);
	}

	/** Published after the reply of the request that caused it (a microtask later); a failure is logged. */
	#emitLater(topic: string, payload: Uint8Array | string): void {
		if (this.#closed) return;
		queueMicrotask(() => {
			this.#o.publish(topic, payload).catch((err: unknown) => this.#o.log({ level: 'error', event: 'commands.publish.failed', topic, error: String(err) }));
		});
	}

	#save(): void {
		this.#store?.save();
	}
}

function fail(type: ErrorType, message: string): { ok: false; error: { type: ErrorType; message: string } } {
	return { ok: false, error: { type, message } };
}
