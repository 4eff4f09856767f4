/*
 * One section of `npm run bench`: its name (the key in bench/results.json and the word `--only`
 * takes), what it measures, and how bench/results.md shows it. Each section's module exports one
 * beside its measuring code; bench/run.ts only lists them, runs the chosen ones and writes the files.
 */

/** What the command line gives every section; each takes the part it needs. */
export interface BenchOptions {
	/** `--runs N`: repetitions for the sections that repeat a measurement (some cap it) */
	readonly runs: number;
	/** `--robots N`: the fleet section's robots */
	readonly robots: number;
	/** `--device-scenarios a,b`: the device scenarios device.lin runs */
	readonly deviceScenarios: readonly string[];
	/** writes one progress line under the section's own on stderr */
	readonly progress: (message: string) => void;
}

export interface BenchSection {
	readonly name: string;
	/** results.md heading after the name: `## name: title` */
	readonly title: string;
	run(o: BenchOptions): unknown;
	/** results.md lines under the heading for what `run` returned (a thrown error is rendered by the caller) */
	markdown(result: unknown): string[];
	/** the Moddable SDK and build the figures ran on, for the section's meta; undefined when not known */
	sdk?(result: unknown): { version: string; build: string } | undefined;
}

/**
 * A section typed by what its `run` returns. `markdown` also reads results kept in
 * bench/results.json from an earlier run, so it may meet an older shape: bench/report.ts names
 * such a section stale rather than fail the whole file.
 */
export function benchSection<R>(s: { name: string; title: string; run(o: BenchOptions): R | Promise<R>; markdown(result: R): string[]; sdk?(result: unknown): { version: string; build: string } | undefined }): BenchSection {
	return s as BenchSection;
}
