// Structured logs of the local cloud: one JSON object per event, through an injected function.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
	level: LogLevel;
	/** Dotted event name, e.g. `broker.connect`. */
	event: string;
	[field: string]: unknown;
}

export type LogFn = (entry: LogEntry) => void;

/** Drops everything: the default, so tests are quiet. */
export const silentLog: LogFn = () => {};

/** Writes one JSON line per event to a stream (stdout by default), with an ISO time. */
export function jsonLineLog(out: { write(line: string): unknown } = process.stdout): LogFn {
	return (entry) => {
		out.write(JSON.stringify({ time: new Date().toISOString(), ...entry }) + '\n');
	};
}
