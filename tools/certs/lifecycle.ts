/*
 * Certificate lifecycle for operators: quarantine a robot (its certificate INACTIVE), revoke
 * it (REVOKED), reinstate it (ACTIVE again, from INACTIVE only). Built on AWS IoT's
 * UpdateCertificate: the broker refuses a certificate that is not ACTIVE at CONNECT and closes
 * a live session when its certificate leaves ACTIVE (locally: cloud/local/iot-registry.ts and
 * the broker's admit, as AWS does). The robot then gets CONNACK 5 on every attempt and backs
 * off (its failures in a row grow: firmware/core/link/machine.ts), it does not hammer.
 *
 * AWS keeps no record of who changed a status (CloudTrail does, apart); the product's robots
 * table does: every change appends { at, certificateId, from, to, by, reason } to the robot's
 * `certificateHistory` and sets `certificateStatus`, after UpdateCertificate succeeded.
 * REVOKED is final on AWS IoT (a revoked certificate cannot be activated again): reinstating
 * one is refused here with that reason; the robot needs a new certificate.
 */
import { DescribeCertificateCommand, UpdateCertificateCommand, type IoTClient } from '@aws-sdk/client-iot';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export type LifecycleAction = 'quarantine' | 'revoke' | 'reinstate';

const TARGET = Object.freeze({ quarantine: 'INACTIVE', revoke: 'REVOKED', reinstate: 'ACTIVE' } as const);

export interface LifecycleOptions {
	readonly iot: IoTClient;
	readonly ddb: DynamoDBDocumentClient;
	/** The robots table's physical name. */
	readonly table: string;
	readonly thing: string;
	readonly action: LifecycleAction;
	/** Who is making the change (an operator id or e-mail); recorded. */
	readonly by: string;
	readonly reason: string;
	/** The certificate; by default the one the robots table holds for the thing (registration wrote it). */
	readonly certificateId?: string;
	readonly now?: () => number;
}

export interface HistoryEntry {
	readonly at: number;
	readonly certificateId: string;
	readonly from: string;
	readonly to: string;
	readonly by: string;
	readonly reason: string;
}

export class LifecycleError extends Error {}

export async function changeCertificate(o: LifecycleOptions): Promise<HistoryEntry> {
	if (!(o.action in TARGET)) throw new LifecycleError('"action" expected quarantine, revoke or reinstate, got ' + JSON.stringify(o.action));
	if (typeof o.by !== 'string' || o.by.trim().length === 0 || o.by.length > 256) throw new LifecycleError('"by" expected who makes the change (1-256 characters)');
	if (typeof o.reason !== 'string' || o.reason.trim().length === 0 || o.reason.length > 1024) throw new LifecycleError('"reason" expected why (1-1024 characters)');
	let certificateId = o.certificateId;
	if (certificateId === undefined) {
		const item = (await o.ddb.send(new GetCommand({ TableName: o.table, Key: { thing: o.thing }, ConsistentRead: true }))).Item;
		certificateId = typeof item?.certificateId === 'string' ? item.certificateId : undefined;
		if (!certificateId) throw new LifecycleError(`no certificate on record for ${o.thing} in ${o.table}; pass its certificate id`);
	}
	if (!/^[0-9a-f]{64}$/.test(certificateId)) throw new LifecycleError('"certificateId" expected 64 hex digits, got ' + JSON.stringify(certificateId));
	const described = await o.iot.send(new DescribeCertificateCommand({ certificateId }));
	const from = described.certificateDescription?.status ?? 'UNKNOWN';
	const to = TARGET[o.action];
	if (from === 'REVOKED' && to !== 'REVOKED') throw new LifecycleError(`certificate ${certificateId} of ${o.thing} is REVOKED, which AWS IoT never makes ACTIVE again: provision a new certificate`);
	if (from === to) throw new LifecycleError(`certificate ${certificateId} of ${o.thing} is already ${to}`);
	await o.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: to }));
	const entry: HistoryEntry = { at: (o.now ?? Date.now)(), certificateId, from, to, by: o.by, reason: o.reason };
	try {
		await o.ddb.send(
			new UpdateCommand({
				TableName: o.table,
				Key: { thing: o.thing },
				UpdateExpression: 'SET #status = :to, #history = list_append(if_not_exists(#history, :empty), :entry)',
				ExpressionAttributeNames: { '#status': 'certificateStatus', '#history': 'certificateHistory' },
				ExpressionAttributeValues: { ':to': to, ':empty': [], ':entry': [entry] },
			}),
		);
	} catch (e) {
		throw new LifecycleError(`certificate ${certificateId} is now ${to}, but the change could not be recorded in ${o.table}: ${(e as Error).message}; record it by hand`);
	}
	return entry;
}

/** The recorded changes of a robot's certificates, oldest first. */
export async function certificateHistory(ddb: DynamoDBDocumentClient, table: string, thing: string): Promise<HistoryEntry[]> {
	const item = (await ddb.send(new GetCommand({ TableName: table, Key: { thing }, ConsistentRead: true }))).Item;
	return Array.isArray(item?.certificateHistory) ? (item.certificateHistory as HistoryEntry[]) : [];
}
