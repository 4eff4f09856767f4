/*
 * No RegExp is made in the body of a device module (firmware/, but the host platform): the
 * Moddable build preloads those modules, a RegExp made while they load lives in ROM without
 * match data, and XS 8.2.3 leaks and then corrupts memory at each exec of it (firmware/core/util/
 * pattern.ts says how). A module keeps a Pattern (`pattern(() => /.../)`) instead: its RegExp is
 * made when used. Literals and RegExp calls inside functions run at run time and are fine.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');

/** Where a module's body (outside every function) makes a RegExp: `line: text`. */
export function regExpsInModuleBody(fileName: string, source: string): string[] {
	const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
	const found: string[] = [];
	const visit = (n: ts.Node, inFunction: boolean): void => {
		const makes = n.kind === ts.SyntaxKind.RegularExpressionLiteral || ((ts.isNewExpression(n) || ts.isCallExpression(n)) && ts.isIdentifier(n.expression) && n.expression.text === 'RegExp');
		if (makes && !inFunction) found.push(sf.getLineAndCharacterOfPosition(n.getStart()).line + 1 + ': ' + n.getText().slice(0, 60));
		// a class's instance fields are made by its constructor, at run time; static ones when the module loads
		const runsLater = ts.isFunctionLike(n) || (ts.isPropertyDeclaration(n) && !n.modifiers?.some((m) => m.kind === ts.SyntaxKind.StaticKeyword));
		ts.forEachChild(n, (c) => visit(c, inFunction || runsLater));
	};
	visit(sf, false);
	return found;
}

function deviceModules(dir: string): string[] {
	const out: string[] = [];
	for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
		const rel = dir + '/' + e.name;
		if (e.isDirectory()) {
			if (!['test', 'testing', 'host', 'node_modules'].includes(e.name)) out.push(...deviceModules(rel));
		} else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
	}
	return out;
}

describe('device modules make no RegExp while they load (preloaded: XS 8.2.3 ROM RegExp exec)', () => {
	it('finds module-body literals and RegExp calls, not those inside functions, methods or instance fields', () => {
		const src = [
			'const A = /a/;', // 1
			"export const B = new RegExp('b');", // 2
			'const C = { d: RegExp("d") };', // 3
			'const E = pattern(() => /e/);',
			'function f() { return /f/.test("f"); }',
			'class G { h = /h/; static i = /i/; m() { return new RegExp("m"); } }', // 6: the static one
		].join('\n');
		assert.deepEqual(
			regExpsInModuleBody('x.ts', src).map((l) => l.split(':')[0]),
			['1', '2', '3', '6'],
		);
	});

	it('firmware/ (but the host platform and tests) keeps patterns, not RegExps, in module bodies', () => {
		const files = deviceModules('firmware');
		assert.ok(files.includes('firmware/core/ota/document.ts') && files.length > 100, 'the device modules were read: ' + files.length);
		const found = files.flatMap((f) => regExpsInModuleBody(f, readFileSync(join(ROOT, f), 'utf8')).map((l) => relative('.', f) + ':' + l));
		assert.deepEqual(found, [], 'make these with pattern(() => ...) from firmware/core/util/pattern.ts');
	});
});
