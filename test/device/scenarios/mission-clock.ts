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

export { seededRandom } from '../../../firmware/sim/random';
