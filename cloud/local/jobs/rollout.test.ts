/*
 * Staged rollouts, abort criteria and thing-group targets of the local jobs service, as
 * conformance cases written from AWS's documentation ("Job rollout and abort configuration",
 * API reference: JobExecutionsRolloutConfig, ExponentialRolloutRate, AbortCriteria,
 * CreateThingGroup, AddThingToThingGroup, ListThingsInThingGroup), through @aws-sdk/client-iot.
 * The devices' side is the jobs core's device API (what the MQTT device plane calls).
 */
import assert from 'node:assert/strict';
import {
	AddThingToThingGroupCommand,
	CreateJobCommand,
	CreateThingGroupCommand,
	DescribeJobCommand,
	DescribeJobExecutionCommand,
	DescribeThingGroupCommand,
	IoTClient,
	ListJobExecutionsForJobCommand,
	ListThingsInThingGroupCommand,
	ResourceNotFoundException,
} from '@aws-sdk/client-iot';
import { createBus } from '../bus';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../credentials';
import type { LogEntry } from '../log';
import { startJobsService, type JobsService } from './index';
import { thingGroupArn } from './groups';
import { abortCriterion, advance, parseAbort, parseRollout, startRollout } from './rollout';

const MINUTE_MS = 250;
const DOC = JSON.stringify({ operation: 'firmware-update', version: '2.0.0' });

describe('rollout and abort: the documented rules', () => {
	it("the guide's example: 50/min, x2 after every 1000 notified, up to 1000/min", () => {
		const r = parseRollout({ exponentialRate: { baseRatePerMinute: 50, incrementFactor: 2, rateIncreaseCriteria: { numberOfNotifiedThings: 1000 } }, maximumPerMinute: 1000 });
		let p = startRollout(r);
		assert.equal(p.ratePerMinute, 50);
		const rates: number[] = [];
		for (let minute = 0; minute < 60; minute++) {
			p = advance(r, p, p.ratePerMinute, 0);
			rates.push(p.ratePerMinute);
		}
		// 20 minutes at 50 make the first 1000, then 100, 200, 400, 800, 1000
		assert.equal(rates[18], 50);
		assert.equal(rates[19], 100);
		assert.deepEqual([...new Set(rates)], [50, 100, 200, 400, 800, 1000]);
	});

	it('numberOfSucceededThings raises the rate on successes, not notifications', () => {
		const r = parseRollout({ exponentialRate: { baseRatePerMinute: 2, incrementFactor: 1.5, rateIncreaseCriteria: { numberOfSucceededThings: 4 } }, maximumPerMinute: 10 });
		let p = advance(r, startRollout(r), 100, 3);
		assert.equal(p.ratePerMinute, 2);
		p = advance(r, p, 0, 1);
		assert.equal(p.ratePerMinute, 3);
	});

	it('maximumPerMinute alone is a constant rate, 1000 by default', () => {
		assert.equal(startRollout(parseRollout({})).ratePerMinute, 1000);
		assert.equal(startRollout(parseRollout({ maximumPerMinute: 7 })).ratePerMinute, 7);
	});

	/** [what, config, the field the error names] */
	const BAD: readonly (readonly [string, unknown, RegExp])[] = [
		['maximumPerMinute over 1000', { maximumPerMinute: 1001 }, /maximumPerMinute/],
		['exponentialRate without maximumPerMinute', { exponentialRate: { baseRatePerMinute: 5, incrementFactor: 2, rateIncreaseCriteria: { numberOfNotifiedThings: 5 } } }, /maximumPerMinute is required/],
		['incrementFactor 1.05', { maximumPerMinute: 9, exponentialRate: { baseRatePerMinute: 5, incrementFactor: 1.05, rateIncreaseCriteria: { numberOfNotifiedThings: 5 } } }, /incrementFactor/],
		['incrementFactor 6', { maximumPerMinute: 9, exponentialRate: { baseRatePerMinute: 5, incrementFactor: 6, rateIncreaseCriteria: { numberOfNotifiedThings: 5 } } }, /incrementFactor/],
		['both increase criteria', { maximumPerMinute: 9, exponentialRate: { baseRatePerMinute: 5, incrementFactor: 2, rateIncreaseCriteria: { numberOfNotifiedThings: 5, numberOfSucceededThings: 5 } } }, /one of/],
		['baseRatePerMinute 0', { maximumPerMinute: 9, exponentialRate: { baseRatePerMinute: 0, incrementFactor: 2, rateIncreaseCriteria: { numberOfNotifiedThings: 5 } } }, /baseRatePerMinute/],
	];
	for (const [what, v, re] of BAD) it('refuses ' + what, () => assert.throws(() => parseRollout(v), re));

	it("abort: the criterion needs its minimum of finished executions, then the failures' share of them", () => {
		const a = parseAbort({ criteriaList: [{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 25, minNumberOfExecutedThings: 4 }] });
		assert.equal(abortCriterion(a, { FAILED: 3 }), undefined, 'three finished: under the minimum');
		assert.equal(abortCriterion(a, { FAILED: 1, SUCCEEDED: 3 })?.failureType, 'FAILED');
		assert.equal(abortCriterion(a, { FAILED: 1, SUCCEEDED: 4 }), undefined, '20% < 25%');
		assert.equal(abortCriterion(a, { REJECTED: 4, SUCCEEDED: 0 }), undefined, 'REJECTED is not FAILED');
		const all = parseAbort({ criteriaList: [{ failureType: 'ALL', action: 'CANCEL', thresholdPercentage: 50, minNumberOfExecutedThings: 2 }] });
		assert.ok(abortCriterion(all, { REJECTED: 1, TIMED_OUT: 1, SUCCEEDED: 2 }));
		assert.throws(() => parseAbort({ criteriaList: [{ failureType: 'FAILED', action: 'STOP', thresholdPercentage: 5, minNumberOfExecutedThings: 1 }] }), /action/);
		assert.throws(() => parseAbort({ criteriaList: [{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 10.999, minNumberOfExecutedThings: 1 }] }), /two decimals/);
		assert.throws(() => parseAbort({ criteriaList: [{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 10, minNumberOfExecutedThings: 0 }] }), /minNumberOfExecutedThings/);
		assert.throws(() => parseAbort({ criteriaList: [] }), /criteriaList/);
	});
});

describe('jobs service: thing groups, staged rollout, abort (@aws-sdk/client-iot)', function () {
	this.timeout(30_000);
	let jobs: JobsService;
	let iot: IoTClient;
	const logs: LogEntry[] = [];
	const things = Array.from({ length: 10 }, (_, i) => `robot-${i + 1}`);

	before(async () => {
		jobs = await startJobsService({ bus: createBus(() => {}), log: (e) => logs.push(e), minuteMs: MINUTE_MS });
		iot = new IoTClient({ endpoint: jobs.endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
		await iot.send(new CreateThingGroupCommand({ thingGroupName: 'canary', thingGroupProperties: { thingGroupDescription: 'first to update' } }));
		await iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
		for (const [i, t] of things.entries()) await iot.send(new AddThingToThingGroupCommand({ thingGroupName: i < 2 ? 'canary' : 'fleet', thingName: t }));
	});
	after(async () => {
		iot?.destroy();
		await jobs?.close();
	});

	const executions = async (jobId: string) => (await iot.send(new ListJobExecutionsForJobCommand({ jobId }))).executionSummaries ?? [];
	const until = async (what: string, f: () => Promise<boolean>) => {
		for (let i = 0; i < 200; i++) {
			if (await f()) return;
			await new Promise((r) => setTimeout(r, 25));
		}
		throw new Error('timed out: ' + what);
	};

	it('static groups: created, described, listed; a repeated create with the same properties answers the same group', async () => {
		const d = await iot.send(new DescribeThingGroupCommand({ thingGroupName: 'canary' }));
		assert.equal(d.thingGroupArn, thingGroupArn('canary'));
		assert.equal(d.thingGroupProperties?.thingGroupDescription, 'first to update');
		assert.deepEqual((await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'canary' }))).things, ['robot-1', 'robot-2']);
		const again = await iot.send(new CreateThingGroupCommand({ thingGroupName: 'canary', thingGroupProperties: { thingGroupDescription: 'first to update' } }));
		assert.equal(again.thingGroupId, d.thingGroupId);
		await assert.rejects(iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'nope' })), ResourceNotFoundException);
	});

	it('a group target with maximumPerMinute 3: three things a minute get the job, the rest have no execution yet', async () => {
		await iot.send(new CreateJobCommand({ jobId: 'staged-1', document: DOC, targets: [thingGroupArn('fleet')], jobExecutionsRolloutConfig: { maximumPerMinute: 3 } }));
		assert.equal((await executions('staged-1')).length, 3);
		await assert.rejects(iot.send(new DescribeJobExecutionCommand({ jobId: 'staged-1', thingName: 'robot-10' })), ResourceNotFoundException);
		await until('six notified', async () => (await executions('staged-1')).length === 6);
		const job = (await iot.send(new DescribeJobCommand({ jobId: 'staged-1' }))).job!;
		assert.deepEqual(job.jobExecutionsRolloutConfig, { maximumPerMinute: 3 });
		assert.equal(job.targets?.[0], thingGroupArn('fleet'));
		await until('all eight', async () => (await executions('staged-1')).length === 8);
		assert.ok(logs.some((l) => l.event === 'jobs.rollout.notified' && l.jobId === 'staged-1'));
	});

	it('abortConfig: failures past the threshold cancel the job; queued executions are canceled, things not yet notified never get one', async () => {
		await iot.send(
			new CreateJobCommand({
				jobId: 'staged-2',
				document: DOC,
				targets: [thingGroupArn('fleet')],
				jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
				abortConfig: { criteriaList: [{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 50, minNumberOfExecutedThings: 2 }] },
				timeoutConfig: { inProgressTimeoutInMinutes: 30 },
			}),
		);
		const first = (await executions('staged-2')).map((e) => e.thingArn!.split('/')[1]!);
		assert.equal(first.length, 2);
		// both notified robots take the job and fail their self-test
		for (const thing of first) {
			const e = jobs.runner.execution(thing, 'staged-2')!;
			const started = e.status === 'QUEUED' ? jobs.runner.update(e, { status: 'IN_PROGRESS' }) : { ok: true as const, execution: e };
			assert.ok(started.ok);
			assert.ok(jobs.runner.update(started.execution, { status: 'FAILED', statusDetails: { reason: 'self-test' } }).ok);
		}
		await until('canceled', async () => (await iot.send(new DescribeJobCommand({ jobId: 'staged-2' }))).job?.status === 'CANCELED');
		const job = (await iot.send(new DescribeJobCommand({ jobId: 'staged-2' }))).job!;
		assert.match(job.comment ?? '', /aborted: FAILED/);
		assert.equal(job.jobProcessDetails?.numberOfFailedThings, 2);
		assert.deepEqual(job.abortConfig?.criteriaList?.[0]?.failureType, 'FAILED');
		// minutes pass: nobody else is ever notified
		await new Promise((r) => setTimeout(r, 3 * MINUTE_MS));
		assert.equal((await executions('staged-2')).length, 2);
		for (const thing of things.slice(2).filter((t) => !first.includes(t))) {
			await assert.rejects(iot.send(new DescribeJobExecutionCommand({ jobId: 'staged-2', thingName: thing })), ResourceNotFoundException);
		}
		assert.ok(logs.some((l) => l.event === 'jobs.aborted' && l.jobId === 'staged-2'));
	});

	it('a CONTINUOUS job on a group follows a thing added later; a SNAPSHOT one does not', async () => {
		await iot.send(new CreateThingGroupCommand({ thingGroupName: 'late' }));
		await iot.send(new CreateJobCommand({ jobId: 'cont-1', document: DOC, targets: [thingGroupArn('late')], targetSelection: 'CONTINUOUS' }));
		await iot.send(new CreateJobCommand({ jobId: 'snap-1', document: DOC, targets: [thingGroupArn('late')] }));
		await iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'late', thingName: 'robot-5' }));
		assert.equal((await iot.send(new DescribeJobExecutionCommand({ jobId: 'cont-1', thingName: 'robot-5' }))).execution?.status, 'QUEUED');
		await assert.rejects(iot.send(new DescribeJobExecutionCommand({ jobId: 'snap-1', thingName: 'robot-5' })), ResourceNotFoundException);
	});

	it('refuses a bad rollout or abort configuration and an unknown group, naming it', async () => {
		await assert.rejects(iot.send(new CreateJobCommand({ jobId: 'bad-1', document: DOC, targets: [thingGroupArn('fleet')], jobExecutionsRolloutConfig: { maximumPerMinute: 5000 } })), /maximumPerMinute/);
		await assert.rejects(iot.send(new CreateJobCommand({ jobId: 'bad-2', document: DOC, targets: [thingGroupArn('fleet')], abortConfig: { criteriaList: [] } })), /criteriaList/);
		await assert.rejects(iot.send(new CreateJobCommand({ jobId: 'bad-3', document: DOC, targets: [thingGroupArn('nope')] })), ResourceNotFoundException);
	});
});
