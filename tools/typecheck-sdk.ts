/*
 * Type-check the device build (the files of tsconfig.device.json) against the Moddable SDK's
 * own typings, where MODDABLE names an SDK: the project's declarations of the SDK modules
 * (firmware/platform/moddable/types) are what `npm run typecheck` uses without an SDK, and
 * this proves the same code also checks against $MODDABLE/typings, as mcconfig maps them.
 *
 *   npx tsx tools/typecheck-sdk.ts            without MODDABLE: one loud line, exit 0
 *
 * The tsconfig is generated into build/typecheck-sdk/: it extends tsconfig.device.json, drops
 * the project's declarations of modules the SDK types, and maps module names to the SDK's
 * typings with the SDK's own table ($MODDABLE/examples/manifest_typings.json, the one mcconfig
 * builds its `paths` from) plus the `types` our manifest gives mcconfig (xs, global). The SDK's
 * .d.ts files are not ours to fix: skipLibCheck is on for them (8.2.3's serial.d.ts has a typo
 * that strict mode reports). Modules the SDK's typings leave out keep our declarations
 * (firmware/platform/moddable/moddable-crypto.d.ts, firmware-modules.d.ts), as in mcconfig's build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The SDK's module-name table for its typings, as tsconfig `paths` with absolute targets. */
export function sdkPaths(moddable: string): Record<string, string[]> {
	const manifest = JSON.parse(readFileSync(join(moddable, 'examples/manifest_typings.json'), 'utf8')) as { modules: Record<string, string | string[]> };
	const typings = join(moddable, 'typings');
	const paths: Record<string, string[]> = {};
	for (const [name, targets] of Object.entries(manifest.modules)) {
		paths[name] = (Array.isArray(targets) ? targets : [targets]).map((t) => t.replace('$(TYPINGS)', typings));
	}
	return paths;
}

export function sdkTsconfig(moddable: string): object {
	const device = JSON.parse(readFileSync(join(root, 'tsconfig.device.json'), 'utf8')) as { include: string[]; exclude?: string[] };
	return {
		extends: join(root, 'tsconfig.device.json'),
		compilerOptions: {
			types: [join(moddable, 'xs/includes/xs'), join(moddable, 'typings/global')],
			paths: sdkPaths(moddable),
			skipLibCheck: true,
		},
		files: [],
		include: device.include.map((p) => join(root, p)),
		exclude: [join(root, 'firmware/platform/moddable/types'), ...(device.exclude ?? []).map((p) => join(root, p))],
	};
}

/**
 * Ambient `declare module` blocks among the checked files for modules the SDK's typings declare
 * too: such a block would hide the SDK's typings from this check (an ambient declaration wins
 * over `paths`), so it belongs in firmware/platform/moddable/types. `crypt` in
 * moddable-crypto.d.ts is meant to add to the SDK's (its ciphers; both declare the module, they merge).
 */
export function hidingDeclarations(moddable: string): string[] {
	const sdk = new Set<string>();
	const walk = (dir: string, out: (f: string) => void) => {
		for (const e of readdirSync(dir, { withFileTypes: true })) {
			if (e.isDirectory()) walk(join(dir, e.name), out);
			else if (e.name.endsWith('.d.ts')) out(join(dir, e.name));
		}
	};
	const declared = (text: string) => [...text.matchAll(/declare module ["']([^"']+)["']/g)].map((m) => m[1]!);
	walk(join(moddable, 'typings'), (f) => declared(readFileSync(f, 'utf8')).forEach((m) => sdk.add(m)));
	const found: string[] = [];
	walk(join(root, 'firmware/platform/moddable'), (f) => {
		if (f.startsWith(join(root, 'firmware/platform/moddable/types') + '/') || f.startsWith(join(root, 'firmware/platform/moddable/test') + '/')) return;
		for (const m of declared(readFileSync(f, 'utf8'))) {
			if (sdk.has(m) && !(m === 'crypt' && f.endsWith('moddable-crypto.d.ts'))) found.push(f.slice(root.length + 1) + ' declares "' + m + '"');
		}
	});
	return found;
}

function main(): number {
	const moddable = process.env['MODDABLE'];
	if (!moddable) {
		console.log("\n*** SDK TYPINGS CHECK NOT RUN: MODDABLE is not set: the device build was type-checked against the project's own declarations only (tsconfig.device.json) ***\n");
		return 0;
	}
	for (const need of ['typings/timer.d.ts', 'xs/includes/xs.d.ts', 'examples/manifest_typings.json']) {
		if (!existsSync(join(moddable, need))) {
			console.error('typecheck-sdk: MODDABLE=' + moddable + ' has no ' + need + ': not a Moddable SDK install');
			return 1;
		}
	}
	const hiding = hidingDeclarations(moddable);
	if (hiding.length) {
		console.error('typecheck-sdk: ' + hiding.join('; ') + ': the SDK types these modules, so this hides its typings from the check; declare them in firmware/platform/moddable/types/sdk-modules.d.ts');
		return 1;
	}
	const dir = join(root, 'build/typecheck-sdk');
	mkdirSync(dir, { recursive: true });
	const config = join(dir, 'tsconfig.json');
	writeFileSync(config, JSON.stringify(sdkTsconfig(moddable), null, '\t') + '\n');
	console.log('typecheck-sdk: the device build against ' + join(moddable, 'typings') + ' (' + config + ')');
	const r = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', config], { stdio: 'inherit' });
	if (r.error) {
		console.error('typecheck-sdk: cannot run tsc: ' + r.error.message);
		return 1;
	}
	return r.status ?? 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main();
