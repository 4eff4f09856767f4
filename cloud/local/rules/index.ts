/*
 * The local AWS IoT rules engine: topic rules whose one action invokes a handler with the
 * Lambda signature, the way an IoT rule's Lambda action does (an asynchronous "Event"
 * invocation whose event is the SELECT output).
 *
 * AWS behaviours kept here:
 * - Basic Ingest: a device publish to `$aws/rules/<ruleName>/<rest>` goes to that rule only,
 *   its FROM filter is matched against <rest>, and topic() gives <rest>;
 * - ordinary topics go to every rule whose FROM filter matches (MQTT matching, so `#` and
 *   `+` do not match a `$` topic [MQTT-4.7.2-1]);
 * - principal() of a certificate connection is the certificate ID, the SHA-256 of its DER;
 * - a failed invocation is retried twice (Lambda's asynchronous retries; delays here are
 *   short and configurable), then the rule's error action gets the AWS error-action payload;
 * - one rule's failure never stops another rule.
 * Rules see device publishes (bus.onDevicePublish), not messages the cloud itself publishes,
 * except AWS's event topics (`$aws/events/...`: lifecycle events), which AWS routes to rules.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Bus, DevicePublish } from '../bus';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../credentials';
import type { LogFn } from '../log';
import { evaluate, parseSql, readsJson, type Query } from './sql';

export { SqlError, parseSql, evaluate } from './sql';
export type { Query, SelectItem, MessageContext } from './sql';

/** The parts of the Lambda context object handlers use. */
export interface LambdaContext {
	readonly functionName: string;
	readonly functionVersion: string;
	readonly invokedFunctionArn: string;
	readonly memoryLimitInMB: string;
	readonly awsRequestId: string;
	readonly logGroupName: string;
	readonly logStreamName: string;
	callbackWaitsForEmptyEventLoop: boolean;
	getRemainingTimeInMillis(): number;
}

export type LambdaHandler = (event: Record<string, unknown>, context: LambdaContext) => Promise<unknown>;

/** What AWS sends an error action (IoT "Error action message format"). */
export interface RuleErrorPayload {
	readonly ruleName: string;
	readonly topic: string;
	readonly clientId: string;
	readonly base64OriginalPayload: string;
	readonly failures: readonly { readonly failedAction: string; readonly failedResource: string; readonly errorMessage: string }[];
}

export interface TopicRule {
	/** AWS rule names: 1-128 of [a-zA-Z0-9_]. */
	readonly name: string;
	readonly sql: string;
	readonly handler: LambdaHandler;
	/** The Lambda function name in the context and error payloads; defaults to the rule name. */
	readonly functionName?: string;
	readonly errorAction?: (error: RuleErrorPayload) => void | Promise<void>;
	readonly disabled?: boolean;
}

export interface RulesOptions {
	readonly bus: Bus;
	readonly log: LogFn;
	/** Retries after a failed invocation (AWS: 2). */
	readonly retries?: number;
	/** Delay before the first retry, doubled each time (AWS: about a minute; here 100 ms). */
	readonly retryDelayMs?: number;
	/** Lambda timeout for getRemainingTimeInMillis (default 30 s). */
	readonly timeoutMs?: number;
	readonly now?: () => number;
}

export interface Rules {
	/** Parses the SQL and starts routing to the rule; a bad name or SQL throws, naming what is wrong. */
	add(rule: TopicRule): void;
	remove(name: string): boolean;
	names(): string[];
	/** Resolves when every invocation under way (retries included) has finished. */
	idle(): Promise<void>;
	close(): Promise<void>;
}

const RULE_NAME = /^[a-zA-Z0-9_]{1,128}$/;
const BASIC_INGEST = '$aws/rules/';

interface Entry {
	readonly rule: TopicRule;
	readonly query: Query;
	readonly functionName: string;
}

export function createRules(o: RulesOptions): Rules {
	const retries = o.retries ?? 2;
	const retryDelayMs = o.retryDelayMs ?? 100;
	const timeoutMs = o.timeoutMs ?? 30_000;
	const now = o.now ?? Date.now;
	if (!Number.isInteger(retries) || retries < 0) throw new RangeError('"retries" expected an integer >= 0, got ' + retries);
	if (!(retryDelayMs >= 0)) throw new RangeError('"retryDelayMs" expected >= 0, got ' + retryDelayMs);
	const rules = new Map<string, Entry>();
	const running = new Set<Promise<void>>();
	let closed = false;

	const off = o.bus.onDevicePublish((m) => {
		if (closed) return;
		const at = now();
		if (m.topic.startsWith(BASIC_INGEST)) {
			const [name = '', ...rest] = m.topic.slice(BASIC_INGEST.length).split('/');
			const topic = rest.join('/');
			const entry = rules.get(name);
			if (!entry || entry.rule.disabled) {
				o.log({ level: 'warn', event: 'rules.basic_ingest.no_rule', rule: name, topic: m.topic, thing: m.thing });
				return;
			}
			if (!matches(entry.query.from, topic)) {
				o.log({ level: 'info', event: 'rules.basic_ingest.no_match', rule: name, topic, from: entry.query.from });
				return;
			}
			run(entry, m, topic, at);
			return;
		}
		for (const entry of rules.values()) if (!entry.rule.disabled && matches(entry.query.from, m.topic)) run(entry, m, m.topic, at);
	});
	// AWS's own event topics (lifecycle events) reach rules too, though the broker publishes them, not a device
	const offEvents = o.bus.subscribe('$aws/events/#', (m) => {
		if (closed) return;
		const at = now();
		const message: DevicePublish = { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, clientId: '', thing: '', certificate: new Uint8Array(0) };
		for (const entry of rules.values()) if (!entry.rule.disabled && matches(entry.query.from, m.topic)) run(entry, message, m.topic, at);
	});

	function run(entry: Entry, m: DevicePublish, topic: string, at: number): void {
		const p = invoke(entry, m, topic, at).finally(() => running.delete(p));
		running.add(p);
	}

	async function invoke(entry: Entry, m: DevicePublish, topic: string, at: number): Promise<void> {
		const { rule } = entry;
		let event: Record<string, unknown>;
		try {
			const payload = readsJson(entry.query) ? (JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(m.payload)) as unknown) : undefined;
			event = evaluate(entry.query, payload, {
				topic,
				clientId: m.clientId,
				principal: m.certificate.length > 0 ? certificateId(m.certificate) : '',
				timestamp: at,
				raw: m.payload,
			});
		} catch (e) {
			// AWS gives a rule over a non-JSON payload nothing to select from (binary needs other SQL)
			return fail(entry, m, topic, 'the payload is not a JSON object: ' + (e as Error).message, 0);
		}
		let lastError = '';
		for (let attempt = 0; attempt <= retries; attempt++) {
			if (attempt > 0) {
				await new Promise((r) => setTimeout(r, retryDelayMs * 2 ** (attempt - 1)));
				if (closed) return;
			}
			const context = lambdaContext(entry.functionName, now() + timeoutMs, now);
			try {
				await rule.handler(copyJson(event) as Record<string, unknown>, context);
				o.log({ level: 'info', event: 'rules.invoked', rule: rule.name, topic, attempt, requestId: context.awsRequestId });
				return;
			} catch (e) {
				lastError = e instanceof Error ? e.message : String(e);
				o.log({ level: 'warn', event: 'rules.handler.error', rule: rule.name, topic, attempt, retriesLeft: retries - attempt, error: lastError });
			}
		}
		return fail(entry, m, topic, lastError, retries + 1);
	}

	async function fail(entry: Entry, m: DevicePublish, topic: string, errorMessage: string, attempts: number): Promise<void> {
		o.log({ level: 'error', event: 'rules.failed', rule: entry.rule.name, topic, attempts, error: errorMessage });
		if (!entry.rule.errorAction) return;
		try {
			await entry.rule.errorAction({
				ruleName: entry.rule.name,
				topic,
				clientId: m.clientId,
				base64OriginalPayload: Buffer.from(m.payload).toString('base64'),
				failures: [{ failedAction: 'LambdaAction', failedResource: functionArn(entry.functionName), errorMessage }],
			});
		} catch (e) {
			o.log({ level: 'error', event: 'rules.error_action.failed', rule: entry.rule.name, error: String(e) });
		}
	}

	return {
		add(rule) {
			if (typeof rule?.name !== 'string' || !RULE_NAME.test(rule.name)) throw new TypeError('"rule.name" expected 1-128 of [a-zA-Z0-9_], got ' + JSON.stringify(rule?.name));
			if (typeof rule.handler !== 'function') throw new TypeError(`"rule.handler" of ${rule.name} expected a function`);
			if (rules.has(rule.name)) throw new Error(`rule ${rule.name} already exists`);
			const query = parseSql(rule.sql);
			rules.set(rule.name, { rule, query, functionName: rule.functionName ?? rule.name });
			o.log({ level: 'info', event: 'rules.added', rule: rule.name, from: query.from });
		},
		remove(name) {
			return rules.delete(name);
		},
		names() {
			return [...rules.keys()];
		},
		async idle() {
			while (running.size > 0) await Promise.all([...running]);
		},
		async close() {
			closed = true;
			off();
			offEvents();
			await Promise.all([...running]);
		},
	};
}

/** AWS IoT certificate ID: the hex SHA-256 of the certificate DER. */
/**
 * The event as Lambda hands it over: a fresh copy of a JSON value (IoT serialises it, the
 * runtime parses it). Iterative: a payload nested 60,000 deep reaches the handler, whose
 * job it is to refuse it, instead of overflowing structuredClone's stack here.
 */
export function copyJson(value: unknown): unknown {
	const root: { v: unknown } = { v: undefined };
	const work: { from: unknown; to: Record<string, unknown> | unknown[]; key: string | number }[] = [{ from: value, to: root as unknown as Record<string, unknown>, key: 'v' }];
	while (work.length > 0) {
		const { from, to, key } = work.pop()!;
		let out: unknown = from;
		if (Array.isArray(from)) {
			const a: unknown[] = new Array(from.length);
			from.forEach((x, i) => work.push({ from: x, to: a, key: i }));
			out = a;
		} else if (typeof from === 'object' && from !== null) {
			const o: Record<string, unknown> = {};
			for (const [k, x] of Object.entries(from)) work.push({ from: x, to: o, key: k });
			out = o;
		}
		(to as Record<string | number, unknown>)[key] = out;
	}
	return root.v;
}

export function certificateId(der: Uint8Array): string {
	return createHash('sha256').update(der).digest('hex');
}

/** MQTT topic matching [MQTT-4.7]; wildcards at the first level do not match `$` topics. */
export function matches(filter: string, topic: string): boolean {
	const f = filter.split('/');
	const t = topic.split('/');
	if (topic.startsWith('$') && (f[0] === '#' || f[0] === '+')) return false;
	for (let i = 0; i < f.length; i++) {
		if (f[i] === '#') return true;
		if (i >= t.length) return false;
		if (f[i] !== '+' && f[i] !== t[i]) return false;
	}
	return f.length === t.length;
}

export function functionArn(name: string): string {
	return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${name}`;
}

function lambdaContext(functionName: string, deadline: number, now: () => number): LambdaContext {
	const requestId = randomUUID();
	return {
		functionName,
		functionVersion: '$LATEST',
		invokedFunctionArn: functionArn(functionName),
		memoryLimitInMB: '128',
		awsRequestId: requestId,
		logGroupName: '/aws/lambda/' + functionName,
		logStreamName: new Date().toISOString().slice(0, 10).replace(/-/g, '/') + '/[$LATEST]' + requestId.replace(/-/g, ''),
		callbackWaitsForEmptyEventLoop: true,
		getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
	};
}
