/*
 * The commands APIs over HTTP (restJson1, SigV4), as the AWS IoT API reference has them:
 * control plane (service `iot`, the same endpoint as the jobs control plane, which hands these
 * paths over; `@aws-sdk/client-iot`):
 *   PUT    /commands/{commandId}                        CreateCommand
 *   GET    /commands/{commandId}                        GetCommand
 *   GET    /command-executions/{id}?targetArn=          GetCommandExecution
 *   POST   /command-executions?maxResults=&nextToken=   ListCommandExecutions
 *   DELETE /command-executions/{id}?targetArn=          DeleteCommandExecution
 * jobs data plane (service `iot-jobs-data`, its own endpoint; `@aws-sdk/client-iot-jobs-data-plane`):
 *   POST   /command-executions                          StartCommandExecution
 * AWS has no operation that cancels a command execution (DeleteCommandExecution takes terminal
 * ones only): the product stops a robot with a `stop` command instead.
 * Errors: `x-amzn-errortype` names the exception, the body is `{ message }`.
 */
import type http from 'node:http';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../credentials';
import { bodyChecks, HttpError, listen, readBody, sendJson, type Listening } from '../http';
import type { LogFn } from '../log';
import { sha256Hex, verifySigV4 } from '../sigv4';
import { isThingName } from '../../../firmware/core/contracts/thing';
import { commandArn, MAX_TIMEOUT_S, type CommandsRunner, type Result } from './runner';
import { EXECUTION_STATUSES, type Execution, type ParameterValue } from './execution';
import { checkParameterValue, PARAMETER_NAME, templateParameters, type CommandParameter, type CommandRecord } from './payload';

export const MAX_BODY_BYTES = 64 * 1024;
/** commandId and executionId: 1-64 of [a-zA-Z0-9_-]. */
const ID = /^[a-zA-Z0-9_-]{1,64}$/;
const THING_ARN = /^arn:aws:iot:([a-z0-9-]+):(\d{12}):thing\/(.+)$/;
const COMMAND_ARN = /^arn:aws:iot:[a-z0-9-]+:\d{12}:command\/([a-zA-Z0-9_-]{1,64})$/;
/** clientToken: 1-64 of printable ASCII. */
const CLIENT_TOKEN = /^[\x21-\x7E]{1,64}$/;
/** TimeFilter: yyyy-MM-dd'T'HH:mm. */
const TIME_FILTER = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/;
const MAX_PAYLOAD = 32 * 1024;

export function thingArn(thing: string): string {
	return `arn:aws:iot:${LOCAL_REGION}:${LOCAL_ACCOUNT}:thing/${thing}`;
}

type Route = (method: string, path: string[], q: URLSearchParams, body: Uint8Array) => unknown;

/** The control-plane routes for the jobs server to hand over; undefined when the path is not a commands one. */
export function controlPlaneRoutes(runner: CommandsRunner): (method: string, path: string[], q: URLSearchParams, body: Uint8Array) => { status: number; body: unknown } | undefined {
	return (method, path, q, body) => {
		if (path[0] !== 'commands' && path[0] !== 'command-executions') return undefined;
		return { status: 200, body: control(runner)(method, path, q, body) };
	};
}

function control(runner: CommandsRunner): Route {
	return (method, path, q, body) => {
		const route = method + ' ' + path.map((s, i) => (i === 1 ? '{}' : s)).join('/');
		switch (route) {
			case 'PUT commands/{}':
				return createCommand(runner, path[1]!, json(body));
			case 'GET commands/{}': {
				const c = runner.command(path[1]!);
				if (!c) throw new HttpError(404, 'ResourceNotFoundException', `command ${path[1]} not found`);
				return describeCommand(c);
			}
			case 'GET command-executions/{}': {
				const e = found(runner.execution(path[1]!), path[1]!, targetOf(q));
				return describeExecution(e, q.get('includeResult') !== 'false');
			}
			case 'DELETE command-executions/{}':
				unwrap(runner.deleteExecution(path[1]!, targetOf(q)));
				return {};
			case 'POST command-executions':
				return list(runner, q, json(body));
		}
		throw new HttpError(404, 'ResourceNotFoundException', 'no operation at ' + method + ' /' + path.join('/'));
	};
}

/** The jobs data plane's StartCommandExecution on its own listener (signing service `iot-jobs-data`). */
export function startDataPlane(runner: CommandsRunner, o: { log: LogFn; host?: string; port?: number; verifySignatures?: boolean }): Promise<Listening> {
	return listen(
		async (req: http.IncomingMessage, res: http.ServerResponse) => {
			const body = await readBody(req, MAX_BODY_BYTES);
			checkSignature(req, body, 'iot-jobs-data', o.verifySignatures);
			const url = new URL(req.url ?? '/', 'http://local');
			if (req.method !== 'POST' || url.pathname !== '/command-executions') {
				throw new HttpError(404, 'ResourceNotFoundException', 'no operation at ' + req.method + ' ' + url.pathname);
			}
			sendJson(res, 200, startExecution(runner, json(body)));
		},
		{ ...(o.host !== undefined ? { host: o.host } : {}), ...(o.port !== undefined ? { port: o.port } : {}), onError: errorReply(o.log) },
	);
}

export function checkSignature(req: http.IncomingMessage, body: Uint8Array, service: string, verify = true): void {
	if (!verify) return;
	const signed = verifySigV4({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, rawHeaders: req.rawHeaders }, { service, payloadHash: sha256Hex(body), now: Date.now() });
	if (!signed.ok) throw new HttpError(signed.error.status, signed.error.code, signed.error.message);
}

export function errorReply(log: LogFn): (res: http.ServerResponse, e: unknown) => void {
	return (res, e) => {
		if (e instanceof HttpError) {
			log({ level: 'info', event: 'commands.http.rejected', type: e.code, message: e.message });
			return sendJson(res, e.status, { message: e.message }, { 'x-amzn-errortype': e.code });
		}
		log({ level: 'error', event: 'commands.http.error', error: String(e) });
		sendJson(res, 500, { message: 'Internal failure' }, { 'x-amzn-errortype': 'InternalServerException' });
	};
}

function startExecution(runner: CommandsRunner, b: Record<string, unknown>): { executionId: string } {
	const target = typeof b.targetArn === 'string' ? THING_ARN.exec(b.targetArn) : null;
	// AWS also targets MQTT clients (client/<id>); the product's robots are things
	if (!target || !isThingName(target[3]!)) throw invalid('targetArn expected a thing ARN such as ' + thingArn('robot-1') + ', got ' + JSON.stringify(b.targetArn));
	const command = typeof b.commandArn === 'string' ? COMMAND_ARN.exec(b.commandArn) : null;
	if (!command) throw invalid('commandArn expected arn:aws:iot:<region>:<account>:command/<commandId>, got ' + JSON.stringify(b.commandArn));
	const timeout = b.executionTimeoutSeconds;
	if (timeout !== undefined && (!Number.isSafeInteger(timeout) || (timeout as number) < 1 || (timeout as number) > MAX_TIMEOUT_S)) {
		throw invalid(`executionTimeoutSeconds expected an integer 1-${MAX_TIMEOUT_S}, got ${String(timeout)}`);
	}
	if (b.clientToken !== undefined && (typeof b.clientToken !== 'string' || !CLIENT_TOKEN.test(b.clientToken))) throw invalid('clientToken expected 1-64 printable ASCII characters');
	const parameters = b.parameters === undefined ? undefined : parameterMap(b.parameters);
	const r = runner.start({
		commandId: command[1]!,
		targetArn: b.targetArn as string,
		thingName: target[3]!,
		...(parameters ? { parameters } : {}),
		...(timeout !== undefined ? { executionTimeoutSeconds: timeout as number } : {}),
		...(b.clientToken !== undefined ? { clientToken: b.clientToken as string } : {}),
	});
	return { executionId: unwrap(r).executionId };
}

function createCommand(runner: CommandsRunner, commandId: string, b: Record<string, unknown>): unknown {
	if (!ID.test(commandId)) throw invalid('commandId expected 1-64 of [a-zA-Z0-9_-], got ' + JSON.stringify(commandId));
	if (b.namespace !== undefined && b.namespace !== 'AWS-IoT') throw invalid('namespace: the local service has AWS-IoT only (AWS-IoT-FleetWise needs FleetWise)');
	const displayName = optString(b, 'displayName', 64);
	const description = optString(b, 'description', 2028);
	if ((b.payload === undefined) === (b.payloadTemplate === undefined)) throw invalid('exactly one of payload (static) and payloadTemplate (dynamic) is required');
	let payload: CommandRecord['payload'];
	if (b.payload !== undefined) {
		const p = object(b.payload, 'payload');
		if (typeof p.content !== 'string' || Buffer.from(p.content, 'base64').byteLength > MAX_PAYLOAD) throw invalid(`payload.content expected base64 of at most ${MAX_PAYLOAD} bytes`);
		payload = { content: p.content, ...(typeof p.contentType === 'string' ? { contentType: p.contentType } : {}) };
	}
	let mandatoryParameters: CommandParameter[] | undefined;
	if (b.payloadTemplate !== undefined) {
		if (typeof b.payloadTemplate !== 'string' || b.payloadTemplate.length > MAX_PAYLOAD) throw invalid(`payloadTemplate expected a string of at most ${MAX_PAYLOAD} characters`);
		const pre = object(b.preprocessor ?? {}, 'preprocessor');
		const format = (pre.awsJsonSubstitution as { outputFormat?: unknown } | undefined)?.outputFormat;
		if (format !== 'JSON') throw invalid('preprocessor.awsJsonSubstitution.outputFormat expected JSON (CBOR is not supported locally)');
		const names = templateParameters(b.payloadTemplate);
		if (!names.ok) throw invalid(names.message);
		if (!Array.isArray(b.mandatoryParameters)) throw invalid('mandatoryParameters expected a list for a payloadTemplate');
		mandatoryParameters = b.mandatoryParameters.map((raw: unknown, i: number) => {
			const p = object(raw, `mandatoryParameters[${i}]`);
			if (typeof p.name !== 'string' || !PARAMETER_NAME.test(p.name)) throw invalid(`mandatoryParameters[${i}].name expected 1-192 of [.$a-zA-Z0-9_-]`);
			if (p.defaultValue !== undefined) {
				const why = checkParameterValue(p.defaultValue);
				if (why) throw invalid(`mandatoryParameters[${i}].defaultValue ${why}`);
			}
			return {
				name: p.name,
				...(typeof p.description === 'string' ? { description: p.description } : {}),
				...(p.defaultValue !== undefined ? { defaultValue: p.defaultValue as ParameterValue } : {}),
			};
		});
		const declared = new Set(mandatoryParameters.map((p) => p.name));
		const undeclared = names.names.filter((n) => !declared.has(n));
		if (undeclared.length > 0) throw invalid('payloadTemplate names parameters that mandatoryParameters does not declare: ' + undeclared.join(', '));
	}
	const r = runner.createCommand({
		commandId,
		...(displayName !== undefined ? { displayName } : {}),
		...(description !== undefined ? { description } : {}),
		...(payload ? { payload } : {}),
		...(typeof b.payloadTemplate === 'string' ? { payloadTemplate: b.payloadTemplate } : {}),
		...(mandatoryParameters ? { mandatoryParameters } : {}),
	});
	const c = unwrap(r);
	return { commandId: c.commandId, commandArn: c.commandArn };
}

function describeCommand(c: CommandRecord): unknown {
	return {
		commandId: c.commandId,
		commandArn: c.commandArn,
		namespace: c.namespace,
		...(c.displayName !== undefined ? { displayName: c.displayName } : {}),
		...(c.description !== undefined ? { description: c.description } : {}),
		...(c.payload ? { payload: c.payload } : {}),
		...(c.payloadTemplate !== undefined ? { payloadTemplate: c.payloadTemplate, preprocessor: { awsJsonSubstitution: { outputFormat: 'JSON' } } } : {}),
		...(c.mandatoryParameters ? { mandatoryParameters: c.mandatoryParameters } : {}),
		createdAt: c.createdAt / 1000,
		lastUpdatedAt: c.lastUpdatedAt / 1000,
		deprecated: false,
		pendingDeletion: false,
	};
}

function describeExecution(e: Execution, includeResult: boolean): unknown {
	return {
		executionId: e.executionId,
		commandArn: e.commandArn,
		targetArn: e.targetArn,
		status: e.status,
		...(e.statusReason ? { statusReason: e.statusReason } : {}),
		...(includeResult && e.result ? { result: e.result } : {}),
		...(e.parameters ? { parameters: e.parameters } : {}),
		executionTimeoutSeconds: e.executionTimeoutSeconds,
		createdAt: e.createdAt / 1000,
		lastUpdatedAt: e.lastUpdatedAt / 1000,
		...(e.startedAt !== undefined ? { startedAt: e.startedAt / 1000 } : {}),
		...(e.completedAt !== undefined ? { completedAt: e.completedAt / 1000 } : {}),
	};
}

function list(runner: CommandsRunner, q: URLSearchParams, b: Record<string, unknown>): unknown {
	// "You must provide only the commandArn or the thingArn ... If you provide both fields, the API will generate an error."
	if (b.commandArn !== undefined && b.targetArn !== undefined) throw invalid('give commandArn or targetArn, not both');
	if (b.startedTimeFilter !== undefined && b.completedTimeFilter !== undefined) throw invalid('give startedTimeFilter or completedTimeFilter, not both');
	if (b.status !== undefined && !(EXECUTION_STATUSES as readonly unknown[]).includes(b.status)) throw invalid('status expected one of ' + EXECUTION_STATUSES.join(', '));
	if (b.sortOrder !== undefined && b.sortOrder !== 'ASCENDING' && b.sortOrder !== 'DESCENDING') throw invalid('sortOrder expected ASCENDING or DESCENDING');
	if (b.namespace !== undefined && b.namespace !== 'AWS-IoT') throw invalid('namespace: the local service has AWS-IoT only');
	const startedRange = b.startedTimeFilter === undefined ? undefined : timeFilter(b.startedTimeFilter, 'startedTimeFilter');
	const completedRange = b.completedTimeFilter === undefined ? undefined : timeFilter(b.completedTimeFilter, 'completedTimeFilter');
	const inRange = (t: number | undefined, r: { after?: number; before?: number } | undefined): boolean => r === undefined || (t !== undefined && (r.after === undefined || t >= r.after) && (r.before === undefined || t <= r.before));
	const items = runner
		.executions()
		.filter(
			(e) =>
				(b.commandArn === undefined || e.commandArn === b.commandArn) &&
				(b.targetArn === undefined || e.targetArn === b.targetArn) &&
				(b.status === undefined || e.status === b.status) &&
				inRange(e.startedAt, startedRange) &&
				inRange(e.completedAt, completedRange),
		)
		// "By default, the API returns all commands in the descending order"
		.sort((x, y) => (b.sortOrder === 'ASCENDING' ? x.createdAt - y.createdAt : y.createdAt - x.createdAt));
	const max = q.has('maxResults') ? Number(q.get('maxResults')) : 100;
	if (!Number.isSafeInteger(max) || max < 1 || max > 100) throw invalid('maxResults expected 1-100');
	const token = q.get('nextToken');
	const from = token === null ? 0 : Number(token);
	if (!Number.isSafeInteger(from) || from < 0 || from > items.length) throw invalid('nextToken is not valid');
	const to = from + max;
	return {
		commandExecutions: items.slice(from, to).map((e) => ({
			commandArn: e.commandArn,
			executionId: e.executionId,
			targetArn: e.targetArn,
			status: e.status,
			createdAt: e.createdAt / 1000,
			...(e.startedAt !== undefined ? { startedAt: e.startedAt / 1000 } : {}),
			...(e.completedAt !== undefined ? { completedAt: e.completedAt / 1000 } : {}),
		})),
		...(to < items.length ? { nextToken: String(to) } : {}),
	};
}

function timeFilter(v: unknown, name: string): { after?: number; before?: number } {
	const f = object(v, name);
	const at = (k: 'after' | 'before'): number | undefined => {
		const s = f[k];
		if (s === undefined) return undefined;
		if (typeof s !== 'string' || !TIME_FILTER.test(s)) throw invalid(`${name}.${k} expected yyyy-MM-ddTHH:mm`);
		return Date.parse(s + ':00Z');
	};
	const after = at('after');
	const before = at('before');
	return { ...(after !== undefined ? { after } : {}), ...(before !== undefined ? { before } : {}) };
}

function parameterMap(v: unknown): Record<string, ParameterValue> {
	const o = object(v, 'parameters');
	if (Object.keys(o).length === 0) throw invalid('parameters expected at least one entry');
	for (const [k, x] of Object.entries(o)) {
		if (!PARAMETER_NAME.test(k)) throw invalid(`parameters: name ${JSON.stringify(k)} expected 1-192 of [.$a-zA-Z0-9_-]`);
		const why = checkParameterValue(x);
		if (why) throw invalid(`parameters.${k} ${why}`);
	}
	return o as Record<string, ParameterValue>;
}

function targetOf(q: URLSearchParams): string {
	const t = q.get('targetArn');
	if (!t) throw invalid('targetArn is required');
	return t;
}

function found(e: Execution | undefined, id: string, target: string): Execution {
	if (!e || e.targetArn !== target) throw new HttpError(404, 'ResourceNotFoundException', `no execution ${id} on ${target}`);
	return e;
}

function unwrap<T>(r: Result<T>): T {
	if (r.ok) return r.value;
	throw new HttpError(r.error.type === 'ResourceNotFoundException' ? 404 : r.error.type === 'ConflictException' ? 409 : 400, r.error.type, r.error.message);
}

// the commands API answers every bad body with ValidationException
const { body: json, object, optionalString: optString } = bodyChecks({ notJson: 'ValidationException', invalid: 'ValidationException' });

function invalid(message: string): HttpError {
	return new HttpError(400, 'ValidationException', message);
}

export { commandArn };
