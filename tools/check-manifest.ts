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
	'ssl/cache': { include: 'modules/crypt/tls.json' },
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
	// Modules.importNow: platform/moddable/start.ts loads the test build's kit by name
	modules: { include: 'modules/base/modules/manifest.json' },
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
async function reach(entry: string, replaced: ReadonlySet<string> = new Set(), dynamic?: Set<string>): Promise<{ modules: string[]; bare: Set<string> }> {
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
						// import(): a test build's module (dynamic given), not followed into this image
						if (dynamic && args.kind === 'dynamic-import') {
							dynamic.add(name);
							return { path: args.path, external: true };
						}
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

/** The test build's entry into test control, loaded by name (platform/moddable/start.ts TEST_KIT). */
const TEST_KIT = 'firmware/platform/moddable/testcmd/kit';

/** A platform's view of a manifest: its modules, preloads and includes with the section's over the top level's. */
function platformView(manifest: Manifest, platform: string) {
	const section = manifest.platforms?.[platform] ?? {};
	return {
		section,
		modules: { ...manifest.modules, ...section.modules } as Record<string, unknown>,
		preload: [...(manifest.preload ?? []), ...(section.preload ?? [])],
		includes: [...(manifest.include ?? []), ...(section.include ?? [])],
		/** Modules the section maps to a file of another name: its own implementation. */
		replaced: new Set(
			Object.entries(section.modules ?? {})
				.filter(([k, v]) => v !== './' + k)
				.map(([k]) => k),
		),
	};
}

/** What `entry` reaches on a platform, following the section's own files under a reached module's name. */
async function reachOn(entry: string, section: Manifest, replaced: ReadonlySet<string>, dynamic?: Set<string>): Promise<{ modules: string[]; own: string[]; bare: Set<string> }> {
	const main = await reach(entry, replaced, dynamic);
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
	return { modules: reached, own: main.modules, bare };
}

/** Problems of `reached` (from `from`) against one platform view: unmapped, not preloaded without a reason, bare names without their manifest. */
function checkReached(platform: string, from: string, reached: { modules: string[]; own: string[]; bare: Set<string> }, v: ReturnType<typeof platformView>, why: string): string[] {
	const problems: string[] = [];
	const { modules, section } = v;
	const preload = new Set(v.preload);
	const mapped = (m: string) =>
		modules[m] === './' + m ||
		(typeof section.modules?.[m] === 'string' && reached.own.includes(m)) ||
		Object.entries(modules).some(([k, val]) => k.endsWith('*') && typeof val === 'string' && val.endsWith('*') && m.startsWith(k.slice(0, -1)) && !m.slice(k.length - 1).includes('/') && val.slice(0, -1) === './' + k.slice(0, -1));
	const preloaded = (m: string) => preload.has(m) || [...preload].some((p) => p.endsWith('*') && m.startsWith(p.slice(0, -1)));
	for (const m of reached.modules) {
		if (!mapped(m)) problems.push(`${platform}: ${m}.ts is imported (from ${from}) but "modules" does not map "${m}" to "./${m}"`);
		else if (m !== 'firmware/main' && !preloaded(m) && !why.includes(path.basename(m) + '.ts')) problems.push(`${platform}: ${m} is not in "preload" and "//preload" does not say why`);
	}
	for (const b of reached.bare) {
		const p = PROVIDERS[b];
		if (!p) problems.push(`${platform}: "${b}" is imported but this check does not know which Moddable manifest provides it`);
		else if (p.platforms && !p.platforms.includes(platform) && !b.startsWith('mc/')) problems.push(`${platform}: "${b}" does not exist on ${platform}`);
		else if (p.include && !v.includes.some((i) => i.endsWith(p.include!))) problems.push(`${platform}: "${b}" needs ${p.include} in "include"`);
	}
	return problems;
}

/**
 * The product image (`manifestPath`, from `entry`) and, for what `entry` loads with import() (test
 * control: platform/moddable/start.ts), the test build's image (`testManifestPath` included beside
 * it): every module reached is mapped and preloaded in its image, and what only import() reaches
 * is not in the product's manifest.
 */
export async function checkManifest(manifestPath = path.join(root, 'manifest.json'), entry = path.join(root, 'firmware/main.ts'), testManifestPath = path.join(root, 'manifest.testcmd.json')): Promise<string[]> {
	const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Manifest;
	const test = fs.existsSync(testManifestPath) ? (JSON.parse(fs.readFileSync(testManifestPath, 'utf8')) as Manifest) : undefined;
	// a module may stay out of preload when the manifest's "//preload" note names it and says why
	const why = String(manifest['//preload'] ?? '');
	const problems: string[] = [];
	for (const platform of Object.keys(manifest.platforms ?? {})) {
		const v = platformView(manifest, platform);
		// what a test build adds: modules loaded with import(), and the kit start.ts loads by name (Modules.importNow)
		const dynamic = new Set<string>(test ? [TEST_KIT] : []);
		const main = await reachOn(entry, v.section, v.replaced, dynamic);
		problems.push(...checkReached(platform, 'firmware/main.ts', main, v, why));
		if (dynamic.size === 0) continue;
		if (!test) {
			problems.push(`${platform}: ${[...dynamic].join(', ')} loaded with import() but there is no ${path.basename(testManifestPath)} to map it`);
			continue;
		}
		// the test build: the product's manifest with the test manifest included beside it
		const t = platformView(test, platform);
		const both = {
			...v,
			section: { ...v.section, modules: { ...v.section.modules, ...t.section.modules } },
			modules: { ...v.modules, ...t.modules },
			preload: [...v.preload, ...t.preload],
			includes: [...v.includes, ...t.includes],
			replaced: new Set([...v.replaced, ...t.replaced]),
		};
		for (const d of dynamic) {
			const sub = await reachOn(path.join(root, d + '.ts'), both.section, both.replaced);
			problems.push(...checkReached(platform, d + '.ts (a test build)', sub, both, why));
			for (const m of sub.modules) if (!main.modules.includes(m) && m in v.modules) problems.push(`${platform}: ${m} is reached only by a test build, yet the product's manifest maps it`);
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
