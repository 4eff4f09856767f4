/*
 * Storage faults and logs from the field (issue #19) on the real runtime, the shipped entry.
 *   storage-full  the robot's Preference domain gets a budget small enough to fill
 *                 (config.test.storage.budget; platform/moddable/storage.ts answers `full` before
 *                 the SDK's Preference.set can erase anything). Radio off, the button pressed
 *                 until the store is full: the outbox answers full (outbox.storage_refused), a
 *                 mission is refused with its log line, the schedule sync and runner go on. Power
 *                 off. Power on with the broker: every report queued before is delivered and
 *                 stored exactly once, and with the room the PUBACKs freed a mission starts again.
 *   log-shipping  the robot boots with the broker down, fails to connect for a while, then
 *                 connects: an operator asks for its log ring over MQTT (tools/logs.ts,
 *                 robots/<thing>/logs/request, QoS 0 batches) and sees the failed attempts
 *                 before link.online; the test-control `logs` command answers the same lines.
 */
import { readFileSync } from 'node:fs';
import { Checks } from '../checks';
import { connectOperator, requestLogs } from '../../../tools/logs';
import { OPERATOR, THING, say, type Device, type Scenario, type Suite } from '../suite';
import { missionBefore } from './mission';

/** Bytes (NVS terms) for the robot's domain: its records after connecting and a few reports. */
const BUDGET = 4000;

/** What the robot's Preference domain holds, in the adapter's NVS terms (platform/moddable/storage.ts nvsCost). */
function domainUse(s: Suite): string {
	const stored = s.stored();
	const cost = (n: number) => 32 * (2 + Math.ceil(n / 32));
	const total = Object.values(stored).reduce((t, v) => t + cost(Buffer.byteLength(v)), 0);
	return (
		`${total} B in NVS terms: ` +
		Object.entries(stored)
			.map(([k, v]) => `${k} ${Buffer.byteLength(v)}`)
			.join(', ')
	);
}

/** Presses the button until the store refuses a mission (at most `max` presses); the ids reported. */
async function fill(d: Device, max: number): Promise<{ reported: string[]; refused: boolean }> {
	const reported: string[] = [];
	for (let i = 0; i < max; i++) {
		await d.untilStatus('no mission running', (x) => x.mission === 'idle', 20_000);
		const r = await d.command({ cmd: 'mission' });
		if (typeof r.mission !== 'string') {
			// refused: the button answers busy while idle, and the robot said why
			await d.waitFor('mission.refused', () => true, 5_000);
			return { reported, refused: true };
		}
		const id = r.mission;
		// its report (or the refusal to store it) ends the mission
		await d.until(`the end of ${id}`, () => d.log.find((l) => (l.event === 'mission.report' || l.event === 'mission.report_unsaved') && l.mission === id), 30_000);
		if (d.log.some((l) => l.event === 'mission.report' && l.mission === id)) reported.push(id);
	}
	return { reported, refused: false };
}

export const storageFull: Scenario = {
	name: 'storage-full',
	async run(s) {
		const c = new Checks(s);
		try {
			await missionBefore(s, c);
			const test = { storage: { budget: BUDGET } };
			const d = s.power('fill', { test });
			await d.untilStatus('connected, schedule synced', (x) => x.link === 'connected' && x.schedule === 'synced', 30_000);
			await d.command({ cmd: 'offline' });
			const { reported, refused } = await fill(d, 12);
			const use = domainUse(s);
			if (!refused) return `12 missions ran and the store never refused one (budget ${BUDGET}; ${use}): ${reported.join(', ')}`;
			const full = d.log.find((l) => l.event === 'outbox.storage_refused');
			if (!full || full.result !== 'full')
				return `the outbox never answered full (${reported.length} reports queued; ${use}): ${d.log
					.filter((l) => /refused|unsaved|failed/.test(l.event))
					.map((l) => l.event)
					.join(' ')}`;
			const refusal = d.log.find((l) => l.event === 'mission.refused')!;
			if (refusal.level !== 'error') return `mission.refused logged at ${refusal.level}`;
			// the schedule goes on: status answers, the sync still owns its schedule, the runner is alive
			const st = await d.status();
			if (st.schedule !== 'offline' || typeof st.scheduleEntries !== 'number') return `status after the refusal: ${JSON.stringify(st)}`;
			const owed = (st.outbox as number) + (st.pendingReports as number);
			say(`budget ${BUDGET} B (${use}): ${reported.length} reports queued (${String(st.outbox)} in the outbox, ${String(st.pendingReports)} waiting on storage), then ${JSON.stringify(full)}; ${JSON.stringify(refusal)}`);
			await d.off();
			if (owed < reported.length) return `${reported.length} reports queued, the robot owes ${owed}`;

			// power on with the broker: everything queued before is delivered, once
			const e = s.power('drain', { test });
			await e.untilStatus('every report delivered', (x) => x.link === 'connected' && x.outbox === 0 && x.pendingReports === 0, 60_000);
			const items = await c.missionItems();
			const ids = items.map((i) => i.missionId);
			const lost = reported.filter((id) => !ids.includes(id));
			if (lost.length) return `reports queued before the restart never stored: ${lost.join(', ')} (table: ${ids.join(', ')})`;
			for (const id of reported) {
				const once = c.reportOnce(id);
				if (once) return once;
			}
			// the PUBACKs freed the room: the button works again
			const again = await e.command({ cmd: 'mission' });
			if (typeof again.mission !== 'string') return `after the drain the button answered ${JSON.stringify(again)}`;
			await e.off();
			say(`after the restart: ${reported.length} reports stored once each; a new mission ${again.mission} started`);
			return undefined;
		} finally {
			c.close();
		}
	},
};

export const logShipping: Scenario = {
	name: 'log-shipping',
	async run(s) {
		s.clearStorage();
		await s.provision();
		await s.down();
		const d = s.power('logs');
		// a robot in the field that cannot connect: several failed attempts
		await d.until('three failed connects', () => (d.log.filter((l) => l.event === 'link.state' && l.to === 'waiting').length >= 3 ? true : undefined), 30_000);
		(await s.up()).record.clear();
		await d.untilStatus('connected', (x) => x.link === 'connected', 30_000);
		const p = s.cloud.pki.paths.thing(OPERATOR);
		const client = await connectOperator(`mqtts://127.0.0.1:${s.port}`, readFileSync(p.certPem), readFileSync(p.keyPem), readFileSync(s.cloud.pki.paths.caPem), 'localhost');
		let answer: Awaited<ReturnType<typeof requestLogs>>;
		try {
			answer = await requestLogs(client, THING, { timeoutMs: 10_000 });
		} finally {
			await client.endAsync();
		}
		const events = answer.lines.map((l) => String(l.e));
		const failed = answer.lines.filter((l) => l.e === 'link.state' && l.to === 'waiting');
		const online = events.indexOf('link.online');
		if (failed.length < 3 || online < 0 || answer.lines.indexOf(failed[0]!) > online) return `the shipped lines do not show the failed connects before link.online: ${events.join(' ')}`;
		const batches = s.payloads(`robots/${THING}/logs`);
		if (batches.length !== answer.batches || batches.some((b) => Buffer.byteLength(b) > 4000)) return `broker saw ${batches.length} logs batches (sizes ${batches.map((b) => Buffer.byteLength(b)).join(', ')}), the tool ${answer.batches}`;
		// the same ring through the test-control channel, one reply line (1 KB) at a time
		const viaTestcmd: string[] = [];
		for (let since = 0, more = true, n = 0; more && n < 40; n++) {
			const t = (await d.command({ cmd: 'logs', since })).logs as { lines: { e: string }[]; last: number; more: boolean };
			viaTestcmd.push(...t.lines.map((l) => l.e));
			since = t.last;
			more = t.more;
		}
		if (!viaTestcmd.includes('link.online')) return `testcmd logs: ${viaTestcmd.join(' ')}`;
		await d.off();
		say(`operator got ${answer.lines.length} lines in ${answer.batches} batch(es) (lost ${answer.lost}): ${failed.length} failed connects (${String(failed[0]!.reason)}) then link.online; testcmd logs: ${viaTestcmd.length} lines`);
		return undefined;
	},
};
