/* The mission report handler against a mocked DynamoDB document client (aws-sdk-client-mock). */
import assert from 'node:assert/strict';
import { ConditionalCheckFailedException, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand, type PutCommandInput, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { MAX_REPORT_BYTES, type MissionReport } from '../../../firmware/core/mission/report';
import { createDocumentClient } from '../../lib/aws';
import { createLogger, type LogRecord } from '../../lib/logger';
import { createMissionReportHandler, fromEnv, type MissionReportHandler } from './handler';

const report: MissionReport = Object.freeze({
	v: 1,
	missionId: 'm-1a',
	thing: 'robot-1',
	trigger: 'schedule',
	entryId: 'mon-0900',
	startedAt: 1_750_000_000_000,
	endedAt: 1_750_003_600_000,
	durationS: 3600,
	outcome: 'finished',
	areaM2: 42.5,
	battery: { start: 100, end: 61 },
	errors: [{ code: 'brush.stuck', atS: 120 }],
	map: 'pending',
});

/** What the rule's SQL hands the function for a report published by `clientId` on the report's own topic. */
const event = (r: unknown, over: Record<string, unknown> = {}) => ({
	...(r as object),
	topicThing: 'robot-1',
	topicMission: 'm-1a',
	clientId: 'robot-1',
	receivedAt: 1_750_003_601_000,
	...over,
});

let n = 0;
const context = () => ({ awsRequestId: 'req-' + ++n, functionName: 'MissionReportFunction' });

describe('mission report handler', () => {
	// installed in before(), not at load time: a stub replaces the client class's send for every
	// instance in the process, and other suites (the integration tests) need the real clients
	const installMocks = () => ({ ddb: mockClient(DynamoDBDocumentClient) });
	let mocks: ReturnType<typeof installMocks>;
	before(() => {
		mocks = installMocks();
	});
	// every document client's send is the mock's, so no request leaves the process
	const ddb = createDocumentClient({ region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' } });
	let logs: LogRecord[];
	let handle: MissionReportHandler;
	/** A table in a Map, with DynamoDB's conditional put. */
	let table: Map<string, Record<string, unknown>>;

	beforeEach(() => {
		mocks.ddb.reset();
		logs = [];
		table = new Map();
		mocks.ddb.on(PutCommand).callsFake((input: PutCommandInput) => {
			const item = input.Item!;
			const key = item.thing + '/' + item.missionId;
			assert.equal(input.ConditionExpression, 'attribute_not_exists(#m)');
			assert.deepEqual(input.ExpressionAttributeNames, { '#m': 'missionId' });
			if (table.has(key)) throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
			table.set(key, structuredClone(item));
			return {};
		});
		mocks.ddb.on(GetCommand).callsFake((input: { Key: Record<string, string> }) => ({ Item: table.get(input.Key.thing + '/' + input.Key.missionId) }));
		handle = createMissionReportHandler({ ddb, table: 'missions', logger: createLogger({ sink: (r) => logs.push(r), level: 'debug' }) });
	});
	after(() => {
		mocks.ddb.restore();
	});

	const events = (name: string) => logs.filter((l) => l.event === name);

	it('stores a valid report with receivedAt, mapReady false and the request id, logging the trace keys', async () => {
		const ctx = context();
		assert.deepEqual(await handle(event(report), ctx), { status: 'stored' });
		assert.deepEqual(table.get('robot-1/m-1a'), { ...report, receivedAt: 1_750_003_601_000, mapReady: false, requestId: ctx.awsRequestId });
		const [stored] = events('mission_report.stored');
		assert.ok(stored);
		assert.equal(stored.level, 'info');
		assert.equal(stored.requestId, ctx.awsRequestId);
		assert.equal(stored.thing, 'robot-1');
		assert.equal(stored.missionId, 'm-1a');
		assert.equal(stored.clientId, 'robot-1');
		const put = mocks.ddb.commandCalls(PutCommand)[0]!.args[0].input;
		assert.equal(put.TableName, 'missions');
		assert.ok(!('topicThing' in put.Item!) && !('clientId' in put.Item!), 'the rule fields are not stored as report fields');
	});

	it('stores a report delivered twice once, and succeeds the second time', async () => {
		assert.deepEqual(await handle(event(report), context()), { status: 'stored' });
		assert.deepEqual(await handle(event(report, { receivedAt: 1_750_003_700_000 }), context()), { status: 'duplicate', differs: [] });
		assert.equal(table.size, 1);
		assert.equal(table.get('robot-1/m-1a')!.receivedAt, 1_750_003_601_000, 'the first delivery stays');
		const [dup] = events('mission_report.duplicate');
		assert.equal(dup?.level, 'info');
	});

	it('keeps the stored report when a duplicate differs, with a warning naming the fields', async () => {
		const first = context();
		await handle(event(report), first);
		const out = await handle(event({ ...report, areaM2: 50, outcome: 'failed' }), context());
		assert.deepEqual(out, { status: 'duplicate', differs: ['outcome', 'areaM2'] });
		assert.equal(table.get('robot-1/m-1a')!.areaM2, 42.5);
		const [dup] = events('mission_report.duplicate');
		assert.equal(dup?.level, 'warn');
		assert.equal(dup?.storedRequestId, first.awsRequestId);
	});

	it('completes the item map-ingest made when the map came first, once, keeping the map attributes', async () => {
		const mapFields = { mapReady: true, mapBytes: 2048, mapKey: 'decoded/robot-1/m-1a.map', mapSequencer: '0'.repeat(31) + '1' };
		table.set('robot-1/m-1a', { thing: 'robot-1', missionId: 'm-1a', ...mapFields });
		mocks.ddb.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
			const key = input.Key!.thing + '/' + input.Key!.missionId;
			const item = table.get(key);
			assert.equal(input.ConditionExpression, 'attribute_exists(#m) AND attribute_not_exists(#received)');
			if (!item || 'receivedAt' in item) throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
			const names = input.ExpressionAttributeNames!;
			const values = input.ExpressionAttributeValues!;
			const next = { ...item };
			for (const part of input.UpdateExpression!.replace(/^SET /, '').split(/, (?=#)/)) {
				const [name, value] = part.split(' = ') as [string, string];
				const ifNot = /^if_not_exists\((#\w+), (:\w+)\)$/.exec(value);
				next[names[name]!] = ifNot ? (item[names[ifNot[1]!]!] ?? values[ifNot[2]!]) : values[value];
			}
			table.set(key, next);
			return {};
		});
		const ctx = context();
		assert.deepEqual(await handle(event(report), ctx), { status: 'stored' });
		assert.deepEqual(table.get('robot-1/m-1a'), { ...report, ...mapFields, receivedAt: 1_750_003_601_000, requestId: ctx.awsRequestId });
		assert.equal(events('mission_report.stored')[0]?.mapFirst, true);
		assert.deepEqual(await handle(event(report, { receivedAt: 1_750_003_700_000 }), context()), { status: 'duplicate', differs: [] });
		assert.equal(table.get('robot-1/m-1a')!.receivedAt, 1_750_003_601_000);
		assert.equal(mocks.ddb.commandCalls(UpdateCommand).length, 1, 'the duplicate meets a stored report, not the stub');
	});

	it('throws when the existing item cannot be read, since it may hold only a map', async () => {
		table.set('robot-1/m-1a', { thing: 'robot-1', missionId: 'm-1a', mapReady: true });
		mocks.ddb.on(GetCommand).rejects(new ProvisionedThroughputExceededException({ message: 'Rate exceeded', $metadata: {} }));
		await assert.rejects(handle(event(report), context()), { name: 'ProvisionedThroughputExceededException' });
		assert.equal(table.get('robot-1/m-1a')!.receivedAt, undefined);
	});

	const refusals: [string, Record<string, unknown>, string, RegExp][] = [
		['larger than MAX_REPORT_BYTES', event({ ...report, pad: 'x'.repeat(MAX_REPORT_BYTES) }), 'too_large', /bytes, limit 4096/],
		['failing validateReport', event({ ...report, areaM2: -1, battery: { start: 100 } }), 'invalid', /areaM2/],
		['of another version', event({ ...report, v: 2 }), 'invalid', /v: expected 1, got 2/],
		['about another thing than its topic', event({ ...report, thing: 'robot-2' }, { clientId: 'robot-2' }), 'topic_mismatch', /robot-2\/m-1a, topic is robot-1\/m-1a/],
		['about another mission than its topic', event({ ...report, missionId: 'm-2' }), 'topic_mismatch', /m-2, topic is robot-1\/m-1a/],
		['from a client that is not its thing', event(report, { clientId: 'robot-2' }), 'client_mismatch', /client is robot-2/],
	];
	for (const [name, ev, reason, message] of refusals)
		it('refuses a report ' + name + ', logging the reason, without throwing or storing', async () => {
			const out = await handle(ev, context());
			assert.equal(out.status, 'refused');
			assert.equal(out.status === 'refused' && out.reason, reason);
			const [refused] = events('mission_report.refused');
			assert.equal(refused?.level, 'warn');
			assert.equal(refused?.reason, reason);
			assert.match((refused?.errors as string[]).join('; '), message);
			assert.equal(mocks.ddb.commandCalls(PutCommand).length, 0);
		});

	it('throws on DynamoDB throttling and other errors, so the rule retries', async () => {
		mocks.ddb.on(PutCommand).rejects(new ProvisionedThroughputExceededException({ message: 'Rate exceeded', $metadata: {} }));
		await assert.rejects(handle(event(report), context()), { name: 'ProvisionedThroughputExceededException' });
		assert.equal(events('mission_report.store_failed')[0]?.errorName, 'ProvisionedThroughputExceededException');
		mocks.ddb.on(PutCommand).rejects(new Error('socket hang up'));
		await assert.rejects(handle(event(report), context()), /socket hang up/);
		assert.equal(table.size, 0);
	});

	it('throws on an event the rule SQL cannot have produced (a deployment fault)', async () => {
		await assert.rejects(handle({ ...report }, context()), /topicThing, topicMission, clientId, receivedAt missing/);
		await assert.rejects(handle(null, context()), /event: expected the object/);
		assert.equal(mocks.ddb.commandCalls(PutCommand).length, 0);
	});

	it('checks its arguments and its environment', () => {
		const logger = createLogger({ sink: () => {} });
		assert.throws(() => createMissionReportHandler({ ddb, table: '', logger }), /"table" expected/);
		assert.throws(() => createMissionReportHandler({ ddb: {} as never, table: 'missions', logger }), /"ddb" expected/);
		assert.throws(() => fromEnv({}), /MISSIONS_TABLE is not set/);
		assert.equal(typeof fromEnv({ MISSIONS_TABLE: 'missions', AWS_REGION: 'eu-west-1' }), 'function');
	});
});
