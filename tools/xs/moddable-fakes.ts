/*
 * esbuild plugin for the adapter tests (firmware/platform/moddable/test): inside
 * firmware/platform/moddable, an SDK module name ("securesocket", "timer", "mc/config",
 * "embedded:io/socket/tcp", ...) resolves to its fake in firmware/platform/moddable/test/fakes
 * (the name with ":" and "/" as "-"), and a native binding of ours (a name.js next to a name.c,
 * e.g. ./entropy) to the fake of the same base name. A module without a fake is a bundling error
 * naming the file to write, never the real SDK (CI has none). Code outside the Moddable
 * platform (the core, npm packages, the fakes themselves) resolves as usual.
 */
import { existsSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import type * as esbuild from 'esbuild';
import { ROOT } from './run';

const PLATFORM = resolve(ROOT, 'firmware/platform/moddable');
export const FAKES = join(PLATFORM, 'test/fakes');

export function moddableFakes(): esbuild.Plugin {
	return {
		name: 'moddable-fakes',
		setup(build) {
			build.onResolve({ filter: /.*/ }, (args) => {
				if (args.kind === 'entry-point' || !args.importer.startsWith(PLATFORM + sep) || args.importer.startsWith(FAKES + sep)) return undefined;
				let fake: string;
				if (args.path.startsWith('.')) {
					const p = resolve(args.resolveDir, args.path);
					if (!(existsSync(p + '.js') && existsSync(p + '.c'))) return undefined;
					fake = join(FAKES, basename(p) + '.ts');
				} else {
					fake = join(FAKES, args.path.replace(/[:/]/g, '-') + '.ts');
				}
				if (existsSync(fake)) return { path: fake };
				return { errors: [{ text: 'no fake of the SDK module "' + args.path + '" imported by ' + relative(ROOT, args.importer) + ': write ' + relative(ROOT, fake) }] };
			});
		},
	};
}
