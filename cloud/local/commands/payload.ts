/*
 * A command's payload for one execution ("Create and manage commands"):
 * - a static command sends its `payload.content` as is;
 * - a dynamic command has a `payloadTemplate` (JSON, preprocessor `awsJsonSubstitution` with
 *   outputFormat JSON) whose placeholders `${aws:iot:commandexecution::parameter:NAME}` and
 *   `${aws:iot:commandexecution::executionTimeoutSec}` are replaced at StartCommandExecution;
 *   a parameter missing from the request takes its `defaultValue`, one with neither is refused.
 * AWS does not spell out how a typed value lands in the JSON; here a placeholder that is a whole
 * JSON string becomes the typed JSON value (I, L, D numbers, B booleans, S and UL strings), and
 * one inside a longer string is written as text. CBOR output is not supported locally.
 * The request topic's last level is the payload format: `json`, `cbor`, or none for any other
 * content type ("Commands topics").
 */
import type { Execution, ParameterValue } from './execution';

export interface CommandParameter {
	readonly name: string;
	readonly description?: string;
	readonly defaultValue?: ParameterValue;
}

export interface CommandRecord {
	readonly commandId: string;
	readonly commandArn: string;
	readonly namespace: 'AWS-IoT';
	readonly displayName?: string;
	readonly description?: string;
	/** Static payload, content base64 as in the restJson request. */
	readonly payload?: { readonly content: string; readonly contentType?: string };
	readonly payloadTemplate?: string;
	readonly mandatoryParameters?: readonly CommandParameter[];
	readonly createdAt: number;
	readonly lastUpdatedAt: number;
}

export const PARAMETER_NAME = /^[.$a-zA-Z0-9_-]{1,192}$/;
const PLACEHOLDER = /\$\{aws:iot:commandexecution::(parameter:([.$a-zA-Z0-9_-]{1,192})|executionTimeoutSec)\}/g;
const TYPES = Object.freeze(['S', 'B', 'I', 'L', 'D', 'UL', 'BIN'] as const);

/** Why a parameter value is not one of the documented shapes, or undefined. */
export function checkParameterValue(v: unknown): string | undefined {
	if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'expected an object with one of ' + TYPES.join(', ');
	const keys = Object.keys(v);
	if (keys.length !== 1 || !(TYPES as readonly string[]).includes(keys[0]!)) return 'expected exactly one of ' + TYPES.join(', ');
	const [k, x] = Object.entries(v)[0]!;
	switch (k) {
		case 'S':
		case 'UL':
		case 'BIN':
			return typeof x === 'string' && x.length > 0 ? undefined : k + ' expected a non-empty string';
		case 'B':
			return typeof x === 'boolean' ? undefined : 'B expected a boolean';
		case 'I':
			return Number.isInteger(x) && (x as number) >= -2147483648 && (x as number) <= 2147483647 ? undefined : 'I expected a 32-bit integer';
		case 'L':
			return Number.isSafeInteger(x) ? undefined : 'L expected an integer';
		default:
			return typeof x === 'number' && Number.isFinite(x) ? undefined : 'D expected a number';
	}
}

/** The placeholders a template names; a template that is not JSON is refused with the parse error. */
export function templateParameters(template: string): { ok: true; names: string[] } | { ok: false; message: string } {
	try {
		JSON.parse(template);
	} catch (e) {
		return { ok: false, message: 'payloadTemplate is not JSON: ' + (e as Error).message };
	}
	const names = new Set<string>();
	for (const m of template.matchAll(PLACEHOLDER)) if (m[2]) names.add(m[2]);
	return { ok: true, names: [...names] };
}

/** The parameters an execution runs with: given ones, else the command's defaults; or what is missing. */
export function resolveParameters(command: CommandRecord, given: Readonly<Record<string, ParameterValue>> | undefined): { ok: true; parameters: Record<string, ParameterValue> } | { ok: false; message: string } {
	if (!command.payloadTemplate) {
		if (given && Object.keys(given).length > 0) return { ok: false, message: `command ${command.commandId} has a static payload and takes no parameters` };
		return { ok: true, parameters: {} };
	}
	const declared = new Map((command.mandatoryParameters ?? []).map((p) => [p.name, p]));
	const out: Record<string, ParameterValue> = {};
	for (const [name, value] of Object.entries(given ?? {})) {
		if (!declared.has(name)) return { ok: false, message: `parameter ${name} is not one of command ${command.commandId}'s` };
		out[name] = value;
	}
	for (const p of declared.values()) {
		if (out[p.name] !== undefined) continue;
		if (p.defaultValue === undefined) return { ok: false, message: `parameter ${p.name} is required by command ${command.commandId}` };
		out[p.name] = p.defaultValue;
	}
	return { ok: true, parameters: out };
}

/** The bytes sent on the request topic and that topic's format level. */
export function executionPayload(command: CommandRecord, e: Pick<Execution, 'parameters' | 'executionTimeoutSeconds'>): { bytes: Uint8Array; format: 'json' | 'cbor' | undefined } {
	if (command.payload) {
		const type = command.payload.contentType ?? '';
		return { bytes: Buffer.from(command.payload.content, 'base64'), format: /json/i.test(type) ? 'json' : /cbor/i.test(type) ? 'cbor' : undefined };
	}
	const params = e.parameters ?? {};
	const typed = (name: string | undefined): unknown => {
		if (name === undefined) return e.executionTimeoutSeconds;
		const v = params[name];
		if (v === undefined) throw new Error('unresolved parameter ' + name); // resolveParameters ran first
		return Object.values(v)[0];
	};
	const walk = (node: unknown): unknown => {
		if (typeof node === 'string') {
			const whole = new RegExp('^' + PLACEHOLDER.source + '$').exec(node);
			if (whole) return typed(whole[2]);
			return node.replace(PLACEHOLDER, (_m, _a, name: string | undefined) => String(typed(name)));
		}
		if (Array.isArray(node)) return node.map(walk);
		if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
		return node;
	};
	return { bytes: new TextEncoder().encode(JSON.stringify(walk(JSON.parse(command.payloadTemplate!)))), format: 'json' };
}
