/* EMF records as CloudWatch's specification shapes them, and the local collector that counts them. */
import assert from 'node:assert/strict';
import { createLogger } from './logger';
import { METRICS, NAMESPACE, countMetric, emfRecord, readEmf } from './metrics';
import { createMetricsCollector, metricKey } from '../local/metrics';
import type { LogEntry } from '../local/log';

describe("EMF metrics in the handlers' logs", () => {
	it("a record is the specification's shape: _aws with Timestamp and CloudWatchMetrics, the dimension and the value as members", () => {
		assert.deepEqual(emfRecord('mission-report', 'ReportsStored', 1, {}, 1700000000000), {
			_aws: { Timestamp: 1700000000000, CloudWatchMetrics: [{ Namespace: NAMESPACE, Dimensions: [['Service']], Metrics: [{ Name: 'ReportsStored', Unit: 'Count' }] }] },
			Service: 'mission-report',
			ReportsStored: 1,
		});
		const withStatus = emfRecord('commands', 'CommandExecutions', 1, { Status: 'SUCCEEDED' }, 1);
		assert.deepEqual((withStatus._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]!.Dimensions, [['Service', 'Status']]);
		assert.equal(withStatus.Status, 'SUCCEEDED');
	});

	it('refuses a metric name it does not know and a value that is not finite', () => {
		assert.throws(() => emfRecord('x', 'Nope' as never, 1), /"name" expected one of/);
		assert.throws(() => emfRecord('x', 'ReportsStored', NaN), /"value"/);
	});

	it('written through a handler logger, it reaches the log as one line CloudWatch can read, the request id beside it', () => {
		const lines: string[] = [];
		const log = createLogger({ sink: (r) => void lines.push(JSON.stringify(r)), keys: { service: 'mission-report' } }).child({ requestId: 'r-1' });
		countMetric(log, 'mission-report', 'ReportsStored');
		const parsed = JSON.parse(lines[0]!) as Record<string, unknown>;
		assert.equal(parsed.requestId, 'r-1');
		assert.deepEqual(readEmf(parsed), [{ namespace: NAMESPACE, name: 'ReportsStored', value: 1, dimensions: { Service: 'mission-report' } }]);
		assert.deepEqual(readEmf({ level: 'info', event: 'x' }), []);
	});

	it('the local collector counts by metric and dimensions and passes every record on', () => {
		const c = createMetricsCollector();
		const passed: LogEntry[] = [];
		const log = c.tap((e) => void passed.push(e));
		const logger = createLogger({ sink: log as never });
		countMetric(logger, 'mission-report', 'ReportsStored');
		countMetric(logger, 'mission-report', 'ReportsStored');
		countMetric(logger, 'commands', 'CommandExecutions', 1, { Status: 'FAILED' });
		logger.info('not.a.metric');
		assert.equal(passed.length, 4);
		assert.equal(c.total('ReportsStored'), 2);
		assert.deepEqual(c.counters(), {
			[metricKey('ReportsStored', { Service: 'mission-report' })]: 2,
			[metricKey('CommandExecutions', { Service: 'commands', Status: 'FAILED' })]: 1,
		});
		assert.equal(metricKey('X', { b: '2', a: '1' }), 'X{a=1,b=2}');
		assert.ok(METRICS.length >= 10);
	});
});
