/*
 * A Lambda function's wiring from its environment, one way for every handler: a variable the
 * function cannot start without is named, with what it should hold, when it is missing; the log
 * level comes from Lambda's advanced logging controls (AWS_LAMBDA_LOG_LEVEL) or LOG_LEVEL; the
 * handler is built on the first invocation and kept for the warm function's life.
 */
import { TABLES, type TableName } from '../tables';
import { createLogger, isLogLevel, type Logger } from './logger';

export type Env = Readonly<Record<string, string | undefined>>;

/** `env[name]`, or an Error `<name> is not set: <what>` (a function without it cannot start). */
export function requireEnv(env: Env, name: string, what?: string): string {
	const v = env[name];
	if (!v) throw new Error(name + ' is not set' + (what ? ': ' + what : ''));
	return v;
}

/** The deployed name of one of the product's tables (cloud/tables.ts names the variable). */
export function tableFromEnv(env: Env, table: TableName): string {
	return requireEnv(env, TABLES[table].env, 'the ' + table + ' table name');
}

/** CA_CERTIFICATE_IDS: the comma-separated IoT ids of the device CAs, at least one. */
export function caCertificateIdsFromEnv(env: Env): string[] {
	const ids = (env.CA_CERTIFICATE_IDS ?? '')
		.split(',')
		.map((s) => s.trim())
		.filter(Boolean);
	if (ids.length === 0) throw new Error('CA_CERTIFICATE_IDS is not set: the IoT ids of the device CAs');
	return ids;
}

/** The function's structured logger, `service` on every record, at the level the environment asks (default info). */
export function functionLogger(env: Env, service: string): Logger {
	const level = env.AWS_LAMBDA_LOG_LEVEL?.toLowerCase() ?? env.LOG_LEVEL?.toLowerCase();
	return createLogger({ keys: { service }, ...(isLogLevel(level) ? { level } : {}) });
}

/** The Lambda entry (SAM `Handler: handler.<name>`): `build(process.env)` on first use, then kept warm. */
export function lambdaEntry<A extends unknown[], R>(build: (env: Env) => (...args: A) => R): (...args: A) => R {
	let entry: ((...args: A) => R) | undefined;
	return (...args) => (entry ??= build(process.env))(...args);
}
