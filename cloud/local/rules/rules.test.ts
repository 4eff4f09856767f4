import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { connectThing } from '../../../test/support/mqtt-client';
import { startLocalCloud, type LocalCloud } from '../index';
import type { LogEntry } from '../log';
import { createRules, type LambdaContext, type RuleErrorPayload, type Rules } from './index';

describe('rules engine: topic rules invoking Lambda-style handlers', function () {
	this.timeout(20_000);
	let dir: string;
	let cloud: LocalCloud;
	let rules: Rules;
	let device: MqttClient;
	const logs: LogEntry[] = [];
	const calls: { rule: string; event: Record<string, unknown>; context: LambdaContext }[] = [];
	const record = (rule: string) => async (event: Record<string, unknown>, context: LambdaContext) => void calls.push({ rule, event, context });

	before(async () => {
		dir = await mkdtemp(path.join(tmpdir(), 'rules-'));
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1'] });
		device = await connectThing({ port: cloud.broker.port, identity: cloud.pki.things.get('robot-1')! });
	});
	beforeEach(() => {
		calls.length = 0;
		logs.length = 0;
		rules = createRules({ bus: cloud.bus, log: (e) => logs.push(e), retryDelayMs: 10 });
	});
	afterEach(() => rules.close());
	after(async () => {
		device.end(true);
		await cloud.close();
		await rm(dir, { recursive: true, force: true });
	});

	/** Publishes as the device, then waits until the broker routed it and every invocation settled. */
	const publish = async (topic: string, payload: unknown): Promise<void> => {
		await device.publishAsync(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 });
		await rules.idle();
	};

	it('gives the handler the payload merged with the selected functions', async () => {
		rules.add({
			name: 'map_upload_request',
			sql: "SELECT *, topic() AS topic, topic(2) AS thing, clientid() AS clientId, principal() AS principal, timestamp() AS receivedAt FROM 'robots/+/maps/upload-request'",
			handler: record('map_upload_request'),
			functionName: 'MapUploadFunction',
		});
		const before = Date.now();
		await publish('robots/robot-1/maps/upload-request', { missionId: 'm-1', clientToken: 't1' });
		assert.equal(calls.length, 1);
		const { event, context } = calls[0]!;
		const der = new X509Certificate(cloud.pki.things.get('robot-1')!.certPem).raw;
		assert.deepEqual(
			{ ...event, receivedAt: 0 },
			{
				missionId: 'm-1',
				clientToken: 't1',
				topic: 'robots/robot-1/maps/upload-request',
				thing: 'robot-1',
				clientId: 'robot-1',
				principal: createHash('sha256').update(der).digest('hex'),
				receivedAt: 0,
			},
		);
		assert.ok((event.receivedAt as number) >= before && (event.receivedAt as number) <= Date.now());
		assert.equal(context.functionName, 'MapUploadFunction');
		assert.equal(context.invokedFunctionArn, 'arn:aws:lambda:us-east-1:000000000000:function:MapUploadFunction');
		assert.ok(context.getRemainingTimeInMillis() > 0);
		// an ordinary topic that the filter does not match reaches nobody
		await publish('robots/robot-1/maps/other', { x: 1 });
		assert.equal(calls.length, 1);
	});

	it('routes Basic Ingest to the named rule only, matching FROM against the rest of the topic', async () => {
		const sql = "SELECT *, topic() AS topic, topic(4) AS missionId FROM 'robots/+/missions/+/report'";
		rules.add({ name: 'mission_report', sql, handler: record('mission_report') });
		rules.add({ name: 'mission_report_copy', sql, handler: record('mission_report_copy') });
		rules.add({ name: 'everything', sql: "SELECT * FROM '#'", handler: record('everything') });
		await publish('$aws/rules/mission_report/robots/robot-1/missions/m-7/report', { cleanedM2: 42 });
		assert.deepEqual(
			calls.map((c) => [c.rule, c.event]),
			[['mission_report', { cleanedM2: 42, topic: 'robots/robot-1/missions/m-7/report', missionId: 'm-7' }]],
		);

		// the same topic without the prefix is an ordinary publish: every matching rule sees it
		calls.length = 0;
		await publish('robots/robot-1/missions/m-7/report', { cleanedM2: 1 });
		assert.deepEqual(calls.map((c) => c.rule).sort(), ['everything', 'mission_report', 'mission_report_copy']);

		// Basic Ingest whose rest does not match: dropped, logged (a rule the robot policy does not
		// grant, such as $aws/rules/no_such_rule/..., never gets here: thing-policy.test.ts)
		calls.length = 0;
		await publish('$aws/rules/mission_report/robots/robot-1/missions/m-7/events', { x: 1 });
		assert.equal(calls.length, 0);
		assert.ok(logs.some((e) => e.event === 'rules.basic_ingest.no_match' && e.rule === 'mission_report'));
	});

	it('retries a failing handler twice, logs it with the rule name, calls the error action, and runs the other rules', async () => {
		let attempts = 0;
		const errors: RuleErrorPayload[] = [];
		rules.add({
			name: 'broken',
			sql: "SELECT * FROM 'robots/+/missions/+/events'",
			handler: async () => {
				attempts++;
				throw new Error('table is gone');
			},
			errorAction: (e) => void errors.push(e),
		});
		rules.add({ name: 'healthy', sql: "SELECT * FROM 'robots/+/missions/+/events'", handler: record('healthy') });
		await publish('robots/robot-1/missions/m-1/events', { seq: 1 });
		assert.equal(attempts, 3);
		assert.equal(calls.length, 1);
		assert.equal(logs.filter((e) => e.event === 'rules.handler.error' && e.rule === 'broken').length, 3);
		assert.ok(logs.some((e) => e.event === 'rules.failed' && e.rule === 'broken' && e.error === 'table is gone'));
		assert.deepEqual(errors, [
			{
				ruleName: 'broken',
				topic: 'robots/robot-1/missions/m-1/events',
				clientId: 'robot-1',
				base64OriginalPayload: Buffer.from('{"seq":1}').toString('base64'),
				failures: [{ failedAction: 'LambdaAction', failedResource: 'arn:aws:lambda:us-east-1:000000000000:function:broken', errorMessage: 'table is gone' }],
			},
		]);
	});

	it('succeeds on a retry after a transient failure', async () => {
		let attempts = 0;
		rules.add({
			name: 'flaky',
			sql: "SELECT * FROM 'robots/+/x'",
			handler: async (event, context) => {
				if (++attempts === 1) throw new Error('throttled');
				calls.push({ rule: 'flaky', event, context });
			},
		});
		await publish('robots/robot-1/x', { a: 1 });
		assert.equal(attempts, 2);
		assert.equal(calls.length, 1);
		assert.ok(!logs.some((e) => e.event === 'rules.failed'));
	});

	it('sends a non-JSON payload to the error action, not the handler', async () => {
		const errors: RuleErrorPayload[] = [];
		rules.add({ name: 'json_only', sql: "SELECT * FROM 'robots/+/x'", handler: record('json_only'), errorAction: (e) => void errors.push(e) });
		await publish('robots/robot-1/x', 'not json');
		assert.equal(calls.length, 0);
		assert.match(errors[0]!.failures[0]!.errorMessage, /not a JSON object/);
		assert.equal(errors[0]!.base64OriginalPayload, Buffer.from('not json').toString('base64'));
	});

	it('checks rules when they are added and stops routing once removed', async () => {
		assert.throws(() => rules.add({ name: 'bad-name', sql: "SELECT * FROM 'a'", handler: record('x') }), /rule.name/);
		assert.throws(() => rules.add({ name: 'bad_sql', sql: "SELECT * FROM 'a' WHERE b = 1", handler: record('x') }), /WHERE is not supported/);
		rules.add({ name: 'gone', sql: "SELECT * FROM 'robots/+/x'", handler: record('gone') });
		assert.throws(() => rules.add({ name: 'gone', sql: "SELECT * FROM 'a'", handler: record('x') }), /already exists/);
		assert.equal(rules.remove('gone'), true);
		await publish('robots/robot-1/x', { a: 1 });
		assert.equal(calls.length, 0);
	});
});
