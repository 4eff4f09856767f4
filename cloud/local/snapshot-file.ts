/*
 * A local service's state kept in one JSON file under its dataDir (the commands and jobs
 * runners): read once at start, written after each change (write then rename, so a crash
 * leaves the old file or the new one), with changes made while a write is under way
 * coalesced into the next write.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LogFn } from './log';

export class SnapshotFile<T extends { readonly version: number }> {
	#saving: Promise<void> = Promise.resolve();
	#dirty = false;

	/** `take` gives the state to write; a failed write is logged as `<service>.save.failed`. */
	constructor(
		readonly file: string,
		private readonly take: () => T,
		private readonly log: LogFn,
		private readonly service: string,
	) {}

	/** The snapshot, undefined when there is no file yet; a file of another version is an error. */
	async read(): Promise<T | undefined> {
		let text: string;
		try {
			text = await readFile(this.file, 'utf8');
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
			throw e;
		}
		const snap = JSON.parse(text) as T;
		if (snap.version !== 1) throw new Error(`${this.file}: unknown version ${String(snap.version)}`);
		return snap;
	}

	/** Writes the state soon; one write at a time. */
	save(): void {
		if (this.#dirty) return;
		this.#dirty = true;
		this.#saving = this.#saving.then(async () => {
			this.#dirty = false;
			const snap = this.take();
			try {
				await mkdir(path.dirname(this.file), { recursive: true });
				await writeFile(this.file + '.tmp', JSON.stringify(snap));
				await rename(this.file + '.tmp', this.file);
			} catch (e) {
				this.log({ level: 'error', event: this.service + '.save.failed', file: this.file, error: String(e) });
			}
		});
	}

	/** Resolves when the writes asked for so far are done. */
	settled(): Promise<void> {
		return this.#saving;
	}
}
