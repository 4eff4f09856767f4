/*
 * command-events: each command execution event is one CommandExecutions{Service=commands,
 * Status} EMF record (read back with readEmf, as CloudWatch and the local collector do); an event
 * that is not AWS's shape is refused and counted nowhere.
 */
import assert from 'node:assert/strict';
import { createLogger, type LogRecord } from '../../lib/logger';
import { NAMESPACE, readEmf } from '../../lib/metrics';
import { COMMAND_STATUSES, createCommandEventsHandler } from './handler';

const context = { awsRequestId: 'req-1', functionName: 'CommandEventsFunction' };

describe('command-events handler', () => {
	const records: Record<string, unknown>[] = [];
	const handle = createCommandEventsHandler({ logger: createLogger({ sink: (r: LogRecord) => void records.push(r as Record<string, unknown>) }) });
	beforeEach(() => (records.length = 0));

	it('counts one execution of each status, with the status as a dimension', async () => {
		for (const status of COMMAND_STATUSES) {
			const out = await handle(
				{
					executionId: 'e-' + status,
					status,
					eventType: 'COMMAND_EXECUTION',
					commandArn: 'arn:aws:iot:eu-west-1:123456789012:command/locate',
					targetArn: 'arn:aws:iot:eu-west-1:123456789012:thing/robot-1',
					timestamp: 1,
				},
				context,
			);
			assert.deepEqual(out, { status: 'counted', executionStatus: status });
		}
		const metrics = records.flatMap((r) => readEmf(r));
		assert.deepEqual(
			metrics,
			COMMAND_STATUSES.map((status) => ({ namespace: NAMESPACE, name: 'CommandExecutions', value: 1, dimensions: { Service: 'commands', Status: status } })),
		);
	});

	it('refuses what is not a command execution event, counting nothing', async () => {
		for (const bad of [null, {}, { eventType: 'COMMAND_EXECUTION', executionId: 'e', status: 'DONE' }, { eventType: 'JOB_EXECUTION', executionId: 'e', status: 'SUCCEEDED' }, { eventType: 'COMMAND_EXECUTION', status: 'SUCCEEDED' }]) {
			const out = await handle(bad, context);
			assert.equal(out.status, 'refused', JSON.stringify(bad));
		}
		assert.deepEqual(
			records.flatMap((r) => readEmf(r)),
			[],
		);
		assert.equal(records.filter((r) => r.event === 'command_events.refused').length, 5);
	});
});
