/*
 * Section codec.xs: the firmware's MQTT codec inside the XS engine (xsnap worker, the codec
 * bundled with bench/xs-codec-entry.ts): compute units and heap slots per encode and decode,
 * slots a kept decoded packet holds, and what steady traffic leaves live after gc().
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateEntry, withXsWorker, type XsWorker } from '../tools/xs/run';
import { SAMPLE_PACKETS } from './codec';
import { benchSection } from './section';
import { fmt, round } from './stats';
import { table } from './table';

const here = dirname(fileURLToPath(import.meta.url));

interface XsCodecRow {
	packet: string;
	bytes: number;
	/** compute units (XS bytecodes + builtin bulk units) per operation */
	computePerEncode: number;
	computePerDecode: number;
	/** heap slots created per operation, garbage included (no GC ran during the measured crank) */
	slotsPerEncode: number;
	slotsPerDecode: number;
	/** slots still live per decoded packet that the caller keeps */
	retainedSlotsPerDecode: number;
	/**
	 * live slots left after `gc()` once `steadyOps` encodes then decodes ran with nothing kept,
	 * minus the same for an empty evaluate: a real count, 0 when traffic leaves nothing behind
	 */
	retainedSlotsAfterGc: number;
	steadyOps: number;
}

/** Said from the numbers: traffic leaves live slots behind or it does not. */
export function codecHeapVerdict(rows: readonly { packet: string; retainedSlotsAfterGc: number }[]): string {
	const grown = rows.filter((r) => r.retainedSlotsAfterGc > 0);
	if (rows.length === 0) return 'Not measured.';
	return grown.length === 0 ? 'Every row is 0 or less: memory does not grow with traffic.' : 'Memory GROWS with traffic for ' + grown.map((r) => r.packet + ' (' + r.retainedSlotsAfterGc + ' slots)').join(', ') + '.';
}

const XS_SLOT_BYTES = 32; // sizeof(txSlot) on 64-bit hosts; 16 on the 32-bit MCUs

async function codecXs(): Promise<{ bundleBytes: number; slotBytes: number; rows: XsCodecRow[] }> {
	const N = 200; // small enough that no GC runs inside one crank (checked: slots grow linearly)
	const RETAIN = 100;
	const STEADY = 5000;
	return withXsWorker(
		async (w: XsWorker) => {
			const loaded = await evaluateEntry(w, join(here, 'xs-codec-entry.ts'));
			const run = async (code: string) => (await w.evaluate(code)).meter;
			const rows: XsCodecRow[] = [];
			for (const name of Object.keys(SAMPLE_PACKETS)) {
				const q = JSON.stringify(name);
				const per = async (fn: string) => {
					// fixed cost of the call (n = 0) subtracted; a fresh gc() first so the slot gauge counts only this crank
					await run('gc()');
					const zeroBefore = await run('');
					const zero = await run(`codecBench.${fn}(${q}, 0)`);
					await run('gc()');
					const before = await run('');
					const m = await run(`codecBench.${fn}(${q}, ${N})`);
					const zeroSlots = zero.currentHeapCount - zeroBefore.currentHeapCount;
					return { compute: (m.compute - zero.compute) / N, slots: (m.currentHeapCount - before.currentHeapCount - zeroSlots) / N };
				};
				const enc = await per('encodeLoop');
				const dec = await per('decodeLoop');
				await run('codecBench.release(); gc()');
				const r0 = await run('');
				await run(`codecBench.decodeRetain(${q}, ${RETAIN}); gc()`);
				const r1 = await run('');
				// a real count after a forced collection (the meter's `allocate` steps in MiB): the
				// same sequence of evaluates with 0 and with STEADY operations, so the worker's own
				// slot per evaluate cancels out
				const retained = async (ops: number) => {
					const a = await run('codecBench.release(); gc()');
					await run(`codecBench.encodeLoop(${q}, ${ops}); codecBench.decodeLoop(${q}, ${ops})`);
					const b = await run('gc()');
					return b.currentHeapCount - a.currentHeapCount;
				};
				const control = await retained(0);
				const loaded = await retained(STEADY);
				rows.push({
					packet: name,
					bytes: 0,
					computePerEncode: Math.round(enc.compute),
					computePerDecode: Math.round(dec.compute),
					slotsPerEncode: round(enc.slots),
					slotsPerDecode: round(dec.slots),
					retainedSlotsPerDecode: round((r1.currentHeapCount - r0.currentHeapCount) / RETAIN),
					retainedSlotsAfterGc: loaded - control,
					steadyOps: STEADY,
				});
			}
			const sizes = JSON.parse(new TextDecoder().decode((await w.evaluate('new TextEncoder().encode(codecBench.sizes()).buffer')).reply)) as Record<string, number>;
			for (const r of rows) r.bytes = sizes[r.packet] ?? 0;
			return { bundleBytes: loaded.bytes, slotBytes: XS_SLOT_BYTES, rows };
		},
		{ stdout: 'ignore', stderr: 'inherit' },
	);
}

type CodecXsResult = Awaited<ReturnType<typeof codecXs>>;

function codecXsMarkdown(x: CodecXsResult): string[] {
	return [
		table(
			['packet', 'bytes', 'compute / encode', 'compute / decode', 'slots / encode', 'slots / decode', 'retained slots / decoded packet', `live slots left after gc() by ${fmt(x.rows[0]?.steadyOps ?? 0)} enc + dec`],
			x.rows.map((q) => [q.packet, q.bytes, q.computePerEncode, q.computePerDecode, q.slotsPerEncode, q.slotsPerDecode, q.retainedSlotsPerDecode, q.retainedSlotsAfterGc]),
		),
		'',
		[
			`XS engine of @agoric/xsnap (xsnap-worker), the codec bundled by esbuild (${fmt(x.bundleBytes)} bytes with bench/xs-codec-entry.ts).`,
			"- **compute**: the meter's compute units (XS bytecodes executed, plus units builtins charge for bulk work) of one evaluate that runs the operation 200 times, minus the same call with 0 iterations, divided by 200. Deterministic: the same code gives the same count on any machine.",
			`- **slots / op**: growth of \`currentHeapCount\` (live slots after the crank) over that crank, started right after \`gc()\`, divided by 200. No collection runs inside the crank (the growth is linear in the iteration count), so this counts every slot the operation creates, garbage included. A slot is ${x.slotBytes} bytes on a 64-bit host, 16 bytes on the 32-bit MCU. Chunk memory (string and ArrayBuffer bodies) is not in this gauge.`,
			'- **retained slots / decoded packet**: live slots that stay after `gc()` per decoded packet the caller keeps (100 kept), i.e. the size of the packet object tree.',
			'- **live slots left after gc()**: `currentHeapCount` after a forced `gc()` following that many encodes then decodes with nothing kept, minus the same sequence with 0 operations. ' +
				codecHeapVerdict(x.rows) +
				' Chunk memory (byte bodies) is not in this count.',
		].join('\n'),
		'',
	];
}

export const codecXsSection = benchSection({ name: 'codec.xs', title: 'the same codec inside the XS engine', run: codecXs, markdown: codecXsMarkdown });
