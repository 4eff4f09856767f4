/*
 * Mission ports on a scaled clock (firmware/sim/clock.ts, as the host simulator uses):
 * a one-hour mission runs in a few seconds on the device; what a mission persists is
 * really on Preference.
 */
import type { MissionPorts } from '../../../firmware/core/mission/missions';
import { scaledPorts, type SimPorts } from '../../../firmware/sim/clock';

export function scaledMissionPorts(base: SimPorts, msPerMin: number): MissionPorts {
	return scaledPorts(base, msPerMin);
}

/** A seeded PRNG (mulberry32): the same cleaning run every time. */
export function seededRandom(seed: number): { random(): number } {
	let a = seed >>> 0;
	return {
		random() {
			a = (a + 0x6d2b79f5) >>> 0;
			let t = a;
			t = Math.imul(t ^ (t >>> 15), t | 1);
			t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
			return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
		},
	};
}
