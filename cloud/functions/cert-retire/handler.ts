/*
 * CertRetireFunction: retiring the certificate a renewal replaced (issue 25): the robot keeps its old certificate
 * until a connect with the new one succeeded (firmware/core/renew), so the cloud leaves it
 * ACTIVE at issue time; once AWS IoT's lifecycle event says the robot connected with the
 * renewed certificate (`$aws/events/presence/connected/<thing>`, principalIdentifier), the old
 * one is set INACTIVE, so a stolen copy of it stops connecting, and the robots table's
 * certificateHistory records the change with who made it (by: renewal).
 *
 * The renewal handler leaves `retiring` (the old certificate's id) on the robot's row beside
 * the new certificateId; this handler acts only when the connection's certificate is that new
 * one. Deactivating first and recording after makes a retry safe (INACTIVE again is no change);
 * the row's `retiring` is removed under a condition, so a repeated event records once.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UpdateCertificateCommand, IoTClient } from '@aws-sdk/client-iot';
import { clientConfig, createDocumentClient } from '../../lib/aws';
import { invocationLogger, type InvocationContext, type Logger } from '../../lib/logger';
import { functionLogger, lambdaEntry, tableFromEnv, type Env } from '../../lib/lambda-env';

export const RETIRE_FUNCTION_NAME = 'CertRetireFunction';
export const RETIRE_RULE_NAME = 'cert_retire';
export const RETIRE_SQL = "SELECT * FROM '$aws/events/presence/connected/+'";

/** UpdateCertificate to INACTIVE: the one registry call retiring needs. */
export interface RetireRegistry {
	deactivateCertificate(certificateId: string): Promise<void>;
}

export type RetireOutcome = { readonly status: 'retired'; readonly certificateId: string } | { readonly status: 'nothing'; readonly why: string };

export function createCertRetireHandler(deps: { registry: RetireRegistry; ddb: DynamoDBDocumentClient; table: string; logger: Logger; now?: () => number }) {
	const { registry, ddb, table, logger } = deps;
	const now = deps.now ?? Date.now;
	if (typeof registry?.deactivateCertificate !== 'function') throw new TypeError('"registry" expected a RetireRegistry');
	if (typeof table !== 'string' || table.length < 3) throw new TypeError('"table" expected the robots table name');
	return async (event: unknown, context: InvocationContext): Promise<RetireOutcome> => {
		const e = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
		const log = invocationLogger(logger, context);
		if (e.eventType !== 'connected') return { status: 'nothing', why: 'not a connect' };
		const thing = typeof e.clientId === 'string' ? e.clientId : '';
		const principal = typeof e.principalIdentifier === 'string' ? e.principalIdentifier : '';
		if (!thing || !/^[0-9a-f]{64}$/.test(principal)) {
			log.warn('cert_retire.refused', { reason: 'a connect event without a client id or certificate id', clientId: thing });
			return { status: 'nothing', why: 'not a certificate connection' };
		}
		const row = (await ddb.send(new GetCommand({ TableName: table, Key: { thing }, ConsistentRead: true }))).Item as { certificateId?: string; retiring?: string } | undefined;
		const old = row?.retiring;
		if (!old) return { status: 'nothing', why: 'no certificate waits to be retired' };
		if (row.certificateId !== principal) return { status: 'nothing', why: 'connected with ' + principal + ', not the renewed ' + row.certificateId };
		await registry.deactivateCertificate(old);
		const entry = { at: now(), certificateId: old, from: 'ACTIVE', to: 'INACTIVE', by: 'renewal', reason: 'the robot connected with its renewed certificate ' + principal };
		try {
			await ddb.send(
				new UpdateCommand({
					TableName: table,
					Key: { thing },
					UpdateExpression: 'REMOVE #retiring SET #history = list_append(if_not_exists(#history, :empty), :entry)',
					ConditionExpression: '#retiring = :old',
					ExpressionAttributeNames: { '#retiring': 'retiring', '#history': 'certificateHistory' },
					ExpressionAttributeValues: { ':old': old, ':empty': [], ':entry': [entry] },
				}),
			);
		} catch (err) {
			// a repeated event got here first: recorded once
			if (err instanceof ConditionalCheckFailedException || (err as { name?: string }).name === 'ConditionalCheckFailedException') return { status: 'nothing', why: 'already retired' };
			throw err;
		}
		log.info('cert_retire.retired', { thing, certificateId: old, renewed: principal });
		return { status: 'retired', certificateId: old };
	};
}

export type CertRetireHandler = ReturnType<typeof createCertRetireHandler>;

/** The Lambda entry's wiring: ROBOTS_TABLE. */
export function fromEnv(env: Env): CertRetireHandler {
	const table = tableFromEnv(env, 'robots');
	const iot = new IoTClient(clientConfig({}));
	return createCertRetireHandler({
		registry: { deactivateCertificate: async (certificateId) => void (await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }))) },
		ddb: createDocumentClient(),
		table,
		logger: functionLogger(env, 'cert-retire'),
	});
}

/** The Lambda entry (SAM `Handler: handler.handler`). */
export const handler: CertRetireHandler = lambdaEntry(fromEnv);
