/*
 * A realistic `schedule` shadow for the schedule benchmarks (bench/schedule.ts and its XS
 * entry): a 4-entry weekly schedule in Berlin time waiting in desired, an older 2-entry one in
 * reported, and the get/accepted document AWS IoT would answer, metadata included (a
 * `{ timestamp }` per leaf, arrays as arrays of those, as the Device Shadow service writes it).
 * Plain data only: it is bundled into XS too.
 */
const TZ = 'CET-1CEST,M3.5.0,M10.5.0/3';

export const DESIRED = Object.freeze({
	tz: TZ,
	entries: [
		{ id: 'weekday-morning', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:30', enabled: true, mode: 'vacuum', rooms: ['kitchen', 'hall', 'living-room'] },
		{ id: 'weekday-evening', days: ['mon', 'wed', 'fri'], start: '18:45', enabled: true, mode: 'mop', rooms: ['kitchen', 'bathroom'] },
		{ id: 'saturday', days: ['sat'], start: '11:00', enabled: true, mode: 'both' },
		{ id: 'sunday-quiet', days: ['sun'], start: '14:15', enabled: false, rooms: ['bedroom'] },
	],
});

export const REPORTED = Object.freeze({
	tz: TZ,
	entries: [
		{ id: 'weekday-morning', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', enabled: true, mode: 'vacuum' },
		{ id: 'saturday', days: ['sat'], start: '10:00', enabled: true },
	],
});

const T_DESIRED = 1_780_000_000; // seconds, as AWS metadata has them
const T_REPORTED = T_DESIRED - 86_400 * 3;

/** `{ timestamp }` on every leaf of `x`, as the shadow's metadata mirrors the state. */
function meta(x: unknown, t: number): unknown {
	if (Array.isArray(x)) return x.map((v) => meta(v, t));
	if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, meta(v, t)]));
	return { timestamp: t };
}

export const GET_ACCEPTED = Object.freeze({
	state: { desired: { schedule: DESIRED }, reported: { schedule: REPORTED }, delta: { schedule: DESIRED } },
	metadata: { desired: { schedule: meta(DESIRED, T_DESIRED) }, reported: { schedule: meta(REPORTED, T_REPORTED) } },
	version: 42,
	timestamp: T_DESIRED + 5,
	clientToken: '1-abcdef',
});

/** A Monday morning in June (CEST), where nextRun starts its walks. */
export const NEXT_RUN_FROM = Date.UTC(2026, 5, 1, 5, 0);
