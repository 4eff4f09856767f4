/*
 * PresenceFunction: keeps each robot's connectivity in the robots table from AWS IoT's
 * lifecycle events (topic rule robot_presence on `$aws/events/presence/+/+`):
 *   connected (true/false), lastSeen, lastConnectedAt, lastDisconnectedAt,
 *   lastDisconnectReason, and presenceVersion / presenceSession for ordering.
 *
 * AWS says lifecycle messages may arrive out of order and more than once. Each connection
 * has one versionNumber, higher than the client id's earlier ones, on both its events; so
 * an update applies only if its version is newer than the stored one, or equal and for the
 * same session when it is the disconnect (a connect never undoes its own disconnect). A
 * stale or repeated event changes nothing and is logged as such.
 *
 * Events that do not look like AWS's are refused (logged, the invocation succeeds: retrying
 * cannot fix them); a DynamoDB failure throws, so Lambda retries and the error action keeps it.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../lib/aws';
import { errorFields, invocationLogger, type InvocationContext, type Logger } from '../../lib/logger';
import { functionLogger, lambdaEntry, tableFromEnv, type Env } from '../../lib/lambda-env';
import { DISCONNECT_REASONS } from '../../lib/lifecycle-events';
import { countMetric } from '../../lib/metrics';

export const FUNCTION_NAME = 'PresenceFunction';
export const RULE_NAME = 'robot_presence';
export const PRESENCE_SQL = "SELECT * FROM '$aws/events/presence/+/+'";

const REASONS: ReadonlySet<string> = new Set(DISCONNECT_REASONS);

export type PresenceOutcome = { readonly status: 'applied' } | { readonly status: 'stale' } | { readonly status: 'refused'; readonly errors: readonly string[] };

export type PresenceHandler = (event: unknown, context: InvocationContext) => Promise<PresenceOutcome>;

interface Checked {
	readonly clientId: string;
	readonly eventType: 'connected' | 'disconnected';
	readonly timestamp: number;
	readonly sessionIdentifier: string;
	readonly versionNumber: number;
	readonly disconnectReason?: string;
}

/** The event as AWS documents it, or what is wrong with it. */
export function checkPresenceEvent(e: unknown): { ok: true; value: Checked } | { ok: false; errors: string[] } {
	const errors: string[] = [];
	if (typeof e !== 'object' || e === null || Array.isArray(e)) return { ok: false, errors: ['event: expected an object'] };
	const o = e as Record<string, unknown>;
	if (typeof o.clientId !== 'string' || o.clientId.length < 1 || o.clientId.length > 128) errors.push('clientId: expected 1..128 characters');
	if (o.eventType !== 'connected' && o.eventType !== 'disconnected') errors.push('eventType: expected connected or disconnected, got ' + JSON.stringify(o.eventType));
	if (!Number.isSafeInteger(o.timestamp) || (o.timestamp as number) < 0) errors.push('timestamp: expected epoch ms');
	if (typeof o.sessionIdentifier !== 'string' || o.sessionIdentifier.length === 0) errors.push('sessionIdentifier: expected a string');
	if (!Number.isSafeInteger(o.versionNumber) || (o.versionNumber as number) < 0) errors.push('versionNumber: expected an integer >= 0');
	if (o.eventType === 'disconnected' && (typeof o.disconnectReason !== 'string' || !REASONS.has(o.disconnectReason))) errors.push("disconnectReason: expected one of AWS's, got " + JSON.stringify(o.disconnectReason));
	if (errors.length) return { ok: false, errors };
	return { ok: true, value: o as unknown as Checked };
}

export function createPresenceHandler(deps: { ddb: DynamoDBDocumentClient; table: string; logger: Logger }): PresenceHandler {
	const { ddb, table, logger } = deps;
	if (typeof ddb?.send !== 'function') throw new TypeError('"ddb" expected a DynamoDBDocumentClient');
	if (typeof table !== 'string' || table.length < 3) throw new TypeError('"table" expected a table name, got ' + JSON.stringify(table));
	return async (event, context) => {
		const log = invocationLogger(logger, context);
		const checked = checkPresenceEvent(event);
		if (!checked.ok) {
			log.warn('presence.refused', { errors: checked.errors });
			return { status: 'refused', errors: checked.errors };
		}
		const e = checked.value;
		const on = e.eventType === 'connected';
		const names: Record<string, string> = {
			'#c': 'connected',
			'#seen': 'lastSeen',
			'#at': on ? 'lastConnectedAt' : 'lastDisconnectedAt',
			'#v': 'presenceVersion',
			'#s': 'presenceSession',
		};
		const values: Record<string, unknown> = { ':c': on, ':ts': e.timestamp, ':v': e.versionNumber, ':s': e.sessionIdentifier };
		let set = 'SET #c = :c, #seen = :ts, #at = :ts, #v = :v, #s = :s';
		if (!on) {
			names['#r'] = 'lastDisconnectReason';
			values[':r'] = e.disconnectReason;
			set += ', #r = :r';
		}
		const condition = on ? 'attribute_not_exists(#v) OR #v < :v' : 'attribute_not_exists(#v) OR #v < :v OR (#v = :v AND #s = :s AND #c = :true)';
		if (!on) values[':true'] = true;
		try {
			await ddb.send(
				new UpdateCommand({
					TableName: table,
					Key: { thing: e.clientId },
					UpdateExpression: set,
					ConditionExpression: condition,
					ExpressionAttributeNames: names,
					ExpressionAttributeValues: values,
				}),
			);
		} catch (err) {
			if (err instanceof ConditionalCheckFailedException || (err as { name?: string }).name === 'ConditionalCheckFailedException') {
				log.info('presence.stale', { thing: e.clientId, eventType: e.eventType, versionNumber: e.versionNumber });
				return { status: 'stale' };
			}
			log.error('presence.store_failed', { thing: e.clientId, ...errorFields(err) });
			throw err;
		}
		log.info('presence.applied', { thing: e.clientId, eventType: e.eventType, versionNumber: e.versionNumber, ...(on ? {} : { reason: e.disconnectReason }) });
		countMetric(log, 'presence', 'PresenceApplied');
		return { status: 'applied' };
	};
}

export function fromEnv(env: Env): PresenceHandler {
	const table = tableFromEnv(env, 'robots');
	const logger = functionLogger(env, 'presence');
	return createPresenceHandler({ ddb: createDocumentClient(), table, logger });
}

/** The Lambda entry (SAM `Handler: handler.handler`). */
export const handler: PresenceHandler = lambdaEntry(fromEnv);
