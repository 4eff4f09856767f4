/*
 * Bench section `storm`: a fleet that loses its broker at once and comes back.
 *
 * 1. Model at 2,000,000 robots (bench/storm-model.ts: the firmware's own link machine
 *    and backoff on a simulated clock, the broker a model with AWS IoT's default account
 *    limit of 500 CONNECT/s), broker down 60 s: the default backoff and the fleet spread.
 * 2. Measured at 1,000 robots against the local cloud (bench/storm-live.ts: broker
 *    stopped, kept down, restarted), and the model run with the same size, policy and
 *    outage, calibrated from the same run: the robots' connections are lost when the
 *    broker closes them (the median loss is the model's t = 0) and the local cloud completes
 *    handshakes at the rate it did for the initial connect of the same robots (it has no
 *    account limit, but one process on a shared machine is a bound): the two curves and how
 *    far apart they are (largest gap between the shares connected since the broker's return,
 *    the Kolmogorov-Smirnov distance).
 * The figure docs/storm.svg is drawn from these results (bench/storm-plot.ts).
 *
 *   npx tsx bench/storm.ts [--robots N] [--outage-s S] [--model-only] [--reuse-model build/storm-results.json]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_BACKOFF, spreadWindowMs, type BackoffPolicy } from '../firmware/core/link/backoff';
import { DEFAULT_TIMING } from '../firmware/core/link/machine';

const DEFAULT_MIN_CONNECTED_S = DEFAULT_TIMING.minConnectedMs / 1000;
import { simulateStorm, type StormResult } from './storm-model';
import { benchStormLive, type LiveStormResult } from './storm-live';
import { binned, stormSvg, type Panel } from './storm-plot';
import { benchTakeover, type TakeoverResult } from './takeover';
import { fmt, round } from './stats';
import { benchSection } from './section';
import { countsCell } from './table';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

/** AWS IoT Core's default "Connect requests per second per account" (adjustable; docs.aws.amazon.com/general/latest/gr/iot-core.html). */
export const AWS_CONNECTS_PER_S = 500;
export const FLEET = 2_000_000;
const MODEL_OUTAGE_MS = 60_000;

export function fleetSpreadPolicy(robots: number, limit: number): BackoffPolicy {
	return { ...DEFAULT_BACKOFF, spread: { windowMs: spreadWindowMs(robots, limit), afterAttempts: 3 } };
}

type Summary = Omit<StormResult, 'series'> & { policy: BackoffPolicy; attemptsPerS10: [number, number][]; connectsPerS10: [number, number][] };

function summary(r: StormResult, policy: BackoffPolicy): Summary {
	const { series, ...rest } = r;
	const from = Math.floor(r.outageMs / 1000);
	return { ...rest, policy, attemptsPerS10: binned(series.attempts, 10, 1 / 60, from), connectsPerS10: binned(series.connects, 10, 1 / 60, from) };
}

export interface StormBench {
	readonly model: { readonly robots: number; readonly outageMs: number; readonly limitPerS: number; readonly defaultPolicy: Summary; readonly spread: Summary };
	readonly live?: LiveStormResult & { readonly modelled: Omit<StormResult, 'series'>; readonly agreement: Agreement };
	/** Two robots of one identity for 30 s (bench/takeover.ts). */
	readonly takeover?: TakeoverResult;
}

export interface Agreement {
	/** Largest gap between the measured and modelled shares connected at the same instant (0..1). */
	readonly ksDistance: number;
	/** The calibration from the run: median time the robots saw their connection closed (ms after the stop), handshakes/s of the initial connect. */
	readonly lossMedianMs: number;
	readonly capacityPerS: number;
	readonly measured: { toHalfMs: number; to99Ms: number; toAllMs: number; attemptsAfterReturn: number; attemptsWhileDown: number };
	readonly modelled: { toHalfMs: number; to99Ms: number; toAllMs: number; attemptsAfterReturn: number; attemptsWhileDown: number };
}

/** Connect times (ms since the stop) the model gives, one per robot, from its per-second series. */
function cdfGap(a: readonly number[], b: readonly number[]): number {
	const xs = [...a, ...b].sort((p, q) => p - q);
	let i = 0;
	let j = 0;
	let gap = 0;
	for (const x of xs) {
		while (i < a.length && a[i]! <= x) i++;
		while (j < b.length && b[j]! <= x) j++;
		gap = Math.max(gap, Math.abs(i / a.length - j / b.length));
	}
	return gap;
}

function pick(sorted: readonly number[], q: number): number {
	return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** `reuseModel`: the 2,000,000-robot model from an earlier run (its results JSON), when only the measurement is wanted again. */
export async function benchStorm(o: { robots?: number; outageS?: number; modelOnly?: boolean; reuseModel?: StormBench['model']; progress?: (m: string) => void } = {}): Promise<StormBench> {
	const progress = o.progress ?? (() => {});
	const horizonMs = 4 * 3_600_000;
	let model = o.reuseModel;
	if (!model) {
		progress(`model: ${fmt(FLEET)} robots, default backoff (a minute on a quiet machine)`);
		const base = { robots: FLEET, outageMs: MODEL_OUTAGE_MS, limitPerS: AWS_CONNECTS_PER_S, horizonMs };
		const defaultPolicy = summary(simulateStorm({ ...base, policy: DEFAULT_BACKOFF }), DEFAULT_BACKOFF);
		progress(`model: ${fmt(FLEET)} robots, fleet spread`);
		const spreadPolicy = fleetSpreadPolicy(FLEET, AWS_CONNECTS_PER_S);
		const spread = summary(simulateStorm({ ...base, policy: spreadPolicy }), spreadPolicy);
		model = { robots: FLEET, outageMs: MODEL_OUTAGE_MS, limitPerS: AWS_CONNECTS_PER_S, defaultPolicy, spread };
	}
	const out: { model: StormBench['model']; live?: StormBench['live']; takeover?: TakeoverResult } = { model };
	if (!o.modelOnly) {
		progress('two robots of one identity, 30 s with the firmware link, 30 s resetting on every CONNACK');
		out.takeover = await benchTakeover(path.join(root, 'build', 'bench-takeover'));
	}

	if (!o.modelOnly) {
		const robots = o.robots ?? 1000;
		const live = await benchStormLive({ robots, outageMs: (o.outageS ?? 30) * 1000, progress });
		// the model of this run: same size and policy; t = 0 at the median loss; down until the broker was back;
		// the local cloud completing handshakes at the rate it managed for these robots' initial connect
		const lossAt = live.losses.length ? pick(live.losses, 0.5) : 0;
		const capacityPerS = Math.max(1, Math.round((robots * 1000) / live.initialConnectMs));
		const outageMs = Math.max(0, live.restartAtMs - lossAt);
		const modelledRun = simulateStorm({
			robots,
			policy: live.policy,
			outageMs,
			limitPerS: Infinity,
			capacityPerS,
			refusedMs: 2,
			handshakeMs: 30,
			horizonMs: outageMs + 900_000,
			seed: 7,
		});
		const modelConnects: number[] = [];
		modelledRun.series.connects.forEach((c, s) => {
			for (let k = 0; k < c; k++) modelConnects.push(lossAt + s * 1000 + ((k + 0.5) / c) * 1000);
		});
		const after = (xs: readonly number[]) => xs.map((t) => t - live.restartAtMs);
		const measuredAfter = after(live.connects);
		const modelAfter = after(modelConnects);
		const { series, ...modelled } = modelledRun;
		const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
		const agreement: Agreement = {
			ksDistance: round(cdfGap(measuredAfter, modelAfter), 3),
			lossMedianMs: Math.round(lossAt),
			capacityPerS,
			measured: {
				toHalfMs: pick(measuredAfter, 0.5),
				to99Ms: pick(measuredAfter, 0.99),
				toAllMs: measuredAfter[measuredAfter.length - 1]!,
				attemptsAfterReturn: live.attempts.filter((t) => t >= live.restartAtMs).length,
				attemptsWhileDown: live.attempts.filter((t) => t < live.restartAtMs).length,
			},
			modelled: {
				toHalfMs: pick(modelAfter, 0.5),
				to99Ms: pick(modelAfter, 0.99),
				toAllMs: modelAfter[modelAfter.length - 1]!,
				attemptsAfterReturn: modelledRun.attemptsTotal,
				attemptsWhileDown: sum(series.refused),
			},
		};
		out.live = { ...live, modelled, agreement };
		fs.writeFileSync(path.join(root, 'docs', 'storm.svg'), stormSvg(panels(out, series, lossAt)));
	} else {
		fs.writeFileSync(path.join(root, 'docs', 'storm.svg'), stormSvg(panels(out)));
	}
	return out;
}

function panels(r: { model: StormBench['model']; live?: StormBench['live'] }, modelSeries?: StormResult['series'], offsetMs = 0): Panel[] {
	const m = r.model;
	const minutes = Math.ceil(Math.max(m.defaultPolicy.to99Ms ?? 0, m.spread.to99Ms ?? 0) / 60_000 / 10) * 10 + 10;
	const limitLine: [number, number][] = [
		[0, m.limitPerS],
		[minutes, m.limitPerS],
	];
	const out: Panel[] = [
		{
			title: `${fmt(m.robots)} robots, broker back after ${m.outageMs / 1000} s (model)`,
			xLabel: 'minutes since the broker is back',
			yLabel: 'CONNECT attempts per second (log)',
			xMax: minutes,
			yMax: 100_000,
			logY: true,
			lines: [
				{
					label: `default backoff (1-120 s): peak ${fmt(m.defaultPolicy.peakAttemptsPerS)}/s, 99% at ${round((m.defaultPolicy.to99Ms ?? NaN) / 60_000)} min`,
					color: '#c0392b',
					points: m.defaultPolicy.attemptsPerS10,
				},
				{
					label: `fleet spread (${fmt((m.spread.policy.spread?.windowMs ?? 0) / 1000)} s): peak ${fmt(m.spread.peakAttemptsPerS)}/s, 99% at ${round((m.spread.to99Ms ?? NaN) / 60_000)} min`,
					color: '#2471a3',
					points: m.spread.attemptsPerS10,
				},
				{ label: `AWS IoT account limit, ${m.limitPerS} connects/s (default)`, color: '#000', dashed: true, points: limitLine },
			],
		},
	];
	const l = r.live;
	if (l && modelSeries) {
		const xMax = Math.ceil((l.agreement.measured.toAllMs + l.restartAtMs) / 10_000) * 10 + 10;
		const share = (xs: readonly number[]): [number, number][] => xs.map((t, i) => [t / 1000, (100 * (i + 1)) / xs.length]);
		const modelConnects: number[] = [];
		modelSeries.connects.forEach((c, s) => {
			for (let k = 0; k < c; k++) modelConnects.push(offsetMs + s * 1000 + 500);
		});
		const perSecond = (xs: readonly number[]) => {
			const a = new Array<number>(xMax).fill(0);
			for (const t of xs) if (t / 1000 < xMax) a[Math.floor(t / 1000)]!++;
			return a;
		};
		const measuredAttempts = binned(perSecond(l.attempts.filter((t) => t >= l.restartAtMs)), 2);
		const shift = Math.round(offsetMs / 1000);
		const modelAttempts = binned([...new Array<number>(shift).fill(0), ...modelSeries.attempts].slice(0, xMax), 2);
		const peak = Math.max(...measuredAttempts.map((p) => p[1]), ...modelAttempts.map((p) => p[1]));
		out.push(
			{
				title: `${fmt(l.robots)} robots, local cloud: share connected`,
				xLabel: `seconds since the broker stopped (back at ${round(l.restartAtMs / 1000)} s)`,
				yLabel: '% connected again',
				xMax,
				yMax: 100,
				lines: [
					{ label: `measured: 99% ${round(l.agreement.measured.to99Ms / 1000)} s after its return`, color: '#000', points: share(l.connects) },
					{
						label: `model: 99% ${round(l.agreement.modelled.to99Ms / 1000)} s; largest gap ${round(l.agreement.ksDistance * 100)} points`,
						color: '#2471a3',
						dashed: true,
						points: share(modelConnects),
					},
				],
			},
			{
				title: `${fmt(l.robots)} robots, local cloud: attempts`,
				xLabel: 'seconds since the broker stopped',
				yLabel: 'CONNECT attempts per second (2 s bins)',
				xMax,
				yMax: Math.ceil(peak / 10) * 10 + 10,
				lines: [
					{ label: `measured: ${fmt(l.agreement.measured.attemptsAfterReturn)} after the return`, color: '#000', points: measuredAttempts },
					{ label: `model: ${fmt(l.agreement.modelled.attemptsAfterReturn)} after the return`, color: '#2471a3', dashed: true, points: modelAttempts },
				],
			},
		);
	}
	return out;
}

export function stormMarkdown(r: StormBench): string[] {
	const m = r.model;
	const min = (ms: number | undefined) => (ms === undefined ? 'not within 4 h' : `${round(ms / 60_000)} min`);
	const row = (name: string, s: Summary) =>
		`| ${name} | ${fmt(s.peakAttemptsPerS)} | ${fmt(s.peakConnectsPerS)} | ${min(s.toHalfMs)} / ${min(s.to99Ms)} | ${fmt(s.attemptsTotal)} | ${fmt(s.throttledTotal)} | ${fmt(s.steps)} machine steps in ${fmt(s.wallMs)} ms |`;
	const lines = [
		`Model (bench/storm-model.ts: the firmware's link machine and backoff on a simulated clock): ${fmt(m.robots)} robots lose the broker at once; it is back after ${m.outageMs / 1000} s with AWS IoT's default limit of ${m.limitPerS} CONNECT/s per account.`,
		'',
		'| policy | peak attempts/s | peak accepted/s | back: 50% / 99% | attempts | throttled | run |',
		'| --- | --- | --- | --- | --- | --- | --- |',
		row('default: full jitter 1 s doubling to 120 s', m.defaultPolicy),
		row(`fleet spread: 3 quick tries, then ${fmt((m.spread.policy.spread?.windowMs ?? 0) / 1000)} s windows`, m.spread),
		'',
	];
	const l = r.live;
	if (l) {
		const a = l.agreement;
		const s = (ms: number) => `${round(ms / 1000)} s`;
		lines.push(
			`Measured: ${fmt(l.robots)} simulated robots (createRobot on host ports, default backoff) against the local cloud; all connected (${fmt(l.initialConnectMs)} ms), then the broker stopped (median robot saw it at ${s(a.lossMedianMs)}), back at ${s(l.restartAtMs)}. Beside it the model of the same run (no account limit locally; ${fmt(a.capacityPerS)} handshakes/s, the rate of the same robots' initial connect on this machine now).`,
			'',
			'| | measured | model |',
			'| --- | --- | --- |',
			`| attempts while the broker was down | ${fmt(a.measured.attemptsWhileDown)} | ${fmt(a.modelled.attemptsWhileDown)} |`,
			`| attempts after its return | ${fmt(a.measured.attemptsAfterReturn)} | ${fmt(a.modelled.attemptsAfterReturn)} |`,
			`| after its return: 50% / 99% / all connected | ${s(a.measured.toHalfMs)} / ${s(a.measured.to99Ms)} / ${s(a.measured.toAllMs)} | ${s(a.modelled.toHalfMs)} / ${s(a.modelled.to99Ms)} / ${s(a.modelled.toAllMs)} |`,
			`| largest gap between the shares connected (KS distance) | ${round(a.ksDistance * 100)} points | |`,
			`| machine load average at start / end | ${l.load.start} / ${l.load.end} | |`,
			`| robot warnings and errors | ${countsCell(l.errors)} | |`,
			'',
		);
	}
	const t = r.takeover;
	if (t)
		lines.push(
			`Two robots of one identity for ${t.seconds} s against the local broker: ${fmt(t.connects.firmware)} connects with the firmware's link (a connection counts after ${DEFAULT_MIN_CONNECTED_S} s; each robot logged the suspected takeover ${t.warnings === 2 ? 'once' : t.warnings + ' times in all'}), ${fmt(t.connects.resetOnConnack)} when every CONNACK resets the backoff (as before).`,
			'',
		);
	lines.push('Figure: docs/storm.svg.', '');
	return lines;
}

export const stormSection = benchSection({ name: 'storm', title: 'a fleet losing its broker at once (model at 2,000,000, measured at 1,000)', run: (o) => benchStorm({ progress: o.progress }), markdown: stormMarkdown });

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const { values } = (await import('node:util')).parseArgs({
		options: {
			robots: { type: 'string', default: '1000' },
			'outage-s': { type: 'string', default: '30' },
			'model-only': { type: 'boolean', default: false },
			'reuse-model': { type: 'string' },
		},
	});
	const reuse = values['reuse-model'] ? (JSON.parse(fs.readFileSync(values['reuse-model'], 'utf8')) as StormBench).model : undefined;
	const r = await benchStorm({
		robots: Number(values.robots),
		outageS: Number(values['outage-s']),
		modelOnly: values['model-only'],
		...(reuse ? { reuseModel: reuse } : {}),
		progress: (m) => console.error(`[storm] ${m}`),
	});
	console.log(stormMarkdown(r).join('\n'));
	fs.writeFileSync(path.join(root, 'build', 'storm-results.json'), JSON.stringify(r));
}
