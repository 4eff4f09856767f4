/*
 * A console page's script bundled for the browser: the operator's view (console/page/main.ts)
 * and the owner's (console/page/owner/main.ts) are built the same way, in memory, at start.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const PAGE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'page');

/** `entry` (relative to console/page) and what it imports, as one ES module with an inline source map. */
export async function bundlePage(entry = 'main.ts'): Promise<string> {
	const out = await build({
		entryPoints: [path.join(PAGE, entry)],
		bundle: true,
		write: false,
		format: 'esm',
		platform: 'browser',
		target: 'es2022',
		sourcemap: 'inline',
		logLevel: 'silent',
	});
	const js = out.outputFiles[0];
	if (!js) throw new Error('esbuild produced no output for console/page/' + entry);
	return js.text;
}
