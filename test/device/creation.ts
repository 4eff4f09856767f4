// The XS creation a device run is built with when DEVICE_CREATION asks for a board's sizes (issue
// #20): the creation of manifest.json's platforms.<board> section with growth off (incremental 0),
// so a shortfall aborts with `memory full` instead of growing, as on the board. Sizes can be
// lowered one by one to show that the memory scenarios fail below what they need:
//
//   DEVICE_CREATION=esp32                      the esp32 sizes as manifest.json gives them
//   DEVICE_CREATION=esp32,chunk=65536,heap=4096,stack=384
//
// Chunk in bytes, heap and stack in slots (as in a manifest). Run it on the 32-bit build
// (DEVICE_M32=1): the slot and stack counts are the board's only when a slot is 16 bytes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Creation {
	static: number;
	chunk: { initial: number; incremental: number };
	heap: { initial: number; incremental: number };
	stack: number;
	keys?: { initial: number; incremental: number; name?: number; symbol?: number };
}

const KNOBS = ['chunk', 'heap', 'stack'] as const;

/** The creation for `spec` (`board[,chunk=N][,heap=N][,stack=N]`) from the manifest; throws on a bad spec. */
export function boardCreation(spec: string, manifest: { creation: Partial<Creation>; platforms?: Record<string, { creation?: Partial<Creation> }> }): { board: string; creation: Creation } {
	const [board, ...knobs] = spec.split(',').map((p) => p.trim());
	const section = board ? manifest.platforms?.[board]?.creation : undefined;
	if (!board || !section) throw new Error(`DEVICE_CREATION: no creation for "${board ?? ''}" in manifest.json's platforms (expected board[,chunk=N][,heap=N][,stack=N], e.g. esp32)`);
	const m = { ...manifest.creation, ...section } as Creation;
	const c: Creation = {
		static: 0,
		chunk: { initial: m.chunk.initial, incremental: 0 },
		heap: { initial: m.heap.initial, incremental: 0 },
		stack: m.stack,
		...(m.keys ? { keys: m.keys } : {}),
	};
	for (const k of knobs) {
		const mm = /^(chunk|heap|stack)=(\d+)$/.exec(k);
		if (!mm || !(Number(mm[2]) > 0)) throw new Error(`DEVICE_CREATION: "${k}" is not one of ${KNOBS.map((n) => n + '=N').join(', ')} with N > 0`);
		const n = Number(mm[2]);
		if (mm[1] === 'chunk') c.chunk.initial = n;
		else if (mm[1] === 'heap') c.heap.initial = n;
		else c.stack = n;
	}
	return { board, creation: c };
}

/** The creation DEVICE_CREATION asks for, or undefined (the test build keeps manifest.json's lin sizes). */
export function deviceCreation(root: string, env = process.env): { board: string; creation: Creation } | undefined {
	const spec = env['DEVICE_CREATION'];
	if (!spec) return undefined;
	return boardCreation(spec, JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')));
}
