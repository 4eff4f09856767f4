import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConditionalCheckFailedException, CreateTableCommand, DescribeTableCommand, DynamoDBClient, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../credentials';
import { waitActive } from './tables';
import { startDynamoDb, type DynamoDbService } from './server';

function clients(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string } = LOCAL_CREDENTIALS) {
	// a copy: the SDK marks the credentials object it is given, and LOCAL_CREDENTIALS is frozen
	const db = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: { ...credentials } });
	return { db, doc: DynamoDBDocumentClient.from(db) };
}

const missions = new CreateTableCommand({
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

/** The mission handler's write: once per (thing, missionId), whatever the retries. */
const putOnce = (item: Record<string, unknown>) => new PutCommand({ TableName: 'missions', Item: item, ConditionExpression: 'attribute_not_exists(thing) AND attribute_not_exists(missionId)' });

describe('local DynamoDB', () => {
	let ddb: DynamoDbService;
	let c: ReturnType<typeof clients>;
	beforeEach(async () => {
		ddb = await startDynamoDb({});
		c = clients(ddb.endpoint);
	});
	afterEach(async () => {
		c.db.destroy();
		await ddb.close();
	});

	it('a conditional put (attribute_not_exists) refuses the second put', async () => {
		await c.db.send(missions);
		// CREATING in the reply as on AWS, ACTIVE soon after it
		await waitActive(c.db, 'missions');
		const table = await c.db.send(new DescribeTableCommand({ TableName: 'missions' }));
		assert.equal(table.Table?.TableStatus, 'ACTIVE');
		await c.doc.send(putOnce({ thing: 'robot-1', missionId: 'm1', area: 42 }));
		await assert.rejects(c.doc.send(putOnce({ thing: 'robot-1', missionId: 'm1', area: 0 })), ConditionalCheckFailedException);
		const got = await c.doc.send(new GetCommand({ TableName: 'missions', Key: { thing: 'robot-1', missionId: 'm1' } }));
		assert.equal(got.Item?.area, 42);
		await c.doc.send(putOnce({ thing: 'robot-1', missionId: 'm2', area: 1 }));
	});

	it('refuses a wrong secret and an unknown access key', async () => {
		const wrong = clients(ddb.endpoint, { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: 'guess' });
		await assert.rejects(wrong.db.send(missions), (e: unknown) => e instanceof DynamoDBServiceException && e.name === 'InvalidSignatureException');
		const unknown = clients(ddb.endpoint, { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' });
		await assert.rejects(unknown.db.send(missions), (e: unknown) => e instanceof DynamoDBServiceException && e.name === 'UnrecognizedClientException');
		wrong.db.destroy();
		unknown.db.destroy();
	});

	it('two instances side by side; dataDir keeps items across a restart', async () => {
		const dir = await mkdtemp(path.join(tmpdir(), 'ddb-'));
		try {
			const a = await startDynamoDb({ dataDir: dir });
			const ac = clients(a.endpoint);
			await ac.db.send(missions);
			await waitActive(ac.db, 'missions');
			await ac.doc.send(putOnce({ thing: 'robot-1', missionId: 'm1' }));
			await c.db.send(missions);
			await waitActive(c.db, 'missions');
			await c.doc.send(putOnce({ thing: 'robot-1', missionId: 'm1' })); // a different store: no conflict
			ac.db.destroy();
			await a.close();
			const b = await startDynamoDb({ dataDir: dir });
			const bc = clients(b.endpoint);
			await assert.rejects(bc.doc.send(putOnce({ thing: 'robot-1', missionId: 'm1' })), ConditionalCheckFailedException);
			bc.db.destroy();
			await b.close();
		} finally {
			await rm(dir, { recursive: true, force: true });
		}
	});
});
