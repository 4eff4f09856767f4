/*
 * The product's DynamoDB tables, as data: the local cloud creates them from here at
 * startup, and the SAM template is checked against them, so the two cannot drift.
 *
 * missions: partition key `thing`, sort key `missionId`. A mission id is unique only
 * per robot (`m-<base-36 counter>`, kept across reboots), so the key has to hold the
 * thing; with the thing as partition key a robot's missions are one Query, and the
 * handler's conditional put (`attribute_not_exists(missionId)`) on the exact key makes a
 * report delivered twice land once. A composite `thing#missionId` partition key would
 * be as unique but could not list a robot's missions without an index. The sort key
 * orders ids as strings (m-10 before m-9): "newest first" needs a GSI on a time or
 * counter attribute, which can be added later (an LSI could not).
 */
import type { CreateTableCommandInput, KeySchemaElement } from '@aws-sdk/client-dynamodb';

export type KeyType = 'S' | 'N' | 'B';

export interface KeyAttribute {
	readonly name: string;
	readonly type: KeyType;
}

export interface TableDefinition {
	/** The table name locally; on AWS CloudFormation names it and the handlers read `env`. */
	readonly name: string;
	/** The SAM template's resource of this table. */
	readonly logicalId: string;
	/** The environment variable that gives a function the deployed table name. */
	readonly env: string;
	readonly partitionKey: KeyAttribute;
	readonly sortKey?: KeyAttribute;
	readonly billingMode: 'PAY_PER_REQUEST';
}

export const TABLES = Object.freeze({
	robots: Object.freeze({
		name: 'robots',
		logicalId: 'RobotsTable',
		env: 'ROBOTS_TABLE',
		partitionKey: Object.freeze({ name: 'thing', type: 'S' }),
		billingMode: 'PAY_PER_REQUEST',
	}),
	missions: Object.freeze({
		name: 'missions',
		logicalId: 'MissionsTable',
		env: 'MISSIONS_TABLE',
		partitionKey: Object.freeze({ name: 'thing', type: 'S' }),
		sortKey: Object.freeze({ name: 'missionId', type: 'S' }),
		billingMode: 'PAY_PER_REQUEST',
	}),
	// owners: an owner's robots are one Query (partition key owner); that a robot has one owner
	// at most is the robots table's conditional `owner` attribute, not this table's
	owners: Object.freeze({
		name: 'owners',
		logicalId: 'OwnersTable',
		env: 'OWNERS_TABLE',
		partitionKey: Object.freeze({ name: 'owner', type: 'S' }),
		sortKey: Object.freeze({ name: 'thing', type: 'S' }),
		billingMode: 'PAY_PER_REQUEST',
	}),
} as const satisfies Record<string, TableDefinition>);

export type TableName = keyof typeof TABLES;

/** Physical table names by product name, e.g. `{ robots: 'robots', missions: 'missions' }`. */
export type TableNames = { readonly [K in TableName]: string };

/** The key schema as DynamoDB states it (HASH first, then RANGE). */
export function keySchema(t: TableDefinition): KeySchemaElement[] {
	const keys: KeySchemaElement[] = [{ AttributeName: t.partitionKey.name, KeyType: 'HASH' }];
	if (t.sortKey) keys.push({ AttributeName: t.sortKey.name, KeyType: 'RANGE' });
	return keys;
}

/** The CreateTable request for a definition, under the given physical name. */
export function createTableInput(t: TableDefinition, tableName: string = t.name): CreateTableCommandInput {
	const attrs = t.sortKey ? [t.partitionKey, t.sortKey] : [t.partitionKey];
	return {
		TableName: tableName,
		AttributeDefinitions: attrs.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
		KeySchema: keySchema(t),
		BillingMode: t.billingMode,
	};
}
