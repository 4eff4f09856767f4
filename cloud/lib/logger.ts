/*
 * Structured logs for the handlers: one JSON object per event, shaped like the local
 * cloud's log entries (`{ level, event, ...fields }`), so locally they join the cloud's
 * own log and tests read them as data; on Lambda they are JSON lines on stdout, which
 * CloudWatch Logs Insights indexes field by field.
 *
 * An invocation logs through a child carrying the keys that trace one report from
 * robot to table: `requestId` (Lambda awsRequestId), `xrayTraceId` when Lambda has one,
 * then `thing`, `missionId`, `clientId`. A child is a new object, so invocations that
 * overlap (the local rules engine runs them concurrently) never share keys; this is why
 * the handlers do not use @aws-lambda-powertools/logger, whose keys live on one instance
 * and whose output cannot be given a sink.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogRecord {
	readonly level: LogLevel;
	/** Dotted event name, e.g. `mission_report.stored`. */
	readonly event: string;
	readonly [field: string]: unknown;
}

export type LogSink = (record: LogRecord) => void;

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
	debug(event: string, fields?: LogFields): void;
	info(event: string, fields?: LogFields): void;
	warn(event: string, fields?: LogFields): void;
	error(event: string, fields?: LogFields): void;
	/** A logger that adds `fields` to every record (the caller's fields win on a clash). */
	child(fields: LogFields): Logger;
}

/** The parts of the Lambda context a handler logs or uses (real Lambda and cloud/local alike). */
export interface InvocationContext {
	readonly awsRequestId: string;
	readonly functionName: string;
}

export interface LoggerOptions {
	/** Where records go; JSON lines on stdout by default (what Lambda ships to CloudWatch). */
	readonly sink?: LogSink;
	/** Records below this level are dropped; default `info`. */
	readonly level?: LogLevel;
	/** Keys on every record, e.g. `{ service: 'mission-report' }`. */
	readonly keys?: LogFields;
}

const RANK = Object.freeze({ debug: 0, info: 1, warn: 2, error: 3 } as const);

export function isLogLevel(x: unknown): x is LogLevel {
	return typeof x === 'string' && Object.prototype.hasOwnProperty.call(RANK, x);
}

/** Writes `{ time, ...record }` as one line to stdout. */
export const stdoutSink: LogSink = (record) => {
	process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...record }, errorReplacer) + '\n');
};

export function createLogger(options: LoggerOptions = {}): Logger {
	const sink = options.sink ?? stdoutSink;
	const level = options.level ?? 'info';
	if (typeof sink !== 'function') throw new TypeError('"sink" expected a function, got ' + typeof sink);
	if (!isLogLevel(level)) throw new RangeError('"level" expected debug, info, warn or error, got ' + JSON.stringify(level));
	return make(sink, RANK[level], Object.freeze({ ...options.keys }));
}

function make(sink: LogSink, min: number, keys: LogFields): Logger {
	const at = (level: LogLevel) => (event: string, fields?: LogFields) => {
		if (RANK[level] < min) return;
		// level and event last: a field can never disguise a record's kind
		sink({ ...keys, ...fields, level, event });
	};
	return Object.freeze({
		debug: at('debug'),
		info: at('info'),
		warn: at('warn'),
		error: at('error'),
		child: (fields: LogFields) => make(sink, min, Object.freeze({ ...keys, ...fields })),
	});
}

/**
 * The child for one invocation: the Lambda request id and, on Lambda with active tracing,
 * the X-Ray trace id (`_X_AMZN_TRACE_ID`, set per invocation by the runtime).
 */
export function invocationLogger(logger: Logger, context: InvocationContext, env: Readonly<Record<string, string | undefined>> = process.env): Logger {
	const trace = env._X_AMZN_TRACE_ID;
	return logger.child({ requestId: context.awsRequestId, ...(trace ? { xrayTraceId: trace } : {}) });
}

/** Errors have no enumerable fields: log their name and message. */
export function errorFields(e: unknown): { errorName: string; error: string } {
	return e instanceof Error ? { errorName: e.name, error: e.message } : { errorName: typeof e, error: String(e) };
}

function errorReplacer(_key: string, value: unknown): unknown {
	return value instanceof Error ? { name: value.name, message: value.message } : value;
}
