/*
 * Mission ports on a scaled clock, as tools/sim/robot.ts builds them on the host: the
 * missions (and the CleaningSimulator driving them) see time go `60000 / msPerMin` times
 * faster than the link does, so a one-hour mission runs in a few seconds on the device.
 * Storage and log are the device's own: what a mission persists is really on Preference.
 */
import type { MissionPorts } from '../../../firmware/core/mission/missions';
import type { ClockPort, LogPort, RandomPort, StoragePort, TimerHandle, TimerPort } from '../../../firmware/ports';

export function scaledMissionPorts(base: { readonly clock: ClockPort; readonly timers: TimerPort; readonly storage: StoragePort; readonly log: LogPort; readonly random: RandomPort }, msPerMin: number): MissionPorts {
	if (!(msPerMin > 0)) throw new RangeError('"msPerMin" expected > 0, got ' + msPerMin);
	const scale = 60_000 / msPerMin;
	if (scale === 1) return base;
	const m0 = base.clock.monotonic();
	// the wall clock may be unknown at boot: the scaled one starts where it was first known
	let w0: number | undefined;
	const clock: ClockPort = {
		now() {
			const t = base.clock.now();
			if (t === undefined) return undefined;
			w0 ??= t;
			return Math.round(w0 + (t - w0) * scale);
		},
		monotonic: () => (base.clock.monotonic() - m0) * scale,
	};
	const timers: TimerPort = {
		set: (cb, ms) => base.timers.set(cb, Math.max(0, Math.round(ms / scale))),
		clear: (h: TimerHandle) => base.timers.clear(h),
	};
	return { clock, timers, storage: base.storage, log: base.log, random: base.random };
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
