/*
 * Missions (issue #5) on the cleaning model of the shipped firmware, on the test build's fast
 * mission clock (a 60-minute mission in about 3 s; seeded, never stuck), started by the
 * test-control `mission` command (the button).
 *   mission-report      events batched at QoS 0, the report through Basic Ingest at QoS 1 from
 *                       the durable outbox, one `finished` item in the missions table.
 *   mission-power-loss  power lost mid-mission (the run is ended once the running mission is on
 *                       storage with some area); the next power-on reports it `interrupted`.
 */
import { Checks } from '../checks';
import { THING, say, type Device, type Scenario, type Suite } from '../suite';

/** Log events that must not happen in these scenarios. */
export const BAD_EVENTS = Object.freeze(['mission.events_dropped', 'mission.report_invalid', 'mission.report_refused', 'mission.current_unreadable', 'outbox.refused']);

export function badEvents(d: Device, expected: readonly string[] = []): string | undefined {
	const bad = d.log.filter((l) => BAD_EVENTS.includes(l.event) && !expected.includes(l.event));
	return bad.length ? 'log events ' + bad.map((l) => JSON.stringify(l)).join(' ') : undefined;
}

/** Fresh storage, broker up with an empty record, no mission items. */
export async function missionBefore(s: Suite, c: Checks): Promise<void> {
	s.clearStorage();
	(await s.up()).record.clear();
	await c.clearMissions();
	await s.provision();
}

/** Presses the button once the link is up; the mission id. */
export async function pressButton(d: Device): Promise<string> {
	await d.untilStatus('link connected', (x) => x.link === 'connected');
	const r = await d.command({ cmd: 'mission' });
	if (typeof r.mission !== 'string') throw new Error('mission answered ' + JSON.stringify(r));
	return r.mission;
}

export const missionReport: Scenario = {
	name: 'mission-report',
	async run(s) {
		const c = new Checks(s);
		try {
			await missionBefore(s, c);
			const d = s.power('mission', { verbose: true });
			const id = await pressButton(d);
			const report = await d.waitFor('mission.report', (l) => l.mission === id || l.missionId === id, 30_000);
			await d.untilStatus('the report out of the outbox', (x) => x.pendingReports === 0 && x.mission === 'idle', 15_000);
			await d.off();
			const bad = badEvents(d);
			if (bad) return bad;
			const topic = `robots/${THING}/missions/${id}/events`;
			const got = s.broker()?.record.entries({ thing: THING, topic }) ?? [];
			if (got.length === 0) return `no events on ${topic}`;
			if (got.some((e) => e.qos !== 0)) return `events on ${topic} not all at qos 0`;
			const batches = got.map((e) => JSON.parse(Buffer.from(e.payload).toString()) as { mission: string; events: { e: string; outcome?: string }[] });
			const all = batches.flatMap((b) => b.events);
			if (batches.some((b) => b.mission !== id)) return `an event batch names another mission`;
			if (all[0]?.e !== 'started') return `first event ${JSON.stringify(all[0])}, expected started`;
			const last = all[all.length - 1];
			if (last?.e !== 'docked' || last.outcome !== 'finished') return `last event ${JSON.stringify(last)}, expected docked (finished)`;
			if (all.length <= batches.length) return `${all.length} events in ${batches.length} messages: not batched`;
			say(`${all.length} events in ${batches.length} messages at qos 0; report logged ${JSON.stringify(report)}`);
			return c.reportOnce(id) ?? (await c.onlyItem(id, 'finished'));
		} finally {
			c.close();
		}
	},
};

export const missionPowerLoss: Scenario = {
	name: 'mission-power-loss',
	async run(s) {
		const c = new Checks(s);
		try {
			await missionBefore(s, c);
			const d = s.power('cut');
			const id = await pressButton(d);
			// the power goes once the running mission is on storage with some of the home cleaned
			const cur = await d.until(
				'mis.cur on storage with area',
				() => {
					const raw = s.stored()['mis.cur'];
					const m = raw ? (JSON.parse(raw) as { id: string; areaM2: number }) : undefined;
					return m && m.id === id && m.areaM2 > 10 ? m : undefined;
				},
				20_000,
			);
			await d.off();
			const reports = Object.keys(s.stored()).filter((k) => k.startsWith('mr.'));
			if (reports.length) return `reports on storage before the mission ended: ${reports.join(', ')}`;
			say(`power lost mid-mission: storage holds mis.cur ${cur.id} (areaM2 ${cur.areaM2.toFixed(1)})`);
			(await s.up()).record.clear();
			const e = s.power('recover');
			await e.waitFor('mission.interrupted');
			await e.untilStatus('the interrupted report out of the outbox', (x) => x.link === 'connected' && x.pendingReports === 0, 20_000);
			await e.off();
			const left = Object.keys(s.stored()).filter((k) => k === 'mis.cur' || k.startsWith('mr.'));
			if (left.length) return `storage still holds ${left.join(', ')} after the report's PUBACK`;
			return badEvents(e) ?? c.reportOnce(id) ?? (await c.onlyItem(id, 'interrupted'));
		} finally {
			c.close();
		}
	},
};
