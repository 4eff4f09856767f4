/*
 * The device budget (issue #8): what the firmware used on the real Moddable runtime (lin) against
 * the XS creation sizes manifest.json gives lin and esp32, and the crypto throughput the device
 * scenarios measured. Input: the `device-metric` lines of test/device/run.ts.
 *
 * The lin simulator runs 64-bit XS: a slot is 32 bytes there and 16 bytes on the 32-bit ESP32,
 * and the stack is counted in slots, so the ESP32 column halves slot and stack bytes. Chunks
 * (strings, ArrayBuffers, array and closure storage) are taken at their lin size, an upper
 * bound. On ESP32 `static` is the one block that holds stack, slots and chunks.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The device scenarios device.lin runs: the ones with instrument peaks and the crypto figures. */
export const BUDGET_SCENARIOS = ['echo', 'self-test', 'schedule-offline-edit', 'mission-report', 'map-upload'] as const;

interface Creation {
	static?: number;
	chunk: { initial: number; incremental: number };
	heap: { initial: number; incremental: number };
	stack: number;
	keys?: { initial: number; incremental: number };
}

export interface CreationSizes {
	lin: Creation;
	esp32: Creation;
}

/** The creation of manifest.json for lin (its top level) and for esp32 (merged with platforms.esp32). */
export function creationSizes(root: string): CreationSizes {
	const m = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as { creation: Creation; platforms?: Record<string, { creation?: Partial<Creation> }> };
	const base = m.creation;
	const merge = (p: string): Creation => ({ ...base, ...(m.platforms?.[p]?.creation ?? {}) }) as Creation;
	return { lin: merge('lin'), esp32: merge('esp32') };
}

type Metric = Record<string, unknown>;

export interface BudgetRow {
	scenario: string;
	chunkPeak: number;
	slotPeakLin: number;
	stackPeakLin: number;
	keysPeak?: number;
	/** slots and stack at 16 bytes, chunks as on lin: an upper bound of the ESP32 `static` this run needs */
	esp32Bytes: number;
}

export interface Budget {
	creation: CreationSizes;
	rows: BudgetRow[];
	crypto: { name: string; kBps: number; ms: number; bytes: number }[];
}

export function deviceBudget(metrics: Metric[], creation: CreationSizes): Budget {
	const rows: BudgetRow[] = [];
	for (const m of metrics.filter((x) => x.name === 'device.memory')) {
		const chunkPeak = Number(m.chunkUsedPeak ?? 0);
		const slotPeakLin = Number(m.slotUsedPeak ?? 0);
		const stackPeakLin = Number(m.stackUsedPeak ?? 0);
		rows.push({
			scenario: String(m.scenario),
			chunkPeak,
			slotPeakLin,
			stackPeakLin,
			...(m.keysUsedPeak !== undefined ? { keysPeak: Number(m.keysUsedPeak) } : {}),
			esp32Bytes: chunkPeak + slotPeakLin / 2 + stackPeakLin / 2,
		});
	}
	const crypto = metrics
		.filter((x) => typeof x.name === 'string' && /^(crypto\.(native|portable)_|map\.encrypt_native)/.test(x.name) && 'kBps' in x)
		.map((x) => ({ name: String(x.name), kBps: Number(x.kBps), ms: Number(x.ms), bytes: Number(x.bytes) }));
	return { creation, rows, crypto };
}

export function budgetMarkdown(b: Budget, table: (head: string[], rows: (string | number)[][]) => string): string[] {
	const { lin, esp32 } = b.creation;
	const kb = (n: number) => (n / 1024).toFixed(1) + ' KB';
	const md: string[] = [];
	md.push('### Budget: peaks against the creation sizes of manifest.json', '');
	md.push(
		table(
			['', 'chunk heap', 'slot heap', 'stack', 'keys', 'ESP32 static'],
			[
				['lin creation', `${kb(lin.chunk.initial)} +${kb(lin.chunk.incremental)}`, `${lin.heap.initial} slots (${kb(lin.heap.initial * 32)}) +${lin.heap.incremental}`, `${lin.stack} slots (${kb(lin.stack * 32)})`, `${lin.keys?.initial ?? '?'} +${lin.keys?.incremental ?? '?'}`, 'n/a (the simulator allocates on demand)'],
				['esp32 creation', `${kb(esp32.chunk.initial)} +${kb(esp32.chunk.incremental)}`, `${esp32.heap.initial} slots (${kb(esp32.heap.initial * 16)}) +${esp32.heap.incremental}`, `${esp32.stack} slots (${kb(esp32.stack * 16)})`, `${esp32.keys?.initial ?? '?'} +${esp32.keys?.incremental ?? '?'}`, esp32.static ? kb(esp32.static) : 'off'],
				...b.rows.map((r) => [
					`peak, ${r.scenario}`,
					kb(r.chunkPeak),
					`${Math.round(r.slotPeakLin / 32)} slots (${kb(r.slotPeakLin)} lin, ${kb(r.slotPeakLin / 2)} ESP32)`,
					`${Math.round(r.stackPeakLin / 32)} slots (${kb(r.stackPeakLin)} lin)`,
					r.keysPeak ?? '?',
					`≤ ${kb(r.esp32Bytes)}`,
				]),
			],
		),
		'',
	);
	md.push(
		'Peaks are of the `instruments` lines a debug build prints once a second (short peaks between samples are missed), from runs with heap growth on. A chunk peak near the chunk size says the collector ran when the chunk heap filled, not that the app needs all of it; what it needs was found with growth off (manifest.json `creation`, `//`). ESP32 static: chunks as on lin plus slots and stack at 16 bytes, an upper bound of the one block XS gets there.',
		'',
	);
	if (b.crypto.length) {
		md.push('### Crypto on the device runtime (lin)', '');
		md.push(table(['measure', 'bytes', 'ms', 'KB/s'], b.crypto.map((c) => [c.name, c.bytes, c.ms, c.kBps])), '');
		md.push('`crypto.native_*`: the Moddable native port (firmware/platform/moddable/crypto.ts); `crypto.portable_*`: the portable @noble port bundled for the device, the same work in JavaScript; `map.encrypt_native`: Encryption SDK frames of a map, native AES-GCM.', '');
	}
	return md;
}
