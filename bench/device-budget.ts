/*
 * The device budget (issue #8): what the firmware used on the real Moddable runtime (lin) against
 * the XS creation sizes manifest.json gives lin and esp32, and the crypto throughput the device
 * scenarios measured. Input: the `device-metric` lines of test/device/run.ts.
 *
 * Each run records its own word size (`bits` in the device.memory metric, test/device/run.ts): a
 * slot is 16 bytes on a 32-bit build (DEVICE_M32=1, the ESP32's layout) and 32 bytes on 64-bit,
 * and the stack is counted in slots, so slot and stack counts come from each run's own slot size,
 * never from a halving. The limit is the esp32 creation of manifest.json; a run of the 32-bit
 * build with growth off (DEVICE_CREATION=esp32) is measured in the board's bytes. On 64-bit the
 * slot counts still hold (a slot is a slot) but chunks are larger than on the board.
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
	/** which power-on of the scenario (a scenario may boot the app several times) */
	run: string;
	/** the run's word size: 32 (16-byte slots, as on the ESP32) or 64 (32-byte slots) */
	bits: 32 | 64;
	/** the creation the run had: `esp32 growth off`, or `lin` (grows on demand) */
	creation: string;
	chunkPeak: number;
	slotPeak: number;
	stackPeakSlots: number;
	keysPeak?: number;
	/** over the esp32 creation: which knob and by how much; empty when the run fits */
	over: string[];
}

export interface Budget {
	creation: CreationSizes;
	rows: BudgetRow[];
	crypto: { name: string; kBps: number; ms: number; bytes: number }[];
}

/** Bytes per XS slot for a run's word size. */
export function slotBytes(bits: number): number {
	if (bits !== 32 && bits !== 64) throw new RangeError(`device.memory "bits" expected 32 or 64, got ${String(bits)}`);
	return bits === 32 ? 16 : 32;
}

export function deviceBudget(metrics: Metric[], creation: CreationSizes): Budget {
	const rows: BudgetRow[] = [];
	const limit = creation.esp32;
	for (const m of metrics.filter((x) => x.name === 'device.memory')) {
		// runs recorded before the metric carried its word size were all 64-bit lin builds
		const bits = m.bits === undefined ? 64 : Number(m.bits);
		const per = slotBytes(bits);
		const chunkPeak = Number(m.chunkUsedPeak ?? 0);
		const slotPeak = Math.round(Number(m.slotUsedPeak ?? 0) / per);
		const stackPeakSlots = Math.round(Number(m.stackUsedPeak ?? 0) / per);
		const over: string[] = [];
		if (chunkPeak > limit.chunk.initial) over.push(`chunk +${chunkPeak - limit.chunk.initial} B`);
		if (slotPeak > limit.heap.initial) over.push(`slots +${slotPeak - limit.heap.initial}`);
		if (stackPeakSlots > limit.stack) over.push(`stack +${stackPeakSlots - limit.stack} slots`);
		rows.push({
			scenario: String(m.scenario),
			run: String(m.run ?? ''),
			bits: bits as 32 | 64,
			creation: String(m.creation ?? 'lin'),
			chunkPeak,
			slotPeak,
			stackPeakSlots,
			...(m.keysUsedPeak !== undefined ? { keysPeak: Number(m.keysUsedPeak) } : {}),
			over,
		});
	}
	const crypto = metrics
		.filter((x) => typeof x.name === 'string' && /^(crypto\.(native|portable)_|map\.encrypt_native)/.test(x.name) && 'kBps' in x)
		.map((x) => ({ name: String(x.name), kBps: Number(x.kBps), ms: Number(x.ms), bytes: Number(x.bytes) }));
	return { creation, rows, crypto };
}

export function budgetMarkdown(b: Budget, table: (head: string[], rows: (string | number)[][]) => string): string[] {
	const { esp32 } = b.creation;
	const kb = (n: number) => (n / 1024).toFixed(1) + ' KB';
	const md: string[] = [];
	md.push('### Budget: peaks against the esp32 creation sizes of manifest.json', '');
	md.push(
		table(
			['run', 'build', 'chunk heap', 'slot heap', 'stack', 'keys', 'within the esp32 creation'],
			[
				[
					'limit: esp32 creation',
					`static ${esp32.static ? kb(esp32.static) : '0'}`,
					`${esp32.chunk.initial} B (${kb(esp32.chunk.initial)})`,
					`${esp32.heap.initial} slots (${kb(esp32.heap.initial * 16)})`,
					`${esp32.stack} slots (${kb(esp32.stack * 16)})`,
					`${esp32.keys?.initial ?? '?'}`,
					'',
				],
				...b.rows.map((r) => [
					r.run && r.run !== r.scenario ? `${r.scenario} (${r.run})` : r.scenario,
					`${r.bits}-bit, ${r.creation}`,
					`${r.chunkPeak} B (${kb(r.chunkPeak)})`,
					`${r.slotPeak} slots (${kb(r.slotPeak * slotBytes(r.bits))})`,
					`${r.stackPeakSlots} slots`,
					r.keysPeak ?? '?',
					r.over.length ? 'no: ' + r.over.join(', ') : 'yes',
				]),
			],
		),
		'',
	);
	md.push(
		'Peaks are of the `instruments` lines a debug build prints once a second (short peaks between samples are missed), garbage included: with growth off the collector runs when a heap fills, so a peak near the limit says the collector worked, not that the app needs all of it; the "needed" sizes below say what it needs. Slots and stack are counted in slots at each run\'s own word size (16 bytes on the 32-bit build, as on the ESP32); "within" compares each peak with the esp32 creation.',
		'',
	);
	if (b.crypto.length) {
		md.push('### Crypto on the device runtime (lin)', '');
		md.push(
			table(
				['measure', 'bytes', 'ms', 'KB/s'],
				b.crypto.map((c) => [c.name, c.bytes, c.ms, c.kBps]),
			),
			'',
		);
		md.push(
			'`crypto.native_*`: the Moddable native port (firmware/platform/moddable/crypto.ts); `crypto.portable_*`: the portable @noble port bundled for the device, the same work in JavaScript; `map.encrypt_native`: Encryption SDK frames of a map, native AES-GCM.',
			'',
		);
	}
	return md;
}
