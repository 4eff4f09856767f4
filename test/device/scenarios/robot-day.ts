/*
 * A robot's day on the device (issues #9, #14): the whole robot of firmware/main.ts with
 * everything on (schedule sync, missions on the scaled clock, map uploads with native
 * crypto, the OTA agent), over the same Preference and slot files for the whole day.
 * The runner's `robot-day` case runs `schedule-report` first (storage cleared, the factory
 * schedule reported), edits the schedule while the device is off, then this scenario:
 *
 *   boot on 1.0.0: the offline edit is applied and reported on the first sync; then one
 *   mission (button) with its events and its report (PUBACK: out of the durable outbox);
 *   the map it promises (ROBOT_DAY_MAP_BYTES, generated piece by piece) encrypted frame by
 *   frame with native AES-GCM into the presigned PUT; `step day-done`: the runner now
 *   publishes a firmware job (tools/ota); the agent downloads and verifies it, activates
 *   the slot and reboots (`step reboot`: the runner starts the app again).
 *   boot on the new version (on probation): self-test (link up, schedule synced), SUCCEEDED.
 *
 * The runner checks the shadow, the missions table (exactly one item, mapReady), the
 * decoded map and the job. `device-metric robot-day` has the phase times; the runner's
 * `device.memory` lines (debug build) the day's heap, chunk and stack peaks.
 */
import Time from 'time';
import Timer from 'timer';
import { canonicalJson, sameSchedule } from '../../../firmware/core/schedule/model';
import { reportTopic, validateReport } from '../../../firmware/core/mission/report';
import { CleaningSimulator } from '../../../firmware/sim/cleaning';
import type { Context, Scenario } from './index';
import { APP_SCHEDULE, ROBOT_DAY_MAP_BYTES } from './fixtures';
import { MISSION_MS_PER_MIN, MODEL, SEED, watchLog } from './mission';
import { seededRandom } from './mission-clock';
import { watchOta } from './ota';

function day(c: Context): void {
	const robot = c.robot!;
	const maps = robot.maps;
	if (!maps) return c.fail('scenario needs mapBytes (createRobot upload)');
	const t0 = Time.ticks;
	const at: Record<string, number> = {};
	const mark = (phase: string) => {
		at[phase] = Time.ticks - t0;
	};
	let applied = false;
	c.onLog((event) => {
		if (event === 'sync.desired_applied') applied = true;
	});
	robot.link.listen({
		state: (s) => void (s.value === 'connected' && at.connected === undefined && mark('connected')),
	});
	let missionId: string | undefined;
	const sim = new CleaningSimulator(robot.missions, { timers: c.missionPorts.timers, random: seededRandom(SEED), log: c.ports.log }, MODEL);
	robot.schedule.listen((s) => {
		if (s.value !== 'synced' || missionId !== undefined) return;
		if (!applied) return c.fail('synced without applying the edit made while offline');
		if (!sameSchedule(robot.schedule.value, APP_SCHEDULE)) return c.fail('synced on ' + canonicalJson(robot.schedule.value) + ', expected the app edit');
		mark('synced');
		c.step('synced', { entries: robot.schedule.value.entries.length });
		missionId = sim.run('button');
		if (missionId === undefined) return c.fail('the simulator did not start a mission');
		mark('missionStarted');
		c.step('started', { mission: missionId });
	});
	let events = 0;
	robot.missions.listen((_s, effects) => {
		for (const fx of effects) {
			if (fx.type === 'event') events++;
			if (fx.type !== 'report') continue;
			const checked = validateReport(fx.report);
			if (!checked.ok) return c.fail('report invalid: ' + checked.error.join('; '));
			if (fx.report.map !== 'pending') return c.fail('report promises no map: ' + JSON.stringify(fx.report));
			mark('report');
			c.step('report', { mission: fx.report.missionId, outcome: fx.report.outcome, areaM2: fx.report.areaM2, events });
		}
	});
	robot.link.listen({
		delivered(_seq, topic) {
			if (missionId !== undefined && topic === reportTopic(c.thing, missionId)) mark('reportAcked');
		},
	});
	maps.listen({
		uploaded(id, bytes, ms) {
			if (id !== missionId) return c.fail('uploaded the map of ' + id + ', expected ' + String(missionId));
			mark('mapUploaded');
			c.metric({ name: 'robot-day.map', mission: id, mapBytes: ROBOT_DAY_MAP_BYTES, messageBytes: bytes, ms, kBps: Math.round(bytes / Math.max(1, ms)) });
			c.step('map-uploaded', { mission: id, bytes, ms });
			// the firmware job comes now (the runner publishes it): an update never reboots mid-mission here
			c.step('day-done', { mission: id });
		},
		failed(id, error, willRetry) {
			if (!willRetry) c.fail('map of ' + id + ' dropped: ' + JSON.stringify(error));
		},
	});
	c.onLog((event) => {
		if (event !== 'firmware.reboot') return;
		mark('reboot');
		c.metric({ name: 'robot-day', boot: 'day', events, ...at });
	});
	robot.start();
}

export const robotDay: Scenario = {
	timeoutMs: 60_000,
	robot: true,
	ota: true,
	missionMsPerMin: MISSION_MS_PER_MIN,
	mapBytes: ROBOT_DAY_MAP_BYTES,
	run(c) {
		const robot = c.robot;
		if (!robot?.ota) return c.fail('scenario needs robot: true and ota: true');
		watchLog(c);
		const probation = robot.ota.agent.state.value === 'testing';
		const t0 = Time.ticks;
		const why = watchOta(c, (status, version) => {
			if (!probation) return c.fail('a job ended ' + status + ' on ' + version + ' before the update rebooted');
			c.metric({ name: 'robot-day', boot: 'updated', version, status, selfTestMs: Time.ticks - t0 });
			if (status !== 'SUCCEEDED') return c.fail('the update ended ' + status);
			Timer.set(() => c.pass(), 1_100); // one more `instruments:` line
		});
		if (why) return c.fail(why);
		if (probation) return robot.start();
		day(c);
	},
};
