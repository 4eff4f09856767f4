/*
 * Fake of the SDK's `instrumentation` (modules/base/instrumentation: instrumentation.js over
 * modInstrumentation.c): counters by index; `map(name)` answers the index of a counter the build
 * has, undefined for another name; `get(index)` its value. A build without instrumentation (the
 * C file's #else: a release build) answers undefined to everything: `instrumentationFake.off()`.
 * Seen on 8.2.3 lin debug (tools/sdk-facts.ts): "XS Slot Heap Used" and "System Free Memory" map
 * to numbers, an unknown name to undefined.
 */
const NAMES = [
	'',
	'Pixels Drawn',
	'Frames Drawn',
	'Network Bytes Read',
	'Network Bytes Written',
	'Network Sockets',
	'Timers',
	'Files',
	'Poco Display List Used',
	'Piu Command List Used',
	'System Free Memory',
	'XS Slot Heap Used',
	'XS Chunk Heap Used',
	'XS Keys Used',
	'XS Garbage Collection Count',
	'XS Modules Loaded',
	'XS Stack Used',
	'XS Promises Settled',
];

let enabled = true;
const values = new Map<number, number>();

export const instrumentationFake = {
	/** Sets a counter's value by name. */
	set(name: string, v: number): void {
		values.set(NAMES.indexOf(name), v);
	},
	off(): void {
		enabled = false;
	},
	reset(): void {
		enabled = true;
		values.clear();
	},
};

export default class Instrumentation {
	static map(name: string): number | undefined {
		if (!enabled) return undefined;
		const i = NAMES.indexOf(name);
		return i > 0 ? i : undefined;
	}
	static get(index: number): number | undefined {
		if (!enabled || !(index > 0 && index < NAMES.length)) return undefined;
		return values.get(index) ?? 0;
	}
	static name(index: number): string | undefined {
		return enabled ? NAMES[index] || undefined : undefined;
	}
}
