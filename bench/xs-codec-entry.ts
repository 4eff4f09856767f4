/*
 * Bundled into the XS worker by bench/run.ts (section codec.xs): the firmware codec and the
 * same sample packets as bench/codec.ts. Each function runs `n` operations in one evaluate, so
 * the caller divides the meter of that evaluate by `n`. Nothing here may touch timers.
 */
import { decode, encodeInto, packetSize } from '../firmware/core/mqtt/codec';
import { SAMPLE_PACKETS } from './codec';

const buffers: Record<string, Uint8Array> = {};
for (const [name, p] of Object.entries(SAMPLE_PACKETS)) {
	const b = new Uint8Array(packetSize(p));
	encodeInto(p, b);
	buffers[name] = b;
}

/** Kept alive on purpose by `retain` runs, so their cost shows in the live heap. */
let kept: unknown[] = [];

export const names = Object.keys(SAMPLE_PACKETS);

export function sizes(): string {
	return JSON.stringify(Object.fromEntries(names.map((n) => [n, buffers[n]!.length])));
}

export function encodeLoop(name: string, n: number): number {
	const p = SAMPLE_PACKETS[name]!;
	const out = new Uint8Array(packetSize(p));
	let total = 0;
	for (let i = 0; i < n; i++) total += encodeInto(p, out);
	return total;
}

export function decodeLoop(name: string, n: number): number {
	const b = buffers[name]!;
	let ok = 0;
	for (let i = 0; i < n; i++) if (decode(b)) ok++;
	return ok;
}

/** Decodes `n` times and keeps every result alive until `release`. */
export function decodeRetain(name: string, n: number): void {
	const b = buffers[name]!;
	for (let i = 0; i < n; i++) kept.push(decode(b));
}

export function release(): void {
	kept = [];
}

(globalThis as unknown as { codecBench: unknown }).codecBench = { names, sizes, encodeLoop, decodeLoop, decodeRetain, release };
