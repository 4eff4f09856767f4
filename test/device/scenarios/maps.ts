/*
 * Map uploads (issue #6) on the shipped firmware: after every mission report the robot uploads
 * its map through the same uploader and durable queue as the simulator (slot over MQTT, the data
 * key unwrapped with the native RSA, the map encrypted frame by frame with native AES-GCM, PUT
 * through the SDK's http client); the cloud's ingest decrypts it with the stock AWS Encryption SDK.
 *   map-upload  maps of 64 KB and 2 MB (config robot.mapBytes), each from one mission: the
 *               decoded object is an RMAP of that size; the device's heap peaks (debug build
 *               `instruments:` lines) come out as device.memory metrics of each run.
 *   robot-day   one storage for a day: the factory schedule reported; the app edits it while
 *               the robot is off; on return the edit is applied, a mission cleans, its report and
 *               a 1 MB map go up, then a firmware job (published once the map is in) installs
 *               with a reboot and passes its self-test.
 */
import { mapLength, squareFor } from '../../../firmware/sim/map';
import { Checks } from '../checks';
import { say, type Scenario } from '../suite';
import { APP_SCHEDULE, ROBOT_DAY_MAP_BYTES } from './fixtures';
import { badEvents, missionBefore, pressButton } from './mission';
import { publish, untilJobEnds } from './ota';
import { syncedOnce } from './schedule';

/** The length of the map the robot makes for `mapBytes` (a square grid and the 32-byte header). */
function mapSize(mapBytes: number): number {
	const { width, height } = squareFor(mapBytes);
	return mapLength(width, height);
}

export const mapUpload: Scenario = {
	name: 'map-upload',
	async run(s) {
		const c = new Checks(s);
		try {
			for (const bytes of [64 * 1024, 2 * 1024 * 1024]) {
				await missionBefore(s, c);
				const d = s.power(`map ${bytes}`, { verbose: true, test: { robot: { mapBytes: bytes } } });
				const id = await pressButton(d);
				const up = await d.waitFor('map.uploaded', (l) => l.mission === id || l.missionId === id, 90_000);
				await d.off();
				const why = badEvents(d) ?? (await c.onlyItem(id, 'finished')) ?? (await c.mapStored(id, mapSize(bytes)));
				if (why) return why;
				say(`map of ${mapSize(bytes)} bytes uploaded: ${JSON.stringify(up)}`);
			}
			return undefined;
		} finally {
			c.close();
		}
	},
};

export const robotDay: Scenario = {
	name: 'robot-day',
	async run(s) {
		const c = new Checks(s);
		try {
			await missionBefore(s, c);
			await c.deleteSchedule();
			await syncedOnce(s, 'factory schedule');
			const factory = await c.scheduleIs({ tz: 'UTC0', entries: [] });
			if (factory) return factory;
			await c.appSets(APP_SCHEDULE);
			const test = { robot: { mapBytes: ROBOT_DAY_MAP_BYTES } };
			const d = s.power('day', { verbose: true, test });
			await d.waitFor('sync.desired_applied', () => true, 20_000);
			await d.untilStatus('schedule synced', (x) => x.schedule === 'synced');
			const id = await pressButton(d);
			await d.waitFor('map.uploaded', (l) => l.mission === id || l.missionId === id, 90_000);
			const why = (await c.scheduleIs(APP_SCHEDULE)) ?? c.reportOnce(id) ?? (await c.onlyItem(id, 'finished')) ?? (await c.mapStored(id, mapSize(ROBOT_DAY_MAP_BYTES)));
			if (why) return why;
			// the firmware job comes once the map is in: the robot installs it and reboots
			const jobId = await publish(s, c, '1.1.0', 64 * 1024, 21);
			await d.until('the update reboot', () => (d.rebooted ? true : undefined), 60_000);
			await d.result;
			const reboots = await untilJobEnds(s, c, jobId, 'updated', undefined, test);
			if (reboots !== 0) return `the updated image rebooted ${reboots} more time(s)`;
			return badEvents(d) ?? (await c.jobEnded(jobId, 'SUCCEEDED', '1.1.0'));
		} finally {
			c.close();
		}
	},
};
