/*
 * Values both sides of a device scenario agree on: the device scenarios import them
 * (a device module of test/device/manifest.json) and so does the Node runner (run.ts).
 * Nothing here may import a Moddable or a Node module.
 */
import type { Schedule } from '../../../firmware/core/schedule/model';

/** What the app sets in desired while the robot is offline: a valid weekly schedule. */
export const APP_SCHEDULE: Schedule = {
	tz: 'CET-1CEST,M3.5.0,M10.5.0/3',
	entries: [
		{ id: 'weekday', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:30', enabled: true, mode: 'vacuum', rooms: ['kitchen', 'hall'] },
		{ id: 'weekend', days: ['sat', 'sun'], start: '11:00', enabled: true },
	],
};

/** An invalid desired schedule (25:00 is no time of day): refused, the robot keeps APP_SCHEDULE. */
export const BAD_SCHEDULE = { tz: 'CET-1CEST,M3.5.0,M10.5.0/3', entries: [{ id: 'bad', days: ['mon'], start: '25:00', enabled: true }] };

/** The time the test's SNTP responder gives (2030-01-02T03:04:05Z, seconds): nothing else would. */
export const SNTP_TEST_SECONDS = Date.UTC(2030, 0, 2, 3, 4, 5) / 1000;
