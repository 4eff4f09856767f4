/*
 * Functions longer than a limit (issue #23: none over 150 lines outside tests), found with
 * the TypeScript compiler's parser: declarations, methods, constructors, accessors, function
 * expressions and arrow functions, each measured from its first line to its last.
 *
 *   npx tsx tools/check-function-size.ts [--max N] [dir ...]   default: 150, firmware cloud
 *
 * Prints one line per function over the limit (file:line name lines), longest first, and
 * exits 1 when there is any. Test files (*.test.ts), test folders and node_modules are left out.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export interface LongFunction {
	/** Relative to the repository root, with forward slashes. */
	readonly file: string;
	readonly line: number;
	readonly name: string;
	readonly lines: number;
}

export const DEFAULT_MAX = 150;
export const DEFAULT_DIRS = ['firmware', 'cloud'];
const ROOT = resolve(fileURLToPath(import.meta.url), '../..');

function isTestPath(rel: string): boolean {
	return rel.endsWith('.test.ts') || /(^|\/)(test|tests|testing|node_modules|fakes)(\/|$)/.test(rel);
}

function sourceFiles(dir: string): string[] {
	const out: string[] = [];
	for (const name of readdirSync(dir)) {
		const p = join(dir, name);
		if (name === 'node_modules' || name.startsWith('.')) continue;
		if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
		else if (/\.(ts|tsx)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
	}
	return out;
}

function nameOf(node: ts.Node, sf: ts.SourceFile): string {
	const named = node as { name?: ts.Node };
	if (named.name) return named.name.getText(sf);
	if (ts.isConstructorDeclaration(node)) return 'constructor';
	const parent = node.parent;
	if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))) return parent.name.getText(sf);
	if (parent && ts.isCallExpression(parent)) return '(callback of ' + parent.expression.getText(sf).slice(0, 40) + ')';
	return '(anonymous)';
}

/** The functions in one source text longer than `max` lines. */
export function longFunctions(file: string, text: string, max: number): LongFunction[] {
	const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
	const out: LongFunction[] = [];
	const visit = (node: ts.Node) => {
		if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
			const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
			const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
			const lines = last - first + 1;
			if (lines > max) out.push({ file, line: first + 1, name: nameOf(node, sf), lines });
		}
		ts.forEachChild(node, visit);
	};
	visit(sf);
	return out;
}

/** Every function over `max` lines in the non-test sources under `dirs` (relative to the repository). */
export function check(dirs: readonly string[] = DEFAULT_DIRS, max = DEFAULT_MAX): LongFunction[] {
	const out: LongFunction[] = [];
	for (const d of dirs) {
		for (const p of sourceFiles(resolve(ROOT, d))) {
			const rel = relative(ROOT, p).split('\\').join('/');
			if (isTestPath(rel)) continue;
			out.push(...longFunctions(rel, readFileSync(p, 'utf8'), max));
		}
	}
	return out.sort((a, b) => b.lines - a.lines);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const args = process.argv.slice(2);
	let max = DEFAULT_MAX;
	const i = args.indexOf('--max');
	if (i >= 0) {
		max = Number(args[i + 1]);
		if (!Number.isInteger(max) || max < 1) {
			console.error('--max: expected an integer >= 1, got ' + args[i + 1]);
			process.exit(2);
		}
		args.splice(i, 2);
	}
	const found = check(args.length ? args : DEFAULT_DIRS, max);
	for (const f of found) console.log(f.file + ':' + f.line + ' ' + f.name + ' ' + f.lines + ' lines');
	console.log(found.length + ' function(s) over ' + max + ' lines');
	process.exit(found.length ? 1 : 0);
}
