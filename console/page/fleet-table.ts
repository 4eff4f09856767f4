/*
 * The operator's fleet table as data: one row per robot from what the page already has (the
 * connection, the status shadow's firmware and health), the health outliers, and sorting and
 * filtering. No DOM here, so the rules are tested on Node (console/fleet-table.test.ts).
 *
 * An outlier is a robot whose health says "look at me": free heap under half the fleet's
 * median, more reconnects than three times the median plus three, RSSI under -80 dBm, storage
 * over 90% full, or a reboot for a reason other than power-on or software (watchdog, panic,
 * brownout).
 */
import type { RobotView } from '../protocol';

export interface FleetRow {
	readonly thing: string;
	readonly online: boolean;
	readonly firmware: string | null;
	readonly lastSeen: number | null;
	readonly freeHeap: number | null;
	readonly reconnects: number | null;
	readonly rssi: number | null;
	readonly rebootReason: string | null;
	readonly lastLinkError: string | null;
	readonly storagePct: number | null;
	/** Why this robot is an outlier; empty when it is not. */
	readonly outliers: readonly string[];
}

export type SortKey = 'thing' | 'online' | 'firmware' | 'lastSeen' | 'freeHeap' | 'reconnects' | 'rssi' | 'outliers';

export interface FleetFilter {
	readonly online?: 'all' | 'online' | 'offline';
	/** Exact firmware version, or all. */
	readonly firmware?: string;
	readonly outliersOnly?: boolean;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function median(xs: readonly number[]): number | null {
	if (xs.length === 0) return null;
	const s = [...xs].sort((a, b) => a - b);
	const m = s.length >> 1;
	return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function fleetRows(robots: Iterable<RobotView>): FleetRow[] {
	const base = [...robots].map((r) => {
		const health = (r.status?.reported?.health ?? {}) as Record<string, unknown>;
		const used = num(health.storageUsed);
		const total = num(health.storageTotal);
		return {
			thing: r.thing,
			online: r.connected,
			firmware: r.firmware ?? str(health.firmware),
			lastSeen: r.lastSeen,
			freeHeap: num(health.freeHeap),
			reconnects: num(health.reconnects),
			rssi: num(health.rssi),
			rebootReason: str(health.rebootReason),
			lastLinkError: str(health.lastLinkError),
			storagePct: used !== null && total ? Math.round((100 * used) / total) : null,
		};
	});
	const heapMedian = median(base.flatMap((r) => (r.freeHeap === null ? [] : [r.freeHeap])));
	const reconnectMedian = median(base.flatMap((r) => (r.reconnects === null ? [] : [r.reconnects])));
	return base.map((r) => {
		const outliers: string[] = [];
		if (r.freeHeap !== null && heapMedian !== null && r.freeHeap < heapMedian / 2) outliers.push('low heap');
		if (r.reconnects !== null && reconnectMedian !== null && r.reconnects > 3 * reconnectMedian + 3) outliers.push('reconnects');
		if (r.rssi !== null && r.rssi < -80) outliers.push('weak Wi-Fi');
		if (r.storagePct !== null && r.storagePct > 90) outliers.push('storage full');
		if (r.rebootReason !== null && !['power-on', 'software'].includes(r.rebootReason)) outliers.push('reboot: ' + r.rebootReason);
		return { ...r, outliers };
	});
}

export function filterRows(rows: readonly FleetRow[], f: FleetFilter): FleetRow[] {
	return rows.filter(
		(r) => (f.online === undefined || f.online === 'all' || (f.online === 'online') === r.online) && (f.firmware === undefined || f.firmware === 'all' || r.firmware === f.firmware) && (!f.outliersOnly || r.outliers.length > 0),
	);
}

/** Sorted by `key`, ties by thing name; a missing value sorts last either way. */
export function sortRows(rows: readonly FleetRow[], key: SortKey, descending = false): FleetRow[] {
	const value = (r: FleetRow): string | number | null => (key === 'online' ? Number(r.online) : key === 'outliers' ? r.outliers.length : r[key]);
	return [...rows].sort((a, b) => {
		const x = value(a);
		const y = value(b);
		if (x === null || y === null) return x === y ? (a.thing < b.thing ? -1 : 1) : x === null ? 1 : -1;
		const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), 'en', { numeric: true });
		return c !== 0 ? (descending ? -c : c) : a.thing < b.thing ? -1 : 1;
	});
}
