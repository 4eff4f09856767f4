/*
 * Health figures on the host (the simulator): V8's heap (what is still available to the
 * isolate, and the largest space's room as the "largest block"), the storage directory's
 * size on disk when the robot keeps its state in files. A host has no Wi-Fi: no RSSI.
 */
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import type { HealthPort } from '../../ports';

function dirBytes(dir: string): number {
	let n = 0;
	for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
		const p = path.join(dir, e.name);
		n += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
	}
	return n;
}

/** `storage`: the directory the robot's file storage writes, and the budget it is held to (bytes). */
export function createHostHealth(o: { resetReason?: string; storage?: { dir: string; totalBytes: number } } = {}): HealthPort {
	return {
		resetReason: o.resetReason ?? 'power-on',
		read() {
			const heap = v8.getHeapStatistics();
			const largest = Math.max(...v8.getHeapSpaceStatistics().map((s) => s.space_available_size));
			const storage = o.storage && fs.existsSync(o.storage.dir) ? { storageUsed: dirBytes(o.storage.dir), storageTotal: o.storage.totalBytes } : {};
			return { freeHeap: heap.total_available_size, largestFreeBlock: largest, ...storage };
		},
	};
}
