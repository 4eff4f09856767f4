/*
 * Fast time for a simulated robot: the ports its missions (and the cleaning model
 * driving them) see, with time going `60000 / msPerMin` times faster than the link's,
 * so a one-hour mission runs in seconds on the host, in CI and on the device test
 * build alike. Storage, log and randomness stay the robot's own.
 */
import type { ClockPort, LogPort, RandomPort, StoragePort, TimerHandle, TimerPort } from '../ports';

export interface SimPorts {
	readonly clock: ClockPort;
	readonly timers: TimerPort;
	readonly storage: StoragePort;
	readonly log: LogPort;
	readonly random: RandomPort;
}

export function scaledPorts<P extends SimPorts>(base: P, msPerMin: number): SimPorts {
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
