/*
 * MissionReportFunction: stores the mission reports robots publish through Basic Ingest
 * on `$aws/rules/mission_report/robots/{thing}/missions/{missionId}/report` (QoS 1), each
 * exactly once, in the missions table.
 *
 * The rule invokes it asynchronously with the report plus what the rule knows of the
 * message (MISSION_REPORT_SQL). Two kinds of failure, treated apart:
 * - the robot's fault (too large, invalid, another robot's topic): refused, logged with a
 *   reason, and the invocation succeeds, since retrying cannot fix it and an error would
 *   only send it on to the error action;
 * - the cloud's fault (DynamoDB throttled or down, an event the rule SQL should not have
 *   produced): thrown, so Lambda retries and then the rule's error action keeps it.
 * A report delivered twice (QoS 1 resend, robot resend after reboot, Lambda retry after a
 * put that did land) meets the conditional put and is counted a duplicate.
 *
 * The map may come first: map-ingest then makes the item with only the map's attributes
 * (mapReady true, ...). The conditional put fails on it, and the report is added to that
 * item by an UpdateItem conditioned on the report's absence (`receivedAt`), so the report
 * is still stored once and the map's attributes survive.
 */
import { isDeepStrictEqual } from 'node:util';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MAX_REPORT_BYTES, REPORT_RULE, validateReport, type MissionReport } from '../../../firmware/core/mission/report';
import { createDocumentClient } from '../../lib/aws';
import { errorFields, invocationLogger, type InvocationContext, type Logger } from '../../lib/logger';
import { functionLogger, lambdaEntry, tableFromEnv, type Env } from '../../lib/lambda-env';
import { countMetric } from '../../lib/metrics';
import { checkJsonBounds } from '../../lib/json-bounds';
import { TABLES } from '../../tables';

/** A report is an object of scalars, a small object and arrays of them: 4 levels at most; 8 leaves room. */
export const MAX_REPORT_DEPTH = 8;

/** The Lambda function's name in the SAM template (and in the local rules engine). */
export const FUNCTION_NAME = 'MissionReportFunction';
export const RULE_NAME = REPORT_RULE;

/**
 * The topic rule. For Basic Ingest topic() is the topic without `$aws/rules/<rule>/`, so
 * in `robots/{thing}/missions/{missionId}/report` topic(2) is the thing and topic(4) the
 * mission id. The selected names override report fields of the same name: the rule's
 * values are the ones to trust.
 */
export const MISSION_REPORT_SQL = "SELECT *, topic(2) AS topicThing, topic(4) AS topicMission, clientid() AS clientId, timestamp() AS receivedAt FROM 'robots/+/missions/+/report'";

/** Why a report was refused; each is logged as `mission_report.refused` with `reason`. */
export type RefusedReason = 'too_large' | 'invalid' | 'topic_mismatch' | 'client_mismatch';

export type MissionReportOutcome = { readonly status: 'stored' } | { readonly status: 'duplicate'; readonly differs: readonly string[] } | { readonly status: 'refused'; readonly reason: RefusedReason; readonly errors: readonly string[] };

/** What the table holds: the report's fields and the cloud's own. */
export interface MissionItem extends MissionReport {
	/** Epoch ms at which AWS IoT received the report (the rule's timestamp()). */
	readonly receivedAt: number;
	/** Set when the mission's map has been uploaded and checked. */
	readonly mapReady: boolean;
	/** The invocation that stored it: finds its log lines. */
	readonly requestId: string;
}

export type MissionReportHandler = (event: unknown, context: InvocationContext) => Promise<MissionReportOutcome>;

export interface MissionReportDeps {
	readonly ddb: DynamoDBDocumentClient;
	/** The missions table's physical name. */
	readonly table: string;
	readonly logger: Logger;
}

/** Every report field, checked against MissionReport by the compiler: for the duplicate check. */
const REPORT_FIELDS = Object.freeze(
	Object.keys({
		v: 1,
		missionId: 1,
		thing: 1,
		trigger: 1,
		entryId: 1,
		startedAt: 1,
		endedAt: 1,
		durationS: 1,
		outcome: 1,
		areaM2: 1,
		battery: 1,
		errors: 1,
		map: 1,
	} satisfies Record<keyof MissionReport, 1>),
);

interface RuleFields {
	readonly topicThing: string;
	readonly topicMission: string;
	readonly clientId: string;
	readonly receivedAt: number;
}

export function createMissionReportHandler(deps: MissionReportDeps): MissionReportHandler {
	const { ddb, table, logger } = deps;
	if (typeof ddb?.send !== 'function') throw new TypeError('"ddb" expected a DynamoDBDocumentClient');
	if (typeof table !== 'string' || table.length < 3 || table.length > 255) throw new TypeError('"table" expected a table name of 3..255 characters, got ' + JSON.stringify(table));
	if (typeof logger?.child !== 'function') throw new TypeError('"logger" expected a Logger');

	return async (event, context) => {
		const split = splitEvent(event);
		const { rule, report: raw } = split;
		const log = invocationLogger(logger, context).child({ thing: rule.topicThing, missionId: rule.topicMission, clientId: rule.clientId });

		const refuse = (reason: RefusedReason, errors: string[], fields: Record<string, unknown> = {}): MissionReportOutcome => {
			log.warn('mission_report.refused', { reason, errors, ...fields });
			countMetric(log, 'mission-report', 'ReportsRefused');
			return { status: 'refused', reason, errors };
		};
		// bounded before anything recursive walks it: 60,000 nested arrays fit in 128 KB and overflow
		// JSON.stringify's stack (the invocation then threw, was retried, and went to the error queue)
		const bounds = checkJsonBounds(raw, { maxDepth: MAX_REPORT_DEPTH, maxBytes: 2 * MAX_REPORT_BYTES });
		if (!bounds.ok) return refuse(bounds.reason === 'depth' ? 'invalid' : 'too_large', ['report: ' + bounds.message]);
		// the bytes the robot sent: it encodes with JSON.stringify, and parse/stringify keeps them
		const bytes = new TextEncoder().encode(JSON.stringify(raw)).length;
		if (bytes > MAX_REPORT_BYTES) return refuse('too_large', ['report: ' + bytes + ' bytes, limit ' + MAX_REPORT_BYTES], { bytes });
		const checked = validateReport(raw);
		if (!checked.ok) return refuse('invalid', checked.error);
		const report = checked.value;
		if (report.thing !== rule.topicThing || report.missionId !== rule.topicMission) return refuse('topic_mismatch', [`report is ${report.thing}/${report.missionId}, topic is ${rule.topicThing}/${rule.topicMission}`]);
		// client id = thing name is the IoT policy's rule; a report about another robot is refused
		if (report.thing !== rule.clientId) return refuse('client_mismatch', [`report is from ${report.thing}, client is ${rule.clientId}`]);

		const item: MissionItem = { ...report, receivedAt: rule.receivedAt, mapReady: false, requestId: context.awsRequestId };
		try {
			await ddb.send(
				new PutCommand({
					TableName: table,
					Item: item,
					ConditionExpression: 'attribute_not_exists(#m)',
					ExpressionAttributeNames: { '#m': TABLES.missions.sortKey.name },
				}),
			);
		} catch (e) {
			if (!(e instanceof ConditionalCheckFailedException) && (e as Error)?.name !== 'ConditionalCheckFailedException') {
				log.error('mission_report.store_failed', errorFields(e));
				throw e;
			}
			return duplicate(report);
		}
		log.info('mission_report.stored', { outcome: report.outcome, receivedAt: rule.receivedAt });
		countMetric(log, 'mission-report', 'ReportsStored');
		return { status: 'stored' };

		async function duplicate(report: MissionReport, merged = false): Promise<MissionReportOutcome> {
			const key = { [TABLES.missions.partitionKey.name]: report.thing, [TABLES.missions.sortKey.name]: report.missionId };
			let stored: Record<string, unknown> | undefined;
			try {
				stored = (await ddb.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
			} catch (e) {
				// the item may be map-ingest's, without the report: only a retry can tell (and a replay is harmless)
				log.error('mission_report.store_failed', { stage: 'read_existing', ...errorFields(e) });
				throw e;
			}
			// the map arrived first: map-ingest made the item with the map's attributes only
			if (stored !== undefined && !('receivedAt' in stored) && !merged) return completeMapFirst(report, key);
			const differs = REPORT_FIELDS.filter((k) => !isDeepStrictEqual(stored?.[k], (report as unknown as Record<string, unknown>)[k]));
			countMetric(log, 'mission-report', 'ReportsDuplicate');
			if (differs.length > 0) log.warn('mission_report.duplicate', { differs, storedRequestId: stored?.requestId });
			else log.info('mission_report.duplicate', { differs });
			return { status: 'duplicate', differs };
		}

		/**
		 * Adds the report to an item map-ingest created (report fields, receivedAt, requestId;
		 * mapReady only if absent), once: the condition is the absence of the report's
		 * receivedAt, so a concurrent delivery of the same report lands as a duplicate.
		 */
		async function completeMapFirst(report: MissionReport, key: Record<string, string>): Promise<MissionReportOutcome> {
			const keyNames: readonly string[] = [TABLES.missions.partitionKey.name, TABLES.missions.sortKey.name];
			const fields = Object.entries({ ...report, receivedAt: rule.receivedAt, requestId: context.awsRequestId }).filter(([k, v]) => v !== undefined && !keyNames.includes(k));
			const names: Record<string, string> = { '#ready': 'mapReady', '#received': 'receivedAt' };
			const values: Record<string, unknown> = { ':notReady': false };
			const sets = fields.map(([k, v], i) => ((names['#f' + i] = k), (values[':f' + i] = v), '#f' + i + ' = :f' + i));
			try {
				await ddb.send(
					new UpdateCommand({
						TableName: table,
						Key: key,
						UpdateExpression: 'SET ' + [...sets, '#ready = if_not_exists(#ready, :notReady)'].join(', '),
						ConditionExpression: 'attribute_exists(#m) AND attribute_not_exists(#received)',
						ExpressionAttributeNames: { ...names, '#m': TABLES.missions.sortKey.name },
						ExpressionAttributeValues: values,
					}),
				);
			} catch (e) {
				if (!(e instanceof ConditionalCheckFailedException) && (e as Error)?.name !== 'ConditionalCheckFailedException') {
					log.error('mission_report.store_failed', errorFields(e));
					throw e;
				}
				return duplicate(report, true);
			}
			log.info('mission_report.stored', { outcome: report.outcome, receivedAt: rule.receivedAt, mapFirst: true });
			countMetric(log, 'mission-report', 'ReportsStored');
			return { status: 'stored' };
		}
	};
}

/**
 * Parts the rule added from the report. A missing rule field is a deployment fault
 * (the SQL changed), not the robot's: it throws, so the event reaches the error action.
 */
function splitEvent(event: unknown): { rule: RuleFields; report: Record<string, unknown> } {
	if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new TypeError('event: expected the object the rule selected, got ' + (Array.isArray(event) ? 'an array' : typeof event));
	const { topicThing, topicMission, clientId, receivedAt, ...report } = event as Record<string, unknown>;
	const wrong: string[] = [];
	if (typeof topicThing !== 'string') wrong.push('topicThing');
	if (typeof topicMission !== 'string') wrong.push('topicMission');
	if (typeof clientId !== 'string') wrong.push('clientId');
	if (typeof receivedAt !== 'number' || !Number.isFinite(receivedAt)) wrong.push('receivedAt');
	if (wrong.length > 0) throw new TypeError('event: ' + wrong.join(', ') + ' missing or mistyped; expected the output of MISSION_REPORT_SQL');
	return { rule: { topicThing, topicMission, clientId, receivedAt } as RuleFields, report };
}

/** What the Lambda entry reads from its environment. */
export function fromEnv(env: Env): MissionReportHandler {
	const table = tableFromEnv(env, 'missions');
	const logger = functionLogger(env, 'mission-report');
	return createMissionReportHandler({ ddb: createDocumentClient(), table, logger });
}

/** The Lambda entry (SAM `Handler: handler.handler`). */
export const handler: MissionReportHandler = lambdaEntry(fromEnv);
