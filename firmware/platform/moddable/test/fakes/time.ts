/*
 * Fake of the SDK's `time` (modules/base/time/time.js), on the shared virtual loop (loop.ts).
 * `ticks` as the platforms make it:
 * - lin (lin/modTime.c): gettimeofday in ms as a double, never wraps;
 * - esp32 (esp/modTime.c): xsmcSetInteger(modMilliseconds()), a uint32 ms counter stored in a
 *   signed 32-bit XS integer: negative after 2^31 ms (24.8 days), back to 0 after 2^32 ms.
 * `set(seconds)` is recorded (on lin the SDK's Time.set changes nothing: Date.now() is the host's).
 */
import { loop } from './loop';

let origin = 0;
let mode: 'lin' | 'esp32' = 'lin';
export const timeFake = {
	/** The seconds of every Time.set call, in order. */
	sets: [] as number[],
	/** Ticks read `origin + loop.now`, as the platform stores them. */
	setTicks(origin_: number, mode_: 'lin' | 'esp32'): void {
		origin = origin_;
		mode = mode_;
	},
	reset(): void {
		origin = 0;
		mode = 'lin';
		this.sets.length = 0;
	},
};

const Time = {
	set(seconds: number): void {
		timeFake.sets.push(seconds);
	},
	get ticks(): number {
		const ms = origin + loop.now;
		return mode === 'esp32' ? ms | 0 : ms;
	},
};
export default Time;
