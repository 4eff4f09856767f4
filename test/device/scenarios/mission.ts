/*
 * Missions on the device (issue #5), with the whole robot of firmware/main.ts and the
 * CleaningSimulator (firmware/sim/cleaning.ts) driving its Missions on a scaled clock
 * (mission-clock.ts): a one-hour mission in about three seconds. Storage is the real
 * Preference; the link, the broker and the mission_report rule are the real ones.
 *
 *   mission-report   storage cleared; once connected, one mission (button): its events go
 *                    out batched at QoS 0, its report through Basic Ingest at QoS 1 from the
 *                    durable outbox. PASS on the report's PUBACK (it left the outbox).
 *   mission-cut      run 1 of mission-power-loss: storage cleared; a mission starts once
 *                    connected; once its progress is on storage (mis.cur, area > 0) and it
 *                    has covered CUT_AT_M2, PASS: the runner then kills mcsim mid-mission
 *                    with the mission still running (a power loss: Preference writes are
 *                    synchronous, nothing is flushed at exit).
 *   mission-recover  run 2: the robot boots on that storage; the missions must have turned
 *                    the running record into one `interrupted` report, queued durably; PASS
 *                    on its PUBACK.
 *
 * The model never gets the wheel stuck (stuckRate 0: the outcome is always `finished`)
 * and its randomness is seeded, so every run cleans the same way; brush tangles
 * (recoverable errors) still happen.
 */
import Time from 'time';
import type { Robot } from '../../../firmware/core/robot/robot';
import type { MissionReport } from '../../../firmware/core/mission/report';
import { reportTopic, validateReport } from '../../../firmware/core/mission/report';
import { CleaningSimulator, TYPICAL_HOME, type CleaningModel } from '../../../firmware/sim/cleaning';
import type { Context, Scenario } from './index';
import { str } from './bytes';
import { seededRandom } from './mission-clock';

/** Real ms per simulated minute: a 60-minute mission takes 3 s. */
export const MISSION_MS_PER_MIN = 50;
export const MODEL: CleaningModel = Object.freeze({ ...TYPICAL_HOME, stuckRate: 0 });
export const SEED = 0x5eed;
/** mission-cut: the power goes once this much is cleaned (about a third of the home). */
const CUT_AT_M2 = 20;
/** Log events that must not happen in these scenarios. */
const BAD_EVENTS = Object.freeze(['mission.events_dropped', 'mission.report_invalid', 'mission.report_refused', 'mission.current_unreadable', 'outbox.refused']);
const REPORT_TOPIC = /^\$aws\/rules\/mission_report\/robots\/[^/]+\/missions\/(m-[0-9a-z]+)\/report$/;

export function watchLog(c: Context): void {
	c.onLog((event, fields) => {
		if (BAD_EVENTS.indexOf(event) >= 0) c.fail('log event ' + event + ' ' + JSON.stringify(fields ?? {}));
	});
}

/** undefined when storage holds no mission state: the runner clears it before these runs. */
function freshStorage(c: Context, robot: Robot): string | undefined {
	if (robot.missions.state.value !== 'idle') return 'missions not idle at boot: ' + robot.missions.state.value;
	const left = c.missionPorts.storage.keys().filter((k) => k.indexOf('mis.') === 0 || k.indexOf('mr.') === 0);
	if (left.length) return 'storage holds mission keys at boot (' + left.join(', ') + '): the runner must clear it first';
	if (robot.link.outbox.entries().some((e) => REPORT_TOPIC.test(e.topic))) return 'a report is queued at boot';
	return undefined;
}

function savedMission(c: Context): { id: string; areaM2: number; battery: number } | undefined {
	const raw = c.missionPorts.storage.read('mis.cur');
	if (!raw) return undefined;
	try {
		return JSON.parse(str(raw)) as { id: string; areaM2: number; battery: number };
	} catch {
		return undefined;
	}
}

/** Starts one mission (button) on the first CONNACK; `then` gets its id. */
function startOnConnect(c: Context, robot: Robot, then: (id: string, sim: CleaningSimulator) => void): void {
	const sim = new CleaningSimulator(robot.missions, { timers: c.missionPorts.timers, random: seededRandom(SEED), log: c.ports.log }, MODEL);
	let id: string | undefined;
	robot.link.listen({
		state(s) {
			if (s.value !== 'connected' || id !== undefined) return;
			id = sim.run('button');
			if (id === undefined) return c.fail('the simulator did not start a mission (busy)');
			c.step('started', { mission: id, battery: sim.battery });
			then(id, sim);
		},
	});
}

export const missionReport: Scenario = {
	timeoutMs: 25_000,
	robot: true,
	missionMsPerMin: MISSION_MS_PER_MIN,
	run(c) {
		const robot = c.robot;
		if (!robot) return c.fail('scenario needs robot: true');
		const dirty = freshStorage(c, robot);
		if (dirty) return c.fail(dirty);
		watchLog(c);
		let startedAt = 0;
		let reportedAt = 0;
		let events = 0;
		let report: MissionReport | undefined;
		let id = '';
		// listening before the start: the `started` event is an effect of the start itself
		robot.missions.listen((s, effects) => {
			for (const fx of effects) {
				if (fx.type === 'event') events++;
				if (fx.type === 'event' && fx.name === 'docking') c.step('docking', { mission: fx.mission, outcome: String(fx.data.outcome) });
				if (fx.type !== 'report') continue;
				report = fx.report;
				reportedAt = Time.ticks;
				const checked = validateReport(report);
				if (!checked.ok) return c.fail('report invalid: ' + checked.error.join('; '));
				if (report.missionId !== id) return c.fail('report of ' + report.missionId + ', expected ' + id);
				if (report.outcome !== 'finished') return c.fail('outcome ' + report.outcome + ', expected finished: ' + JSON.stringify(report));
				// the scaled clock: about an hour of cleaning (65 m² at about 1.1 m²/min); more when a slow host
				// makes the 25 ms ticks late (the mission clock keeps real time x1200), never mere seconds
				if (report.durationS < 30 * 60 || report.durationS > 240 * 60) return c.fail('mission took ' + report.durationS + ' simulated s: the scaled clock is off');
				if (!(report.areaM2 > 0) || report.endedAt === null || report.startedAt === null) return c.fail('report ' + JSON.stringify(report));
				c.step('report', { mission: id, outcome: report.outcome, durationS: report.durationS, areaM2: report.areaM2, errors: report.errors.length, battery: report.battery.end, realMs: reportedAt - startedAt });
			}
			if (s.value === 'idle' && !report) c.fail('idle without a report');
		});
		startOnConnect(c, robot, (started) => {
			id = started;
			startedAt = Time.ticks;
			const topic = reportTopic(c.thing, id);
			robot.link.listen({
				delivered(_seq, t) {
					if (t !== topic) return;
					if (!report) return c.fail('report PUBACK before the report');
					if (robot.link.outbox.entries().some((e) => e.topic === topic)) return c.fail('report still in the outbox after its PUBACK');
					if (robot.missions.pendingReports() !== 0) return c.fail(robot.missions.pendingReports() + ' report(s) still under mr.* after the PUBACK');
					if (savedMission(c)) return c.fail('mis.cur still on storage after the report');
					c.metric({ mission: id, simDurationS: report.durationS, missionRealMs: reportedAt - startedAt, reportToPubackMs: Time.ticks - reportedAt, events, errors: report.errors.length });
					c.pass();
				},
			});
		});
		robot.start();
	},
};

export const missionCut: Scenario = {
	timeoutMs: 20_000,
	robot: true,
	missionMsPerMin: MISSION_MS_PER_MIN,
	run(c) {
		const robot = c.robot;
		if (!robot) return c.fail('scenario needs robot: true');
		const dirty = freshStorage(c, robot);
		if (dirty) return c.fail(dirty);
		watchLog(c);
		startOnConnect(c, robot, (id) => {
			let cut = false;
			robot.missions.listen((s) => {
				if (cut) return;
				if (s.value !== 'running') return c.fail('mission ' + s.value + ' before the power loss');
				if (s.m.areaM2 < CUT_AT_M2) return;
				const saved = savedMission(c);
				if (!saved || saved.id !== id || !(saved.areaM2 > 0)) return; // progress not on storage yet
				cut = true;
				// the mission goes on: the runner kills the app after this verdict, mid-mission
				c.step('cut', { mission: id, areaM2: Math.round(s.m.areaM2 * 10) / 10, savedAreaM2: Math.round(saved.areaM2 * 10) / 10, battery: s.m.battery });
				c.pass();
			});
		});
		robot.start();
	},
};

export const missionRecover: Scenario = {
	timeoutMs: 20_000,
	robot: true,
	missionMsPerMin: MISSION_MS_PER_MIN,
	run(c) {
		const robot = c.robot;
		if (!robot) return c.fail('scenario needs robot: true');
		watchLog(c);
		// createRobot has run: the missions recovered at construction
		if (robot.missions.state.value !== 'idle') return c.fail('missions ' + robot.missions.state.value + ' after boot, expected idle');
		if (savedMission(c)) return c.fail('mis.cur still on storage after recovery');
		const queued = robot.link.outbox.entries().filter((e) => REPORT_TOPIC.test(e.topic));
		if (queued.length !== 1) return c.fail(queued.length + ' reports in the outbox after boot, expected 1 (interrupted); pending under mr.*: ' + robot.missions.pendingReports());
		const entry = queued[0]!;
		let report: MissionReport;
		try {
			report = JSON.parse(str(entry.payload)) as MissionReport;
		} catch {
			return c.fail('queued report is not JSON');
		}
		const checked = validateReport(report);
		if (!checked.ok) return c.fail('report invalid: ' + checked.error.join('; '));
		if (report.outcome !== 'interrupted') return c.fail('outcome ' + report.outcome + ', expected interrupted');
		if (report.endedAt !== null) return c.fail('interrupted report with endedAt ' + report.endedAt);
		if (!(report.areaM2 > 0) || !(report.durationS > 0) || report.map !== 'pending') return c.fail('interrupted report lost the saved progress: ' + str(entry.payload));
		c.step('recovered', { mission: report.missionId, outcome: report.outcome, durationS: report.durationS, areaM2: report.areaM2, battery: report.battery.end, durable: entry.durable });
		if (!entry.durable) return c.fail('interrupted report queued non-durable');
		robot.link.listen({
			delivered(_seq, t) {
				if (t !== entry.topic) return;
				if (robot.link.outbox.entries().some((e) => e.topic === t)) return c.fail('report still in the outbox after its PUBACK');
				c.pass();
			},
		});
		robot.start();
	},
};
