// dynalite ships no types: the part of its surface the wrapper uses.
declare module 'dynalite' {
	import type { Server } from 'node:http';
	interface DynaliteOptions {
		/** LevelDB directory; in memory when absent. */
		path?: string;
		createTableMs?: number;
		deleteTableMs?: number;
		updateTableMs?: number;
		maxItemSizeKb?: number;
	}
	export default function dynalite(options?: DynaliteOptions): Server;
}
