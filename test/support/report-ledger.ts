// "Stored exactly once", counted from what could show a duplicate (issue 22). The missions
// table is keyed by (thing, missionId), so counting its rows per mission can never find two;
// the local cloud's structured log can: every report publish the rule engine handed to the
// handler (`rules.invoked` / `rules.failed` on robots/{thing}/missions/{id}/report), and every
// outcome the handler logged (`mission_report.stored` when it wrote the row,
// `mission_report.duplicate` when it found one already there, `.refused`, `.store_failed`).
// A mission is stored exactly once when the handler wrote it once and every other delivery of
// its report was absorbed as a duplicate carrying the same content.
// Used by the fleet bench (bench/fleet.ts) and the rig (hil-tests/rig.ts); the fault runs of
// test/missions.fault.test.ts check the same lines inline.
import type { LogEntry } from '../../cloud/local/log';

const REPORT_TOPIC = /^(?:\$aws\/rules\/[^/]+\/)?robots\/([^/]+)\/missions\/([^/]+)\/report$/;

export interface MissionCount {
	/** report publishes the rule engine delivered to the handler (succeeded or failed for good) */
	delivered: number;
	/** the handler wrote the row */
	stored: number;
	/** the handler found the row already there */
	duplicates: number;
	/** duplicates whose content differed from the stored report (a second, different report) */
	differing: number;
	/** refused or failed to store */
	refused: number;
}

export interface ReportLedger {
	/** Feed every entry of the local cloud's log (startLocalCloud's `log` option). */
	readonly log: (e: LogEntry) => void;
	/** Counts for thing/missionId (zeros when nothing was seen). */
	count(thing: string, missionId: string): MissionCount;
	/** Every thing/missionId seen in a report line or delivery. */
	keys(): string[];
	/** Why `thing/missionId` was not stored exactly once, or undefined when it was. */
	problem(thing: string, missionId: string): string | undefined;
}

const zero = (): MissionCount => ({ delivered: 0, stored: 0, duplicates: 0, differing: 0, refused: 0 });

export function createReportLedger(): ReportLedger {
	const counts = new Map<string, MissionCount>();
	const at = (thing: string, mission: string): MissionCount => {
		const key = thing + '/' + mission;
		let c = counts.get(key);
		if (!c) counts.set(key, (c = zero()));
		return c;
	};
	return {
		log(e) {
			if (e.event === 'rules.invoked' || e.event === 'rules.failed') {
				const m = typeof e.topic === 'string' ? REPORT_TOPIC.exec(e.topic) : null;
				if (m) at(m[1]!, m[2]!).delivered++;
				return;
			}
			if (typeof e.event !== 'string' || !e.event.startsWith('mission_report.')) return;
			if (typeof e.thing !== 'string' || typeof e.missionId !== 'string') return;
			const c = at(e.thing, e.missionId);
			if (e.event === 'mission_report.stored') c.stored++;
			else if (e.event === 'mission_report.duplicate') {
				c.duplicates++;
				if (Array.isArray(e.differs) && e.differs.length > 0) c.differing++;
			} else if (e.event === 'mission_report.refused' || e.event === 'mission_report.store_failed') c.refused++;
		},
		count: (thing, mission) => ({ ...(counts.get(thing + '/' + mission) ?? zero()) }),
		keys: () => [...counts.keys()],
		problem(thing, mission) {
			const c = counts.get(thing + '/' + mission) ?? zero();
			if (c.stored !== 1) return `${thing}/${mission}: the handler stored it ${c.stored} times (${JSON.stringify(c)})`;
			if (c.differing > 0) return `${thing}/${mission}: ${c.differing} deliveries carried a different report (${JSON.stringify(c)})`;
			if (c.refused > 0) return `${thing}/${mission}: ${c.refused} deliveries refused or not stored (${JSON.stringify(c)})`;
			if (c.delivered !== c.stored + c.duplicates) return `${thing}/${mission}: ${c.delivered} deliveries, ${c.stored} stored + ${c.duplicates} duplicates (${JSON.stringify(c)})`;
			return undefined;
		},
	};
}
