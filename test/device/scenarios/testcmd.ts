/*
 * The test-control channel on the real runtime (issue #10): the robot of firmware/main.ts
 * with firmware/platform/moddable/testcmd over lin's TCP listener (any free port, traced
 * as `step testcmd-listening`). The runner connects with the board target's own
 * request/reply code (hil-tests/targets/channel.ts) and drives status, offline, online,
 * mission and refused lines, checking each against the broker and the missions table.
 * Missions run on the cleaning model at MISSION_MS_PER_MIN. PASS once the rig hangs up
 * after at least one request; the runner's checks decide the case.
 * clock-jump is not exercised: this build's robot runs on the platform clock, not a
 * jumpable one (firmware/main.ts makes it jumpable under config.testcmd).
 */
import { CleaningSimulator } from '../../../firmware/sim/cleaning';
import { jumpableClock, robotTarget } from '../../../firmware/core/testcmd/control';
import { startTestCommands } from '../../../firmware/platform/moddable/testcmd/testcmd';
import type { Scenario } from './index';
import { MISSION_MS_PER_MIN, MODEL, SEED, watchLog } from './mission';
import { seededRandom } from './mission-clock';

const scenario: Scenario = {
	timeoutMs: 40_000,
	robot: true,
	missionMsPerMin: MISSION_MS_PER_MIN,
	run(c) {
		const robot = c.robot;
		if (!robot) return c.fail('no robot');
		watchLog(c);
		const sim = new CleaningSimulator(robot.missions, { timers: c.missionPorts.timers, random: seededRandom(SEED), log: c.ports.log }, MODEL);
		const target = robotTarget(robot, { startMission: () => sim.run('button'), clock: jumpableClock(c.ports.clock) });
		let requests = 0;
		c.onLog((event) => {
			if (event === 'testcmd') requests++;
		});
		const t = startTestCommands({
			target: () => target,
			log: c.ports.log,
			transport: { port: 0 },
			closed() {
				if (requests > 0) c.pass();
				else c.fail('the rig hung up without a request');
			},
		});
		robot.start();
		c.step('testcmd-listening', { port: Number(t.where) });
	},
};
export default scenario;
