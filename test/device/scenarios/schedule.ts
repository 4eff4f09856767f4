/*
 * The schedule shadow on the device (issue #4), three app starts over the same
 * Preference storage with the whole robot of firmware/main.ts. The Node runner acts
 * between the starts, while the device is off (offline), through the shadow HTTP
 * data plane, and checks the shadow after each.
 *
 *   schedule-report  storage cleared: the robot runs the factory EMPTY schedule, connects,
 *                    syncs and reports it (the shadow had none).
 *   schedule-apply   the app set desired.schedule = APP_SCHEDULE meanwhile: the robot
 *                    starts on EMPTY (nothing reached it offline), comes back, applies
 *                    APP_SCHEDULE, reports it and clears desired. Logs the next due start.
 *   schedule-refuse  the app set an invalid desired meanwhile: refused (scheduleError in
 *                    reported, desired cleared), the robot keeps APP_SCHEDULE.
 *
 * PASS once the sync is `synced` with the expected value; each waits 1.1 s more first, so
 * that a debug build prints one `instruments:` line (memory) while the robot is up.
 */
import Timer from 'timer';
import { canonicalJson, sameSchedule, type Schedule } from '../../../firmware/core/schedule/model';
import { nextRun } from '../../../firmware/core/schedule/next';
import { EMPTY_SCHEDULE } from '../../../firmware/core/schedule/codec';
import type { Context, Scenario } from './index';
import { APP_SCHEDULE } from './fixtures';

interface Plan {
	/** What the robot must run at boot (from storage). */
	readonly boot: Schedule;
	/** What it must run once synced. */
	readonly synced: Schedule;
	/** A log event that must have happened by then. */
	readonly event?: string;
}

function runPlan(c: Context, plan: Plan): void {
	const robot = c.robot;
	if (!robot) return c.fail('scenario needs robot: true');
	if (!sameSchedule(robot.schedule.value, plan.boot)) return c.fail('booted on ' + canonicalJson(robot.schedule.value) + ', expected ' + canonicalJson(plan.boot));
	c.step('boot', { entries: robot.schedule.value.entries.length, sync: robot.schedule.state.value });
	let seen = false;
	c.onLog((event) => {
		if (event === plan.event) seen = true;
	});
	let done = false;
	robot.schedule.listen((s) => {
		if (done || s.value !== 'synced') return;
		done = true;
		const value = robot.schedule.value;
		if (!sameSchedule(value, plan.synced)) return c.fail('synced on ' + canonicalJson(value) + ', expected ' + canonicalJson(plan.synced));
		if (plan.event && !seen) return c.fail('synced without a ' + plan.event + ' log event');
		const now = c.ports.clock.now();
		const next = now === undefined ? undefined : nextRun(value, now);
		// the runner's next start, computed as the runner does (nextRun from the clock)
		c.step('synced', {
			entries: value.entries.length,
			clock: now === undefined ? 'unknown' : new Date(now).toISOString(),
			nextDue: next ? new Date(next.utcMs).toISOString() : 'none',
			nextEntry: next ? next.entryId : '',
		});
		Timer.set(() => c.pass(), 1_100);
	});
	robot.start();
}

export const scheduleReport: Scenario = {
	timeoutMs: 20_000,
	robot: true,
	run: (c) => runPlan(c, { boot: EMPTY_SCHEDULE, synced: EMPTY_SCHEDULE }),
};

export const scheduleApply: Scenario = {
	timeoutMs: 20_000,
	robot: true,
	run: (c) => runPlan(c, { boot: EMPTY_SCHEDULE, synced: APP_SCHEDULE, event: 'sync.desired_applied' }),
};

export const scheduleRefuse: Scenario = {
	timeoutMs: 20_000,
	robot: true,
	run: (c) => runPlan(c, { boot: APP_SCHEDULE, synced: APP_SCHEDULE, event: 'sync.desired_rejected' }),
};
