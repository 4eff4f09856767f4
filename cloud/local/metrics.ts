/*
 * The local cloud's stand-in for CloudWatch's reading of EMF log lines: every record that
 * passes through the cloud's log with an `_aws` member (cloud/lib/metrics.ts) adds to a
 * counter named by its metric and dimensions, e.g. `ReportsStored{Service=mission-report}`.
 * The console reads these counters (what the deployed dashboard shows from CloudWatch).
 */
import { readEmf } from '../lib/metrics';
import type { LogEntry, LogFn } from './log';

export interface MetricsCollector {
	/** A log function that counts EMF records and passes every record on to `next`. */
	tap(next: LogFn): LogFn;
	/** Sums by metric name and dimensions; keys like `ReportsStored{Service=mission-report}`. */
	counters(): Record<string, number>;
	/** Sum of one metric over all its dimensions. */
	total(name: string): number;
	onChange(f: () => void): () => void;
}

export function metricKey(name: string, dimensions: Readonly<Record<string, string>>): string {
	const dims = Object.entries(dimensions)
		.sort(([a], [b]) => (a < b ? -1 : 1))
		.map(([k, v]) => k + '=' + v)
		.join(',');
	return name + '{' + dims + '}';
}

export function createMetricsCollector(): MetricsCollector {
	const counts = new Map<string, number>();
	const byName = new Map<string, number>();
	const listeners = new Set<() => void>();
	return {
		tap(next) {
			return (entry: LogEntry) => {
				const found = readEmf(entry as Record<string, unknown>);
				for (const m of found) {
					const k = metricKey(m.name, m.dimensions);
					counts.set(k, (counts.get(k) ?? 0) + m.value);
					byName.set(m.name, (byName.get(m.name) ?? 0) + m.value);
				}
				if (found.length) for (const l of listeners) l();
				next(entry);
			};
		},
		counters: () => Object.fromEntries(counts),
		total: (name) => byName.get(name) ?? 0,
		onChange(f) {
			listeners.add(f);
			return () => void listeners.delete(f);
		},
	};
}
