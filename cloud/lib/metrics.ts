/*
 * CloudWatch metrics from the handlers' structured logs, in the Embedded Metric Format
 * (EMF, "Specification: Embedded metric format"): a log line with an `_aws` member
 *   { "_aws": { "Timestamp": <ms>, "CloudWatchMetrics": [ { "Namespace": ..., "Dimensions": [["Service"]],
 *       "Metrics": [ { "Name": ..., "Unit": "Count" } ] } ] },
 *     "Service": "mission-report", "<Name>": <value> }
 * which CloudWatch Logs turns into a metric without an API call (no PutMetricData latency
 * or cost in the handler). Locally the same line goes to the cloud's log, where
 * cloud/local/metrics.ts collects it.
 *
 * One record per metric and event, written through the invocation's logger, so it keeps
 * the request id beside it for Logs Insights.
 */
import type { Logger } from './logger';

export const NAMESPACE = 'RobotConnectivity';

/** Every metric the handlers emit, one name per thing counted; the template's alarms and dashboard use these names. */
export const METRICS = Object.freeze([
	'ReportsStored',
	'ReportsDuplicate',
	'ReportsRefused',
	'MapsIngested',
	'MapsRefused',
	'RegistrationsQueued',
	'RegistrationsRegistered',
	'RegistrationsRefused',
	'UploadSlotsIssued',
	'UploadSlotsRefused',
	'PresenceApplied',
	'CommandExecutions',
] as const);

export type MetricName = (typeof METRICS)[number];

/** The EMF members of one record: `_aws`, its dimensions' values and the metric's value. */
export function emfRecord(service: string, name: MetricName, value: number, dimensions: Readonly<Record<string, string>> = {}, timestamp = Date.now()): Record<string, unknown> {
	if (!METRICS.includes(name)) throw new RangeError('"name" expected one of ' + METRICS.join(', ') + ', got ' + JSON.stringify(name));
	if (!Number.isFinite(value)) throw new RangeError('"value" expected a finite number, got ' + value);
	const dims = ['Service', ...Object.keys(dimensions)];
	return {
		_aws: { Timestamp: timestamp, CloudWatchMetrics: [{ Namespace: NAMESPACE, Dimensions: [dims], Metrics: [{ Name: name, Unit: 'Count' }] }] },
		Service: service,
		...dimensions,
		[name]: value,
	};
}

/** Counts `value` of `name` for `service` (with extra dimensions such as `Status`), as one EMF log record. */
export function countMetric(log: Logger, service: string, name: MetricName, value = 1, dimensions: Readonly<Record<string, string>> = {}): void {
	log.info('metric', emfRecord(service, name, value, dimensions));
}

/** The metric carried by a log record, if it is an EMF one: what a collector (local or CloudWatch) reads. */
export function readEmf(record: Readonly<Record<string, unknown>>): { namespace: string; name: string; value: number; dimensions: Record<string, string> }[] {
	const aws = record._aws as { CloudWatchMetrics?: { Namespace?: unknown; Dimensions?: unknown; Metrics?: { Name?: unknown }[] }[] } | undefined;
	if (!aws || !Array.isArray(aws.CloudWatchMetrics)) return [];
	const out: { namespace: string; name: string; value: number; dimensions: Record<string, string> }[] = [];
	for (const d of aws.CloudWatchMetrics) {
		const dims: Record<string, string> = {};
		for (const set of Array.isArray(d.Dimensions) ? (d.Dimensions as unknown[][]) : []) for (const k of set) if (typeof k === 'string' && typeof record[k] === 'string') dims[k] = record[k] as string;
		for (const m of Array.isArray(d.Metrics) ? d.Metrics : []) {
			const v = typeof m.Name === 'string' ? record[m.Name] : undefined;
			if (typeof m.Name === 'string' && typeof v === 'number') out.push({ namespace: String(d.Namespace), name: m.Name, value: v, dimensions: dims });
		}
	}
	return out;
}
