/*
 * Mission reports end to end on the local cloud: a device publishes on the Basic Ingest
 * topic at QoS 1, the mission_report rule invokes the product's handler, and the missions
 * table ends with each valid report exactly once; refused ones are logged with a reason.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { MqttClient } from 'mqtt';
import { MAX_REPORT_BYTES, reportTopic, type MissionReport } from '../firmware/core/mission/report';
import { createDocumentClient } from '../cloud/lib/aws';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import type { LogEntry } from '../cloud/local/log';
import { connectThing } from './support/mqtt-client';

const report = (missionId: string, areaM2: number): MissionReport => ({
	v: 1,
	missionId,
	thing: 'robot-1',
	trigger: 'button',
	startedAt: 1_750_000_000_000,
	endedAt: 1_750_000_900_000,
	durationS: 900,
	outcome: 'finished',
	areaM2,
	battery: { start: 90, end: 70 },
	errors: [],
	map: 'none',
});

describe('mission reports through the local cloud', function () {
	this.timeout(30_000);
	let dir: string;
	let cloud: LocalCloud;
	let device: MqttClient;
	const logs: LogEntry[] = [];

	const start = async () => {
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1'], log: (e) => logs.push(e) });
		device = await connectThing({ port: cloud.broker.port, identity: cloud.pki.things.get('robot-1')! });
	};
	const stop = async () => {
		device.end(true);
		await cloud.close();
	};
	/** Publishes as the robot does (QoS 1, Basic Ingest), then waits for the rule's invocation to settle. */
	const publish = async (missionId: string, body: unknown) => {
		await device.publishAsync(reportTopic('robot-1', missionId), JSON.stringify(body), { qos: 1 });
		await cloud.rules.idle();
	};
	const missions = async () => {
		const ddb = createDocumentClient({ region: LOCAL_REGION, endpoint: cloud.endpoints.dynamodb, credentials: { ...LOCAL_CREDENTIALS } });
		try {
			const out = await ddb.send(new QueryCommand({ TableName: cloud.tables.missions, KeyConditionExpression: 'thing = :t', ExpressionAttributeValues: { ':t': 'robot-1' }, ConsistentRead: true }));
			return out.Items ?? [];
		} finally {
			ddb.destroy();
		}
	};

	before(async () => {
		dir = await mkdtemp(path.join(tmpdir(), 'mission-report-'));
		await start();
	});
	after(async () => {
		await stop();
		await rm(dir, { recursive: true, force: true });
	});

	it('stores each valid report once and refuses the oversize and invalid ones with reasons', async () => {
		const first = report('m-1', 12.5);
		const second = report('m-2', 30);
		await publish('m-1', first);
		await publish('m-1', first);
		await publish('m-3', { ...report('m-3', 1), notes: 'x'.repeat(MAX_REPORT_BYTES) });
		await publish('m-4', { ...report('m-4', 1), outcome: 'exploded' });
		await publish('m-2', second);

		const items = await missions();
		assert.deepEqual(
			items.map(({ receivedAt, requestId, ...rest }) => (assert.equal(typeof receivedAt, 'number'), assert.equal(typeof requestId, 'string'), rest)),
			[
				{ ...first, mapReady: false },
				{ ...second, mapReady: false },
			],
		);

		const events = logs.filter((l) => typeof l.event === 'string' && l.event.startsWith('mission_report.'));
		assert.deepEqual(
			events.map((e) => [e.event, e.missionId, e.reason ?? null]),
			[
				['mission_report.stored', 'm-1', null],
				['mission_report.duplicate', 'm-1', null],
				['mission_report.refused', 'm-3', 'too_large'],
				['mission_report.refused', 'm-4', 'invalid'],
				['mission_report.stored', 'm-2', null],
			],
		);
		assert.match((events[3]!.errors as string[]).join('; '), /outcome: expected one of/);
		// the stored item names the invocation whose log lines tell its story
		const stored = events[0]!;
		assert.equal(stored.service, 'mission-report');
		assert.equal(stored.thing, 'robot-1');
		assert.equal(items[0]!.requestId, stored.requestId);
		assert.ok(logs.some((l) => l.event === 'rules.invoked' && l.requestId === stored.requestId));
		assert.equal(logs.filter((l) => l.event === 'rules.handler.error' || l.event === 'rules.failed').length, 0, 'refusals are not failures');
	});

	// the review: a payload nested 60,000 deep crashed the handler, which was retried and sent to the error queue three times
	it('refuses a report nested 60,000 deep once, with its reason: no crash, no retry, no error action', async () => {
		const before = logs.length;
		const deep = '{"v":1,"missionId":"m-9","thing":"robot-1","battery":' + '['.repeat(60_000) + ']'.repeat(60_000) + '}';
		assert.ok(deep.length < 128 * 1024, 'within the broker payload limit');
		await device.publishAsync(reportTopic('robot-1', 'm-9'), deep, { qos: 1 });
		await cloud.rules.idle();
		const after = logs.slice(before);
		const refused = after.filter((l) => l.event === 'mission_report.refused');
		assert.deepEqual(
			refused.map((e) => [e.missionId, e.reason, e.errors]),
			[['m-9', 'invalid', ['report: nested deeper than 8 levels']]],
		);
		assert.equal(after.filter((l) => l.event === 'rules.handler.error' || l.event === 'rules.failed' || l.event === 'rules.error_action').length, 0, JSON.stringify(after.map((l) => l.event)));
		assert.equal(after.filter((l) => l.event === 'rules.invoked').length, 1, 'invoked once');
	});

	it('keeps the tables and their items across a restart on the same data directory', async () => {
		await stop();
		await start();
		assert.deepEqual(
			(await missions()).map((i) => i.missionId),
			['m-1', 'm-2'],
		);
		await publish('m-2', report('m-2', 30));
		await publish('m-5', report('m-5', 5));
		assert.deepEqual(
			(await missions()).map((i) => i.missionId),
			['m-1', 'm-2', 'm-5'],
		);
	});
});
