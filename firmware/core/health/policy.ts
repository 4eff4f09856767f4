/*
 * When a robot reports its health, as a pure decision: only when something changed beyond
 * a threshold, and at most once every `minIntervalMs`. A status shadow update costs two
 * billed messages (the update and its accepted reply), so a fleet of two million reporting
 * every minute would pay for 5.8 billion messages a day to say that nothing happened.
 *
 * Uptime moves every second and is never a reason by itself: it rides along with a report
 * made for another reason. Firmware, reboot reason and last link error are reasons whenever
 * they differ; the reconnect count when it rose; heap, largest block and storage when they
 * moved by a fraction of their last reported value; RSSI by some dB.
 */

export interface HealthReport {
	readonly firmware: string;
	readonly uptimeS: number;
	/** Why the robot last started: the platform's word (power-on, watchdog, panic, brownout, software...). */
	readonly rebootReason: string;
	/** Connections made since boot, the first one included. */
	readonly reconnects: number;
	readonly lastLinkError: string | null;
	/** Figures a platform may not have are left out. */
	readonly rssi?: number;
	readonly freeHeap?: number;
	readonly largestFreeBlock?: number;
	readonly storageUsed?: number;
	readonly storageTotal?: number;
}

export interface HealthPolicy {
	/** At most one report in this long (ms). */
	readonly minIntervalMs: number;
	/** How often the figures are read and compared (ms). */
	readonly checkMs: number;
	/** Relative change of free heap, largest block or storage used that is worth a report. */
	readonly fraction: number;
	/** RSSI change worth a report, dB. */
	readonly rssiDb: number;
}

export const DEFAULT_HEALTH: HealthPolicy = Object.freeze({ minIntervalMs: 30 * 60_000, checkMs: 60_000, fraction: 0.2, rssiDb: 10 });

export function checkHealthPolicy(p: HealthPolicy): HealthPolicy {
	if (!(p.minIntervalMs >= 0)) throw new RangeError('"minIntervalMs" expected >= 0, got ' + p.minIntervalMs);
	if (!(p.checkMs > 0)) throw new RangeError('"checkMs" expected > 0, got ' + p.checkMs);
	if (!(p.fraction > 0)) throw new RangeError('"fraction" expected > 0, got ' + p.fraction);
	if (!(p.rssiDb > 0)) throw new RangeError('"rssiDb" expected > 0, got ' + p.rssiDb);
	return p;
}

/** Which fields of `next` differ from `last` by more than the policy's thresholds. */
export function changes(last: HealthReport, next: HealthReport, p: HealthPolicy): string[] {
	const out: string[] = [];
	if (next.firmware !== last.firmware) out.push('firmware');
	if (next.rebootReason !== last.rebootReason) out.push('rebootReason');
	if (next.lastLinkError !== last.lastLinkError) out.push('lastLinkError');
	if (next.reconnects > last.reconnects) out.push('reconnects');
	const relative = (k: 'freeHeap' | 'largestFreeBlock' | 'storageUsed') => {
		const a = last[k];
		const b = next[k];
		if (a === undefined && b === undefined) return;
		if (a === undefined || b === undefined) return void out.push(k);
		if (Math.abs(b - a) > p.fraction * Math.max(a, 1)) out.push(k);
	};
	relative('freeHeap');
	relative('largestFreeBlock');
	relative('storageUsed');
	if ((last.rssi === undefined) !== (next.rssi === undefined) || (last.rssi !== undefined && next.rssi !== undefined && Math.abs(next.rssi - last.rssi) >= p.rssiDb)) out.push('rssi');
	return out;
}

export type HealthDecision = { readonly report: true; readonly why: readonly string[] } | { readonly report: false };

/** `last` and `lastAt` (monotonic ms) describe the last report the cloud accepted; undefined before the first. */
export function decide(last: { readonly report: HealthReport; readonly at: number } | undefined, next: HealthReport, now: number, p: HealthPolicy): HealthDecision {
	if (!last) return { report: true, why: ['first'] };
	if (now - last.at < p.minIntervalMs) return { report: false };
	const why = changes(last.report, next, p);
	return why.length > 0 ? { report: true, why } : { report: false };
}
