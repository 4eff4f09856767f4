/*
 * Bundled into the XS worker by bench/maps.ts (section maps): the firmware's Encryption SDK
 * writer on the portable CryptoPort (@noble), over either a constant plaintext (encryption
 * alone) or the simulated map (firmware/sim/map.ts, made a row at a time). A stream is
 * opened by one evaluate and pulled by later ones, so the caller can collect garbage and
 * read the heap gauge between pulls, and no one evaluate nears the meter's 2^32 wrap.
 * The random bytes are a fixed PRNG: fine for a benchmark, never for keys.
 */
import { createPortableCrypto } from '../firmware/platform/portable/crypto';
import { messageBody, type MessageBody, type PlaintextSource } from '../firmware/core/maps/esdk';
import { benchMessageWriter } from './maps-message';
import { simulatedMap, squareFor } from '../firmware/sim/map';

let seed = 1;
const crypto = createPortableCrypto((n) => {
	const b = new Uint8Array(n);
	for (let i = 0; i < n; i++) b[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
	return b;
});

let body: MessageBody | undefined;
let sent = 0;
let sink = 0;

function constant(n: number): PlaintextSource {
	const block = new Uint8Array(4096).fill(0x61);
	let at = 0;
	return (max) => {
		if (at >= n) return undefined;
		const k = Math.min(max, n - at, block.length);
		at += k;
		return block.subarray(0, k);
	};
}

/** Opens a message of `n` plaintext bytes from `source`: "constant" or "map" (a square map of at most n bytes). Answers the plaintext length. */
export function open(n: number, source: 'constant' | 'map'): number {
	const writer = benchMessageWriter(crypto);
	const map = source === 'map' ? simulatedMap({ seed: 7, areaM2: 65, ...squareFor(n) }) : undefined;
	const length = map ? map.length : n;
	body = messageBody(writer, length, map ? map.open() : constant(n));
	sent = 0;
	return length;
}

/** Pulls up to `frames` chunks (the header counts as one); answers the message bytes sent so far, -1 at the end. */
export function pull(frames: number): number {
	if (!body) throw new Error('open() first');
	for (let i = 0; i < frames; i++) {
		const c = body.next();
		if (!c) {
			if (body.failure) throw new Error(body.failure);
			body = undefined;
			return -1;
		}
		sent += c.length;
		sink ^= c[c.length - 1]!;
	}
	return sent;
}

/** As `pull`, keeping a copy of every chunk in `kept`: the control that grows with the size. */
export function pullKeep(kept: Uint8Array[], frames: number): number {
	if (!body) throw new Error('open() first');
	for (let i = 0; i < frames; i++) {
		const c = body.next();
		if (!c) {
			body = undefined;
			return -1;
		}
		sent += c.length;
		kept.push(c.slice());
	}
	return sent;
}

/** The simulated map alone, `n` bytes read 4 KB at a time (what generating it costs). */
export function generate(n: number): number {
	const map = simulatedMap({ seed: 7, areaM2: 65, ...squareFor(n) });
	const read = map.open();
	let total = 0;
	for (let c = read(4096); c; c = read(4096)) total += c.length;
	return total;
}

export function drop(): number {
	body = undefined;
	return sink;
}

(globalThis as unknown as { mapsBench: unknown }).mapsBench = { open, pull, pullKeep, generate, drop };
