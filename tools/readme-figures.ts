/*
 * README's benchmark and device-budget tables, made from bench/results.json (issue 22: no figure
 * typed in by hand). Each table sits between marker comments in README.md:
 *   <!-- figures:bench -->          ... <!-- /figures:bench -->
 *   <!-- figures:device-budget -->  ... <!-- /figures:device-budget -->
 * Every row names the bench section it comes from, with that section's date, load average and
 * git revision; a section the committed results do not hold says so and how to measure it.
 *
 *   npx tsx tools/readme-figures.ts            rewrite README.md's tables from bench/results.json
 *   npx tsx tools/readme-figures.ts --check    exit 1 (with the difference) if README differs
 *
 * tools/readme-figures.test.ts runs the check in `npm test`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { budgetMarkdown, creationSizes, deviceBudget } from '../bench/device-budget';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

type Json = Record<string, unknown>;
interface Meta {
	date: string;
	load: { start: number; end: number };
	gitRevision: string;
	dirty: boolean;
	sdk?: { version: string; build: string };
}
export interface ResultsFile {
	machine: { cpus: number; cpuModel: string };
	sections: Record<string, unknown>;
	meta: Record<string, Meta>;
}

/** A figure that cannot be given: the section is missing, failed, or lacks the field. */
class NotMeasured extends Error {}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const millions = (n: number) => fmt(n / 1e6, 1) + ' M';

function num(v: unknown, what: string): number {
	if (typeof v !== 'number' || !Number.isFinite(v)) throw new NotMeasured(what + ' is not in the results');
	return v;
}

function arr(v: unknown, what: string): Json[] {
	if (!Array.isArray(v)) throw new NotMeasured(what + ' is not in the results');
	return v as Json[];
}

function find(rows: Json[], pred: (r: Json) => boolean, what: string): Json {
	const r = rows.find(pred);
	if (!r) throw new NotMeasured(what + ' is not in the results');
	return r;
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');

interface Row {
	readonly what: string;
	readonly section: string;
	readonly figure: (v: Json) => string;
}

/** The benchmark table's rows, each from one section of the results. */
const ROWS: readonly Row[] = [
	{
		what: 'round trips, TCP connect to SUBACK, full TLS 1.2 / resumed',
		section: 'link.roundTrips',
		figure(v) {
			const rows = arr(v.rows, 'link rows');
			const pick = (client: string, tls: RegExp) => num(find(rows, (r) => str(r.client).startsWith(client) && tls.test(str(r.tls)), client + ' ' + tls.source).flights, 'flights');
			return `ours ${pick('Link', /^full/)} / ${pick('Link', /^TLS session/)}; MQTT.js ${pick('MQTT.js', /^full/)} / ${pick('MQTT.js', /^TLS session/)}`;
		},
	},
	{
		what: 'round trips, connect to the schedule document in hand / converged after an offline edit',
		section: 'schedule.reconnect',
		figure(v) {
			const rows = arr(v.rows, 'schedule rows');
			const edit = (tls: RegExp) => find(rows, (r) => tls.test(str(r.tls)) && /edit/.test(str(r.case)), tls.source + ' offline edit');
			const full = edit(/^full TLS 1\.2 handshake \(boot\)$/);
			const resumed = edit(/^TLS session resumed/);
			return `${num(full.docFlights, 'docFlights')} / ${num(full.flights, 'flights')} full handshake, ${num(resumed.docFlights, 'docFlights')} / ${num(resumed.flights, 'flights')} resumed (bytes ${fmt(num(full.bytesUp, 'bytes') / 1000, 1)} KB up, ${fmt(num(full.bytesDown, 'bytes') / 1000, 1)} KB down)`;
		},
	},
	{
		what: 'codec on Node, 256 B QoS 1 PUBLISH',
		section: 'codec.node',
		figure(v) {
			const r = find(arr(v.results, 'codec rows'), (x) => x.packet === 'publish-qos1-256B', 'publish-qos1-256B');
			return `${millions(num(r.encodePerSec, 'encode/s'))} encodes/s, ${millions(num(r.decodePerSec, 'decode/s'))} decodes/s`;
		},
	},
	{
		what: 'codec in XS, 256 B QoS 1 PUBLISH',
		section: 'codec.xs',
		figure(v) {
			const rows = arr(v.rows, 'codec.xs rows');
			const r = find(rows, (x) => x.packet === 'publish-qos1-256B', 'publish-qos1-256B');
			const left = rows.map((x) => num(x.retainedSlotsAfterGc, 'retainedSlotsAfterGc'));
			const steady = num(r.steadyOps, 'steadyOps');
			// the verdict comes from the numbers: live slots left after a forced gc() by the traffic
			const verdict = left.every((n) => n <= 0)
				? `after ${fmt(steady)} encodes and decodes of each packet, gc() leaves 0 live slots: the heap does not grow with traffic`
				: `the heap GROWS with traffic (${Math.max(...left)} live slots left after gc())`;
			return `${fmt(num(r.computePerEncode, 'compute'))} compute units and ${fmt(num(r.slotsPerEncode, 'slots'))} slots per encode; ${fmt(num(r.computePerDecode, 'compute'))} and ${fmt(num(r.slotsPerDecode, 'slots'))} per decode; ${verdict}`;
		},
	},
	{
		what: 'XS compute to apply a schedule delta',
		section: 'schedule.xs',
		figure(v) {
			const rows = arr(v.rows, 'schedule.xs rows');
			const k = (op: string) => fmt(num(find(rows, (r) => r.op === op, op).computePerOp, 'compute') / 1000) + ' k';
			return `${k('applyFromBytes')} units from payload bytes to update body (${k('parseFromBytes')} of it UTF-8 + JSON.parse); \`decide\` ${k('decideApply')}`;
		},
	},
	{
		what: 'billed AWS IoT messages per one-hour mission',
		section: 'missions.billing',
		figure(v) {
			const s = (v.summary ?? {}) as Json;
			const billed = num(s.billedMedian, 'billed');
			const target = num(s.target, 'target');
			return `${billed} (max ${num(s.billedMax, 'max')}; target at most ${target}: ${num(s.billedMax, 'max') <= target ? 'met' : 'NOT met'}); one message per event would be ${num(s.naiveMedian, 'naive')}`;
		},
	},
	{
		what: 'map encryption on Node, 2 MB',
		section: 'maps',
		figure(v) {
			const node = (v.node ?? {}) as Json;
			const rows = arr(node.rows, 'maps node rows');
			const nodeCrypto = find(rows, (r) => /node:crypto/.test(str(r.path)), 'node:crypto');
			const portable = find(rows, (r) => /portable|noble/.test(str(r.path)), 'portable');
			return `node:crypto ${fmt(num(nodeCrypto.MBps, 'MB/s'))} MB/s, portable @noble ${fmt(num(portable.MBps, 'MB/s'), 1)} MB/s (${fmt(num(node.ratio, 'ratio'), 1)}x)`;
		},
	},
	{
		what: 'map encryption in XS, portable',
		section: 'maps',
		figure(v) {
			const xs = (v.xs ?? {}) as Json;
			const compute = arr(xs.compute, 'maps xs compute')[0];
			if (!compute) throw new NotMeasured('maps xs compute is empty');
			const heap = arr(xs.heap, 'maps xs heap');
			const streaming = heap.filter((r) => !str(r.reader).startsWith('control')).sort((a, b) => num(a.plaintextBytes, 'bytes') - num(b.plaintextBytes, 'bytes'));
			const control = heap.find((r) => str(r.reader).startsWith('control'));
			const small = streaming[0];
			const large = streaming[streaming.length - 1];
			if (!small || !large) throw new NotMeasured('maps xs heap rows');
			const grows = num(large.peakSlotsAboveBaseline, 'peak') > num(small.peakSlotsAboveBaseline, 'peak');
			return (
				`${fmt(num(compute.computePerKB, 'compute') / 1000)} k compute units per KB; live slots while streaming ${fmt(num(small.peakSlotsAboveBaseline, 'peak'))} for ${str(small.map)} and ${fmt(num(large.peakSlotsAboveBaseline, 'peak'))} for ${str(large.map)}` +
				(grows ? ' (GROWS with the map)' : ' (does not grow with the map)') +
				(control ? `; a reader that keeps frames: ${fmt(num(control.peakSlotsAboveBaseline, 'peak'))}` : '')
			);
		},
	},
	{
		what: '2 MB map upload on the host (slot, unwrap, streamed PUT to the local S3)',
		section: 'maps',
		figure(v) {
			const up = (v.upload ?? {}) as Json;
			const rows = arr(up.rows, 'upload rows');
			return rows.map((r) => `${str(r.crypto)}: ${fmt(num(r.medianUploadMs, 'ms'))} ms to PUT done, ${fmt(num(r.medianStoredMs, 'ms'))} ms to decrypted in the cloud`).join('; ');
		},
	},
	{
		what: 'device (lin), app start to subscribed; image',
		section: 'device.lin',
		figure(v) {
			const metrics = arr(v.metrics, 'device metrics');
			const echo = find(metrics, (m) => 'appStartToSubscribedMs' in m, 'echo timing');
			const image = find(metrics, (m) => m.name === 'device.image', 'device image');
			return `${fmt(num(echo.appStartToSubscribedMs, 'ms'))} ms; \`mc.so\` ${fmt(num(image.mcSoBytes, 'bytes') / 1e6, 2)} MB (${str(image.variant)}), compiled modules ${fmt(num(image.xsbBytes, 'bytes') / 1000)} KB`;
		},
	},
	{
		what: 'device (lin), crypto on the runtime',
		section: 'device.lin',
		figure(v) {
			const b = deviceBudget(arr(v.metrics, 'device metrics'), creationSizes(ROOT));
			if (b.crypto.length === 0) throw new NotMeasured('device crypto figures');
			return b.crypto.map((c) => `${c.name} ${fmt(c.kBps)} KB/s`).join('; ');
		},
	},
	{
		what: 'fleet: simulated robots started at once against one local cloud',
		section: 'fleet',
		figure(v) {
			const conv = (v.convergedMs ?? {}) as Json;
			const reports = (v.reports ?? {}) as Json;
			const maps = (v.maps ?? {}) as Json;
			const load = (v.load ?? {}) as Json;
			const p99 = num(conv.p99, 'p99');
			return (
				`${fmt(num(v.robots, 'robots'))} robots: ${fmt(num(v.connectsPerS, 'connects/s'))} connects/s; start to schedule converged p50 ${fmt(num(conv.p50, 'p50') / 1000, 1)} s, p99 ${fmt(p99 / 1000, 1)} s (target under 5 s: ${p99 < 5000 ? 'met' : 'NOT met'}); ` +
				`${fmt(num(reports.stored, 'stored'))} of ${fmt(num(reports.expected, 'expected'))} reports stored exactly once, ${fmt(num(maps.decrypted, 'decrypted'))} maps decrypted; ${v.nothingLost === true ? 'nothing lost' : 'DATA LOST OR DUPLICATED'} (load ${num(load.start, 'load')} to ${num(load.end, 'load')})`
			);
		},
	},
];

const markerStart = (name: string) => `<!-- figures:${name} -->`;
const markerEnd = (name: string) => `<!-- /figures:${name} -->`;

function table(head: string[], rows: (string | number)[][]): string {
	const esc = (c: string | number) => String(c).replace(/\|/g, '\\|');
	return ['| ' + head.join(' | ') + ' |', '| ' + head.map(() => '---').join(' | ') + ' |', ...rows.map((r) => '| ' + r.map(esc).join(' | ') + ' |')].join('\n');
}

function measured(r: ResultsFile, section: string): string {
	const m = r.meta[section];
	if (!m) return '';
	return `${section}, ${m.date.slice(0, 10)}, load ${m.load.start}, ${m.gitRevision}${m.dirty ? '+' : ''}`;
}

/** The benchmark table, from the results. */
export function benchTable(r: ResultsFile): string {
	const rows = ROWS.map((row) => {
		const v = r.sections[row.section];
		let figure: string;
		if (v === undefined || !r.meta[row.section]) figure = `not in bench/results.json: \`npm run bench -- --only ${row.section}\``;
		else if (typeof v === 'object' && v !== null && ('error' in v || 'skipped' in v) && !('ok' in v && (v as Json).ok === true)) figure = `the committed run has no figure: ${String((v as Json).error ?? (v as Json).skipped).split('\n')[0]}`;
		else {
			try {
				figure = row.figure(v as Json);
			} catch (e) {
				if (!(e instanceof NotMeasured)) throw e;
				figure = 'not in the committed run: ' + e.message;
			}
		}
		return [row.what, figure, measured(r, row.section)];
	});
	return [
		`Machine: ${r.machine.cpus} × ${r.machine.cpuModel}. "measured" is the bench section, its date, the 1-minute load average when it started and the git revision (+: with local changes); bench/results.md has every figure.`,
		'',
		table(['what', 'figure', 'measured'], rows),
	].join('\n');
}

/** The device budget table: peaks from device.lin, "needed" from the growth-off search (device.budget). */
export function budgetTable(r: ResultsFile): string {
	const v = r.sections['device.lin'] as Json | undefined;
	const out: string[] = [];
	if (!v || !Array.isArray(v.metrics) || !r.meta['device.lin']) out.push('Peaks: not in bench/results.json (`npm run bench -- --only device.lin`, needs `MODDABLE`).');
	else {
		const m = r.meta['device.lin'];
		out.push(`Peaks from ${measured(r, 'device.lin')}${m.sdk ? `, Moddable SDK ${m.sdk.version}, ${m.sdk.build} build` : ''}.`, '');
		out.push(...budgetMarkdown(deviceBudget(v.metrics as Json[], creationSizes(ROOT)), table).filter((l) => !l.startsWith('###')));
		// sampled peaks can look within the limit for a run that aborted between samples: say so from the run's own output
		if (v.ok === false) {
			const why = (Array.isArray(v.tail) ? (v.tail as unknown[]).map(String) : []).filter((l) => /XS abort|allocation|FAIL:|exited/.test(l)).map((l) => '`' + l.replace(/^\s*\|\s*/, '').trim() + '`');
			out.push('', `**These runs did not all pass** (${String(v.error ?? 'failed')}): ${why.join('; ') || 'see bench/results.json'}.`);
		}
	}
	const search = r.sections['device.budget'] as { needed?: Json; scenarios?: string[] } | undefined;
	out.push('');
	if (!search?.needed || !r.meta['device.budget']) out.push('Needed (growth off): not in bench/results.json (`npx tsx tools/budget-search.ts`, needs `MODDABLE`).');
	else {
		const n = search.needed;
		const m = r.meta['device.budget'];
		out.push(
			`Needed with heap growth off, found by tools/budget-search.ts (${measured(r, 'device.budget')}${m.sdk ? `, Moddable SDK ${m.sdk.version}, ${m.sdk.build} build` : ''}; scenarios ${(search.scenarios ?? []).join(', ')}):`,
			'',
			table(
				['', 'chunk heap', 'slot heap', 'stack'],
				[
					[
						'needed (smallest that passes; one step below aborts)',
						typeof n.chunkBytes === 'number' ? `${fmt(n.chunkBytes / 1024)} KB` : 'not searched',
						typeof n.slots === 'number' ? `${fmt(n.slots)} slots` : 'not searched',
						typeof n.stackSlots === 'number' ? `${fmt(n.stackSlots)} slots` : 'not searched',
					],
				],
			),
		);
	}
	return out
		.join('\n')
		.replace(/\n{3,}/g, '\n\n')
		.trim();
}

/** README with each marked block replaced by what the results make. */
export function renderReadme(readme: string, r: ResultsFile): string {
	let out = readme;
	for (const [name, body] of [
		['bench', benchTable(r)],
		['device-budget', budgetTable(r)],
	] as const) {
		const a = out.indexOf(markerStart(name));
		const b = out.indexOf(markerEnd(name));
		if (a < 0 || b < a) throw new Error('README.md has no ' + markerStart(name) + ' ... ' + markerEnd(name) + ' block');
		out = out.slice(0, a) + markerStart(name) + '\n' + body + '\n' + out.slice(b);
	}
	return out;
}

export function readResults(): ResultsFile {
	return JSON.parse(readFileSync(ROOT + 'bench/results.json', 'utf8')) as ResultsFile;
}

function main(): number {
	const check = process.argv.includes('--check');
	const readme = readFileSync(ROOT + 'README.md', 'utf8');
	const made = renderReadme(readme, readResults());
	if (!check) {
		if (made !== readme) writeFileSync(ROOT + 'README.md', made);
		process.stdout.write(made === readme ? 'README.md tables already match bench/results.json\n' : 'README.md tables rewritten from bench/results.json\n');
		return 0;
	}
	if (made === readme) return 0;
	const a = readme.split('\n');
	const b = made.split('\n');
	for (let i = 0; i < Math.max(a.length, b.length); i++) {
		if (a[i] !== b[i]) {
			process.stderr.write(`README.md line ${i + 1} differs from what bench/results.json makes:\n  README: ${a[i] ?? ''}\n  made:   ${b[i] ?? ''}\nrun: npx tsx tools/readme-figures.ts\n`);
			break;
		}
	}
	return 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main();
