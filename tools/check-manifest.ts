/*
 * `npm run check:manifest`: every module `firmware/main.ts` reaches must be in the
 * image on every platform the manifest builds for. mcconfig compiles what the
 * manifest lists and XS resolves imports at run time, so a module missing from
 * the manifest builds fine and fails only on the device, when it is imported.
 *
 * Checks, for each platform section (esp32, lin):
 * - every relative import reached from firmware/main.ts is listed in `modules`
 *   under its repository path (the name XS resolves it by), and in `preload`
 *   unless the manifest says why not;
 * - every Moddable module imported by name comes from a manifest the build includes.
 * A platform section may map a reached module to another file with the same exports (the
 * firmware slots: files on lin, the SDK's `ota` on esp32); that file's imports are checked
 * for that platform too. A `*` mapping covers a folder's files, not its subfolders (as in
 * mcconfig).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Moddable modules imported by name, and the manifest (or platform) that provides each. */
const PROVIDERS: Record<string, { include?: string; platforms?: readonly string[] }> = {
	securesocket: { include: 'modules/crypt/tls.json' },
	crypt: { include: 'modules/crypt/tls.json' },
	ecdsa: { include: 'modules/crypt/tls.json' },
	x509: { include: 'modules/crypt/tls.json' },
	hmac: { include: 'modules/crypt/tls.json' },
	modular: { include: 'modules/crypt/tls.json' },
	mont: { include: 'modules/crypt/tls.json' },
	// the station interface our own network start uses (firmware/platform/moddable/network/network-esp32.ts)
	wifi: { include: 'examples/manifest_net.json', platforms: ['esp32'] },
	preference: { include: 'modules/files/preference/manifest.json' },
	timer: { include: 'examples/manifest_base.json' },
	time: { include: 'examples/manifest_base.json' },
	'mc/config': {},
	Resource: { include: 'examples/manifest_base.json' },
	sntp: { include: 'examples/manifest_net.json' },
	net: { include: 'examples/manifest_net.json' },
	// the health figures (firmware/platform/moddable/health.ts): the JS module; manifest_base.json carries only its C side
	instrumentation: { include: 'modules/base/instrumentation/manifest.json' },
	http: { include: 'modules/network/http/manifest.json' },
	file: { include: 'modules/files/file/manifest.json' },
	flash: { include: 'modules/files/flash/manifest.json', platforms: ['esp32'] },
	ota: { include: 'devices/esp32/modules/ota/manifest.json', platforms: ['esp32'] },
	// ECMA-419: the test-control transports (firmware/platform/moddable/testcmd)
	'embedded:io/serial': { include: 'modules/io/serial/manifest.json' },
	'embedded:io/socket/tcp': { platforms: ['lin'] },
	'embedded:io/socket/listener': { platforms: ['lin'] },
};

interface Manifest {
	include?: string[];
	modules?: Record<string, string>;
	preload?: string[];
	platforms?: Record<string, Manifest>;
	[k: string]: unknown;
}

/**
 * The repository modules (paths without .ts) and the bare (Moddable) module names `entry` reaches.
 * Modules named in `replaced` (a platform maps them to its own file) are listed but not followed:
 * their default file's imports are not that platform's.
 */
async function reach(entry: string, replaced: ReadonlySet<string> = new Set()): Promise<{ modules: string[]; bare: Set<string> }> {
	const bare = new Set<string>();
	const skipped = new Set<string>();
	const result = await esbuild.build({
		entryPoints: [entry],
		bundle: true,
		write: false,
		metafile: true,
		format: 'esm',
		platform: 'neutral',
		logLevel: 'silent',
		plugins: [
			{
				name: 'moddable-modules',
				setup(b) {
					b.onResolve({ filter: /^[^./]/ }, (args) => {
						bare.add(args.path);
						return { path: args.path, external: true };
					});
					b.onResolve({ filter: /^\./ }, (args) => {
						const name = path.relative(root, path.resolve(args.resolveDir, args.path)).replace(/\.(ts|js)$/, '');
						if (!replaced.has(name)) return undefined;
						skipped.add(name);
						return { path: args.path, external: true };
					});
					// a module of native host functions (`function f() @ "xs_f"`) imports nothing: a leaf, its
					// exports kept (bodies stand in for the host functions) so importers still resolve them
					b.onLoad({ filter: /\.js$/ }, (args) => {
						const text = fs.readFileSync(args.path, 'utf8');
						return /\)\s*@\s*"/.test(text) ? { contents: text.replace(/\)\s*@\s*"[^"]*"\s*;/g, ') {}'), loader: 'js' } : undefined;
					});
				},
			},
		],
	});
	const modules = Object.keys(result.metafile!.inputs)
		.map((f) => path.relative(root, path.resolve(root, f)).replace(/\.(ts|js)$/, ''))
		.filter((f) => !f.startsWith('node_modules'));
	return { modules: [...modules, ...[...skipped].filter((m) => !modules.includes(m))], bare };
}

export async function checkManifest(manifestPath = path.join(root, 'manifest.json'), entry = path.join(root, 'firmware/main.ts')): Promise<string[]> {
	const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Manifest;
	const problems: string[] = [];
	for (const [platform, section] of Object.entries(manifest.platforms ?? {})) {
		const replaced = new Set(
			Object.entries(section.modules ?? {})
				.filter(([k, v]) => v !== './' + k)
				.map(([k]) => k),
		);
		const main = await reach(entry, replaced);
		const reached = [...main.modules];
		const bare = new Set(main.bare);
		// a platform's own file under a reached module's name: its imports are this platform's too
		for (const m of main.modules) {
			const own = section.modules?.[m];
			if (typeof own !== 'string' || own === './' + m) continue;
			const file = own.replace(/^\.\//, '');
			const sub = await reach(path.join(root, file + '.ts'));
			for (const x of sub.modules) if (x !== file && !reached.includes(x)) reached.push(x);
			for (const b of sub.bare) bare.add(b);
		}
		const modules = { ...manifest.modules, ...section.modules };
		const preload = new Set([...(manifest.preload ?? []), ...(section.preload ?? [])]);
		// a module may stay out of preload when the manifest's "//preload" note names it and says why
		const why = String(manifest['//preload'] ?? '');
		const mapped = (m: string) =>
			modules[m] === './' + m ||
			(typeof section.modules?.[m] === 'string' && main.modules.includes(m)) ||
			Object.entries(modules).some(([k, v]) => k.endsWith('*') && typeof v === 'string' && v.endsWith('*') && m.startsWith(k.slice(0, -1)) && !m.slice(k.length - 1).includes('/') && v.slice(0, -1) === './' + k.slice(0, -1));
		const preloaded = (m: string) => preload.has(m) || [...preload].some((p) => p.endsWith('*') && m.startsWith(p.slice(0, -1)));
		const includes = [...(manifest.include ?? []), ...(section.include ?? [])];
		for (const m of reached) {
			if (!mapped(m)) problems.push(`${platform}: ${m}.ts is imported (from firmware/main.ts) but "modules" does not map "${m}" to "./${m}"`);
			else if (m !== 'firmware/main' && !preloaded(m) && !why.includes(path.basename(m) + '.ts')) problems.push(`${platform}: ${m} is not in "preload" and "//preload" does not say why`);
		}
		for (const b of bare) {
			const p = PROVIDERS[b];
			if (!p) problems.push(`${platform}: "${b}" is imported but this check does not know which Moddable manifest provides it`);
			else if (p.platforms && !p.platforms.includes(platform) && !b.startsWith('mc/')) problems.push(`${platform}: "${b}" does not exist on ${platform}`);
			else if (p.include && !includes.some((i) => i.endsWith(p.include!))) problems.push(`${platform}: "${b}" needs ${p.include} in "include"`);
		}
	}
	return problems;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
	const problems = await checkManifest();
	if (problems.length) {
		for (const p of problems) console.log('manifest: ' + p);
		process.exit(1);
	}
	console.log('manifest: every module firmware/main.ts reaches is in the esp32 and lin images');
}
