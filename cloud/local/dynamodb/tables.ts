/*
 * Creates the product's tables (cloud/tables.ts) in the local DynamoDB, the way the SAM
 * stack creates them on AWS. Idempotent, since a dataDir keeps tables across runs: a
 * table already there is kept when its key schema is the defined one, and refused with
 * the difference named when it is not (state left by an older design).
 */
import { CreateTableCommand, DescribeTableCommand, ResourceInUseException, ResourceNotFoundException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTableInput, keySchema, TABLES, type TableDefinition, type TableName, type TableNames } from '../../tables';

/** Makes every product table that is missing; returns the physical names. */
export async function ensureTables(client: DynamoDBClient): Promise<TableNames> {
	const names = {} as Record<TableName, string>;
	for (const [name, def] of Object.entries(TABLES) as [TableName, TableDefinition][]) {
		await ensureTable(client, def);
		names[name] = def.name;
	}
	return Object.freeze(names);
}

async function ensureTable(client: DynamoDBClient, def: TableDefinition): Promise<void> {
	try {
		const { Table } = await client.send(new DescribeTableCommand({ TableName: def.name }));
		const want = JSON.stringify(keySchema(def));
		const got = JSON.stringify((Table?.KeySchema ?? []).map((k) => ({ AttributeName: k.AttributeName, KeyType: k.KeyType })));
		if (got !== want) throw new Error(`table ${def.name} exists with key schema ${got}, expected ${want}: remove the local cloud's dynamodb state`);
		return;
	} catch (e) {
		if (!(e instanceof ResourceNotFoundException)) throw e;
	}
	try {
		await client.send(new CreateTableCommand(createTableInput(def)));
	} catch (e) {
		// made between our look and our create: as good as ours
		if (!(e instanceof ResourceInUseException)) throw e;
	}
	await waitActive(client, def.name);
}

/**
 * Waits until a table is ACTIVE, as a client of AWS must after CreateTable: until then
 * writes get ResourceNotFoundException (dynalite flips the status on a timer, which a
 * busy machine can delay past the first write).
 */
export async function waitActive(client: DynamoDBClient, name: string, timeoutMs = 10_000): Promise<void> {
	const end = Date.now() + timeoutMs;
	for (;;) {
		try {
			const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
			if (Table?.TableStatus === 'ACTIVE') return;
		} catch (e) {
			if (!(e instanceof ResourceNotFoundException)) throw e;
		}
		if (Date.now() > end) throw new Error('table ' + name + ' is not ACTIVE after ' + timeoutMs + ' ms');
		await new Promise((r) => setTimeout(r, 20));
	}
}
