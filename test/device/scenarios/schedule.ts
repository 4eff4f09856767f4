/*
 * The schedule shadow (issue #4), three power-ons over the same Preference storage; the app
 * acts between them, while the robot is off, through the shadow's HTTP data plane.
 *   1. storage cleared: the robot runs the factory EMPTY schedule, connects, reports it.
 *   2. the app set desired.schedule = APP_SCHEDULE meanwhile: applied on return, reported,
 *      desired cleared (log sync.desired_applied).
 *   3. the app set an invalid desired: refused (scheduleError), the robot keeps APP_SCHEDULE.
 */
import { Checks } from '../checks';
import type { Device, Scenario, Suite } from '../suite';
import { APP_SCHEDULE, BAD_SCHEDULE } from './fixtures';

/** Powers the robot on until its schedule is synced (one debug `instruments:` line more), then off. */
export async function syncedOnce(s: Suite, label: string, event?: string): Promise<Device> {
	const d = s.power(label, { verbose: true });
	await d.untilStatus('schedule synced', (x) => x.link === 'connected' && x.schedule === 'synced');
	if (event) await d.waitFor(event, () => true, 5_000);
	await new Promise((r) => setTimeout(r, 1_100));
	await d.off();
	return d;
}

const scenario: Scenario = {
	name: 'schedule-offline-edit',
	async run(s) {
		const c = new Checks(s);
		try {
			s.clearStorage();
			await s.up();
			await c.deleteSchedule();
			await s.provision();
			await syncedOnce(s, 'report');
			const reported = await c.scheduleIs({ tz: 'UTC0', entries: [] });
			if (reported) return reported;
			await c.appSets(APP_SCHEDULE);
			await syncedOnce(s, 'apply', 'sync.desired_applied');
			const applied = await c.scheduleIs(APP_SCHEDULE);
			if (applied) return applied;
			await c.appSets(BAD_SCHEDULE);
			await syncedOnce(s, 'refuse', 'sync.desired_rejected');
			return await c.scheduleIs(APP_SCHEDULE, /entries\[0\]\.start/);
		} finally {
			c.close();
		}
	},
};
export default scenario;
