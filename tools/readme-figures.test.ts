/*
 * README's benchmark and device-budget tables are what tools/readme-figures.ts makes from the
 * committed bench/results.json: a figure typed into README by hand, or results committed without
 * regenerating README, fail here. Fix: `npx tsx tools/readme-figures.ts`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchTable, readResults, renderReadme, type ResultsFile } from './readme-figures';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

describe('README figures come from bench/results.json', () => {
	it('README.md tables equal what tools/readme-figures.ts makes from the committed results', () => {
		const readme = readFileSync(ROOT + 'README.md', 'utf8');
		const made = renderReadme(readme, readResults());
		if (made !== readme) {
			const a = readme.split('\n');
			const b = made.split('\n');
			const i = a.findIndex((l, n) => l !== b[n]);
			assert.fail(`README.md line ${i + 1} is not what bench/results.json makes (run: npx tsx tools/readme-figures.ts)\n  README: ${a[i]}\n  made:   ${b[i]}`);
		}
	});

	it('every bench section in the results carries its date, load average and git revision', () => {
		const r = readResults();
		for (const name of Object.keys(r.sections)) {
			const m = r.meta[name];
			assert.ok(m, name + ' has no meta');
			assert.ok(!Number.isNaN(Date.parse(m.date)), name + ' date');
			assert.equal(typeof m.load.start, 'number', name + ' load');
			assert.match(m.gitRevision, /^[0-9a-f]{7,}$/, name + ' git revision');
		}
	});

	it('verdicts follow the numbers: a heap that grows is said to grow', () => {
		const r = readResults();
		const xs = r.sections['codec.xs'] as { rows: Record<string, unknown>[] } | undefined;
		if (!xs) return assert.fail('the committed results have no codec.xs section');
		const grown: ResultsFile = { ...r, sections: { ...r.sections, 'codec.xs': { ...xs, rows: xs.rows.map((row) => ({ ...row, retainedSlotsAfterGc: 12 })) } } };
		assert.match(benchTable(grown), /the heap GROWS with traffic \(12 live slots left after gc\(\)\)/);
		assert.doesNotMatch(benchTable(grown), /does not grow with traffic/);
	});
});
