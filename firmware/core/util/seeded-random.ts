/*
 * A seeded generator (mulberry32) for the simulator and tests: the same seed gives
 * the same cleaning run, map and fault plan on Node, in XS and on the device.
 * Not for keys: only for simulation. Pure, so it lives in the core: the core's test
 * helpers (core/testing) use it, and firmware/platform/portable/random.ts hands it to
 * the platforms as a RandomPort.
 */
import type { RandomPort } from '../../ports';

export function seededRandom(seed: number): RandomPort {
	if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new TypeError('"seed" expected a finite number, got ' + String(seed));
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
