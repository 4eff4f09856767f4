/*
 * Layers point one way. Reads every import of every TypeScript file in the tree and fails
 * on one that crosses a layer the wrong way:
 *
 * - firmware/core imports only firmware/core and firmware/ports.ts: a platform hands the
 *   ports in (README, "firmware/core imports only itself and firmware/ports.ts"). Its test
 *   helpers (core/testing) are core like the rest; only its tests (*.test.ts) may also plug
 *   in the portable port implementations (firmware/platform/portable, pure TS that runs on
 *   Node and in XS) and use @noble as an independent reference to check the core's own
 *   crypto against.
 * - firmware/platform/portable implements ports over @noble and the core, and nothing else.
 * - tools/ sits on top: the firmware, the cloud (the local stand-in included) and the console,
 *   their tests too, import nothing from tools/. What several layers share lives below them
 *   (the dev PKI in cloud/local/dev-pki.ts, firmware publishing in cloud/ota/publish.ts, the
 *   app's schedule shadow in console/shadow.ts, the contracts in firmware/core/contracts). Only
 *   the harnesses that drive tools (test/, hil-tests/, bench/) and tools/ itself import it.
 *
 * The same check by hand: every import of the core that leaves it (a sibling folder is
 * '../x', the ports '../../ports'); only *.test.ts files may be listed:
 *   grep -rnE "^\s*(import|export)\b.*from '|^\s*\} from '" firmware/core \
 *     | grep -vE "from '\./|from '\.\./[a-z]|from '\.\./\.\./ports'"
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SKIP_DIRS = new Set(['node_modules', 'build', '.git', '.aws-sam']);

/** Every .ts file under `dir` (repo-relative, forward slashes). */
function tsFiles(dir: string): string[] {
	const out: string[] = [];
	for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
		const rel = dir === '' ? e.name : dir + '/' + e.name;
		if (e.isDirectory()) {
			if (!SKIP_DIRS.has(e.name)) out.push(...tsFiles(rel));
		} else if (e.name.endsWith('.ts')) out.push(rel);
	}
	return out;
}

// `import ... from 'x'`, `export ... from 'x'`, `import 'x'`, `import('x')`; statements start a
// line, so an example in a comment (` * ... from 'x'`) is not read as an import
const STATIC = /^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/gm;
const BARE = /^[ \t]*import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The imports of one file: bare specifiers as written, relative ones as repo-relative paths without extension. */
export function importsOf(file: string, source: string): { specifier: string; target: string }[] {
	const out: { specifier: string; target: string }[] = [];
	for (const re of [STATIC, BARE, DYNAMIC]) {
		for (const m of source.matchAll(re)) {
			const specifier = m[1] as string;
			const target = specifier.startsWith('.')
				? relative(ROOT, join(ROOT, dirname(file), specifier))
						.split(sep)
						.join('/')
						.replace(/\.(ts|js|json)$/, '')
				: specifier;
			out.push({ specifier, target });
		}
	}
	return out;
}

const isTest = (f: string) => f.endsWith('.test.ts');
const under = (target: string, dir: string) => target === dir || target.startsWith(dir + '/');

/** Where a file of the core may import from. */
function coreAllows(file: string, target: string): boolean {
	if (under(target, 'firmware/core') || target === 'firmware/ports') return true;
	if (!isTest(file)) return false;
	return under(target, 'firmware/platform/portable') || target.startsWith('@noble/');
}

function portableAllows(target: string): boolean {
	return under(target, 'firmware/core') || target === 'firmware/ports' || under(target, 'firmware/platform/portable') || target.startsWith('@noble/');
}

function violations(files: string[], allows: (file: string, target: string) => boolean): string[] {
	const bad: string[] = [];
	for (const f of files) {
		for (const { specifier, target } of importsOf(f, readFileSync(join(ROOT, f), 'utf8'))) {
			if (!allows(f, target)) bad.push(f + ' imports ' + specifier);
		}
	}
	return bad;
}

describe('layers point one way (tools/check-layers.test.ts)', () => {
	const all = tsFiles('');

	it('reads imports: static, re-exports, side-effect and dynamic, not examples in comments', () => {
		const src = ["import { a } from './a';", 'import type {', '\tB,', "} from '../b';", "export * from './c.ts';", "import './d';", "const e = await import('./e');", " * import { x } from './not-an-import';"].join('\n');
		assert.deepEqual(
			importsOf('firmware/core/x/y.ts', src)
				.map((i) => i.target)
				.sort(),
			['firmware/core/b', 'firmware/core/x/a', 'firmware/core/x/c', 'firmware/core/x/d', 'firmware/core/x/e'],
		);
		assert.deepEqual(importsOf('firmware/core/x/y.ts', "import { gcm } from '@noble/ciphers/aes.js';")[0]?.target, '@noble/ciphers/aes.js');
	});

	it('the check would see a core file importing the simulator, a platform, a package or tools', () => {
		const f = 'firmware/core/x/y.ts';
		for (const t of ['firmware/sim/random', 'firmware/platform/portable/crypto', '@noble/hashes/sha2.js', 'tools/schedule', 'firmware/main']) {
			assert.equal(coreAllows(f, t), false, t);
		}
		assert.equal(coreAllows('firmware/core/x/y.test.ts', 'firmware/platform/portable/crypto'), true);
		assert.equal(coreAllows('firmware/core/x/y.test.ts', 'firmware/platform/host/crypto'), false);
		assert.equal(coreAllows('firmware/core/testing/fakes.ts', 'firmware/platform/portable/random'), false);
	});

	it('firmware/core imports only firmware/core and firmware/ports.ts (*.test.ts: also the portable ports and @noble)', () => {
		const core = all.filter((f) => f.startsWith('firmware/core/'));
		assert.ok(core.length > 50, 'found ' + core.length + ' files in firmware/core');
		assert.deepEqual(violations(core, coreAllows), []);
	});

	it('firmware/platform/portable imports only the core, firmware/ports.ts and @noble', () => {
		const portable = all.filter((f) => f.startsWith('firmware/platform/portable/'));
		assert.ok(portable.length >= 2, 'found ' + portable.length + ' files in firmware/platform/portable');
		assert.deepEqual(
			violations(portable, (_f, t) => portableAllows(t)),
			[],
		);
	});

	it('nothing below tools/ imports tools/ (the firmware, the cloud, the console, their tests)', () => {
		const below = all.filter((f) => ['firmware/', 'cloud/', 'console/'].some((d) => f.startsWith(d)));
		assert.ok(below.length > 200, 'found ' + below.length + ' files below tools/');
		assert.deepEqual(
			violations(below, (_f, t) => !under(t, 'tools')),
			[],
		);
	});
});
