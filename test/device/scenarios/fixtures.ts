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

/** The map-upload scenarios: mission id and map size, by scenario name. */
export const MAP_UPLOADS: Readonly<Record<string, { readonly missionId: string; readonly bytes: number }>> = Object.freeze({
	'map-upload-64k': { missionId: 'm-map64k', bytes: 64 * 1024 },
	'map-upload-2m': { missionId: 'm-map2m', bytes: 2 * 1024 * 1024 },
});

/** The robot day's map (robot-day.ts): generated as the map-upload ones are, from the mission id; at least 1 MB. */
export const ROBOT_DAY_MAP_BYTES = 1024 * 1024;

/**
 * A deterministic pseudo-map, generated in pieces so the device never holds it: byte i of
 * the map for `seed` (an LCG in 32-bit integer arithmetic, the same in XS and in Node).
 * `next(out)` fills `out` with the following bytes.
 */
export function mapGenerator(seed: number): { next(out: Uint8Array): void } {
	let x = seed >>> 0;
	return {
		next(out: Uint8Array) {
			for (let i = 0; i < out.length; i++) {
				x = (Math.imul(x, 1103515245) + 12345) >>> 0;
				out[i] = x >>> 24;
			}
		},
	};
}

/** The seed of a mission's map: from its id, so both sides agree. */
export function mapSeed(missionId: string): number {
	let h = 0x811c9dc5;
	for (let i = 0; i < missionId.length; i++) h = Math.imul(h ^ missionId.charCodeAt(i), 0x01000193) >>> 0;
	return h;
}
