/* The product's tables made in the local DynamoDB: from cloud/tables.ts, idempotent, wrong keys refused. */
import assert from 'node:assert/strict';
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, DynamoDBClient, waitUntilTableNotExists } from '@aws-sdk/client-dynamodb';
import { clientConfig } from '../../lib/aws';
import { createTableInput, TABLES } from '../../tables';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../credentials';
import { startDynamoDb, type DynamoDbService } from './server';
import { ensureTables } from './tables';

describe('product tables in the local DynamoDB', () => {
	let service: DynamoDbService;
	let client: DynamoDBClient;
	before(async () => {
		service = await startDynamoDb({});
		client = new DynamoDBClient(clientConfig({ region: LOCAL_REGION, endpoint: service.endpoint, credentials: LOCAL_CREDENTIALS }));
	});
	after(async () => {
		client.destroy();
		await service.close();
	});

	it('states each table as CreateTable input', () => {
		assert.deepEqual(createTableInput(TABLES.missions), {
			TableName: 'missions',
			AttributeDefinitions: [
				{ AttributeName: 'thing', AttributeType: 'S' },
				{ AttributeName: 'missionId', AttributeType: 'S' },
			],
			KeySchema: [
				{ AttributeName: 'thing', KeyType: 'HASH' },
				{ AttributeName: 'missionId', KeyType: 'RANGE' },
			],
			BillingMode: 'PAY_PER_REQUEST',
		});
		assert.deepEqual(createTableInput(TABLES.robots, 'Stack-RobotsTable-X').KeySchema, [{ AttributeName: 'thing', KeyType: 'HASH' }]);
	});

	it('creates the missing tables, twice without harm', async () => {
		assert.deepEqual(await ensureTables(client), { robots: 'robots', missions: 'missions', owners: 'owners' });
		assert.deepEqual(await ensureTables(client), { robots: 'robots', missions: 'missions', owners: 'owners' });
		const { Table } = await client.send(new DescribeTableCommand({ TableName: 'missions' }));
		assert.equal(Table?.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST');
	});

	it('refuses a table left with another key schema, naming both', async () => {
		await client.send(new DeleteTableCommand({ TableName: 'missions' }));
		// a deletion finishes later, as on AWS (dynalite: DELETING until its timer runs; CI once saw
		// the CreateTable below refused ResourceInUse): wait for it the way AWS documents
		await waitUntilTableNotExists({ client, maxWaitTime: 30, minDelay: 1 }, { TableName: 'missions' });
		await client.send(new CreateTableCommand({ ...createTableInput(TABLES.robots, 'missions') }));
		await assert.rejects(ensureTables(client), /table missions exists with key schema .*"thing".*HASH.*\], expected .*missionId.*RANGE/);
	});
});
