/* A markdown table for bench/results.md: a column whose first row is a number is right-aligned, numbers grouped. */
import { fmt } from './stats';

export type Table = (head: string[], rows: (string | number)[][]) => string;

export function table(head: string[], rows: (string | number)[][]): string {
	const right = rows[0]?.map((c) => typeof c === 'number') ?? head.map(() => false);
	const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
	return ['| ' + head.join(' | ') + ' |', '| ' + head.map((_, i) => (right[i] ? '---:' : '---')).join(' | ') + ' |', ...cells.map((r) => '| ' + r.join(' | ') + ' |')].join('\n');
}

/** Counts by name in one cell, `name count, ...` in the record's order, or `none`. */
export function countsCell(counts: Readonly<Record<string, number>>): string {
	const entries = Object.entries(counts);
	return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}
