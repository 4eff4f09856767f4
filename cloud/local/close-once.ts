/*
 * A local service's close(): its parts stop in order (what feeds the runner first, the runner
 * last, so nothing arrives at a closed store), once; a second close() (the cloud's and a
 * test's) waits for the same shutdown instead of closing twice.
 */

/** close() running `steps` one after another on the first call; every call answers the same promise. */
export function closeOnce(...steps: ReadonlyArray<() => unknown>): () => Promise<void> {
	let closing: Promise<void> | undefined;
	return () =>
		(closing ??= (async () => {
			for (const step of steps) await step();
		})());
}
