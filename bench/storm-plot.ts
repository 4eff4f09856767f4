/*
 * Draws the reconnect storm figure (docs/storm.svg) from the `storm` section's results:
 * plain SVG written by hand, no plotting dependency. Three panels:
 *   1. 2,000,000 robots: CONNECT attempts per second against AWS IoT's account limit,
 *      the default backoff and the fleet spread (log scale);
 *   2. 1,000 robots on the local cloud: share connected since the broker stopped,
 *      measured and simulated;
 *   3. the same run: attempts per second, measured and simulated.
 */

export interface Line {
	readonly label: string;
	readonly color: string;
	readonly dashed?: boolean;
	/** [x, y] in data units. */
	readonly points: readonly (readonly [number, number])[];
}

export interface Panel {
	readonly title: string;
	readonly xLabel: string;
	readonly yLabel: string;
	readonly xMax: number;
	readonly yMax: number;
	/** Log10 y axis from 1 to yMax. */
	readonly logY?: boolean;
	readonly lines: readonly Line[];
}

const W = 420;
const H = 340;
const M = { left: 62, right: 14, top: 34, bottom: 92 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function ticks(max: number): number[] {
	const raw = max / 5;
	const mag = 10 ** Math.floor(Math.log10(raw));
	const stepSize = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
	const out: number[] = [];
	for (let v = 0; v <= max + 1e-9; v += stepSize) out.push(Math.round(v * 1e6) / 1e6);
	return out;
}

function panelSvg(p: Panel, dx: number): string {
	const pw = W - M.left - M.right;
	const ph = H - M.top - M.bottom;
	const x = (v: number) => dx + M.left + (Math.min(v, p.xMax) / p.xMax) * pw;
	const y = (v: number) => {
		if (p.logY) {
			const l = Math.log10(Math.max(v, 1)) / Math.log10(p.yMax);
			return M.top + ph - Math.min(l, 1) * ph;
		}
		return M.top + ph - (Math.min(v, p.yMax) / p.yMax) * ph;
	};
	const out: string[] = [];
	out.push(`<text x="${dx + W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
	out.push(`<rect x="${dx + M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
	for (const t of ticks(p.xMax)) out.push(`<text x="${x(t)}" y="${M.top + ph + 14}" text-anchor="middle">${t}</text>`);
	const yTicks = p.logY ? Array.from({ length: Math.round(Math.log10(p.yMax)) + 1 }, (_, i) => 10 ** i) : ticks(p.yMax);
	for (const t of yTicks) {
		out.push(`<line x1="${dx + M.left}" x2="${dx + M.left + pw}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/>`);
		out.push(`<text x="${dx + M.left - 4}" y="${y(t) + 4}" text-anchor="end">${t.toLocaleString('en-US')}</text>`);
	}
	out.push(`<text x="${dx + M.left + pw / 2}" y="${M.top + ph + 30}" text-anchor="middle">${esc(p.xLabel)}</text>`);
	out.push(`<text transform="translate(${dx + 14},${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`);
	p.lines.forEach((l, i) => {
		const d = l.points.map(([a, b], j) => `${j ? 'L' : 'M'}${x(a).toFixed(1)},${y(b).toFixed(1)}`).join('');
		out.push(`<path d="${d}" fill="none" stroke="${l.color}" stroke-width="1.6"${l.dashed ? ' stroke-dasharray="6,4"' : ''}/>`);
		const ly = M.top + ph + 46 + i * 14;
		out.push(`<line x1="${dx + M.left}" x2="${dx + M.left + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6,4"' : ''}/>`);
		out.push(`<text x="${dx + M.left + 28}" y="${ly}">${esc(l.label)}</text>`);
	});
	return out.join('\n');
}

export function stormSvg(panels: readonly Panel[]): string {
	const width = W * panels.length;
	return [
		`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" font-family="sans-serif" font-size="11">`,
		`<rect width="${width}" height="${H}" fill="white"/>`,
		...panels.map((p, i) => panelSvg(p, i * W)),
		'</svg>',
		'',
	].join('\n');
}

/** Per-second counts averaged over bins of `bin` seconds: [bin start in minutes or seconds, mean per second]. */
export function binned(perSecond: readonly number[], bin: number, xScale = 1, from = 0): [number, number][] {
	const out: [number, number][] = [];
	for (let s = from; s < perSecond.length; s += bin) {
		let sum = 0;
		for (let k = s; k < Math.min(s + bin, perSecond.length); k++) sum += perSecond[k]!;
		out.push([(s - from) * xScale, sum / bin]);
	}
	return out;
}
