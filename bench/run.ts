/*
 * `npm run bench`: measures and writes bench/results.json (machine-readable) and
 * bench/results.md (the same as tables, also printed). No thresholds: numbers only.
 * This file only orchestrates: the arguments, which sections run, a progress line each, and
 * the files with each section's date, load average, git revision and SDK (bench/report.ts
 * draws results.md). Each section's measuring code and table sit in its own module:
 *
 *   codec.node       encode/decode throughput of the firmware codec on Node (bench/codec.ts)
 *   codec.xs         the same codec inside the XS engine (xsnap worker): compute units and
 *                    heap slots per operation (bench/codec-xs.ts)
 *   link.roundTrips  client flights and time from TCP connect to SUBACK, our Link vs MQTT.js,
 *                    against the local broker through the counting proxy (bench/link.ts)
 *   device.lin       device scenarios on the Moddable `lin` runtime (echo, crypto, schedule,
 *                    mission, map upload, ota, robot-day): latency, image size, memory peaks
 *                    against the manifest's creation sizes, crypto throughput (bench/device-lin.ts,
 *                    bench/device-budget.ts, bench/device-ota.ts; only when MODDABLE is set)
 *   schedule.reconnect  round trips, bytes and time from connect to "schedule converged" for a
 *                    host robot on the local cloud (bench/schedule.ts)
 *   schedule.xs      XS compute per schedule delta applied, per nextRun, per validateSchedule
 *   missions.billing billed AWS IoT messages and wire bytes per one-hour mission, batched
 *                    events + Basic Ingest report vs one message per event (bench/missions.ts)
 *   commands.billing billed AWS IoT messages per command from the owner's app (request, the
 *                    robot's PUBACK, its answer), beside the per-mission figure (bench/commands.ts)
 *   maps             map encryption MB/s on Node (portable vs node:crypto), XS compute per KB and
 *                    heap by map size, 2 MB upload time on the local cloud (bench/maps.ts)
 *   provision        factory provisioning of 1,000 robots with the CA key in SoftHSM2:
 *                    certificates per second (bench/provision.ts)
 *   fleet            1,000 simulated robots against one local cloud: connects/s, time to schedule
 *                    converged p50/p99, every report stored once and every map decrypted (bench/fleet.ts)
 *   storm            a fleet losing its broker at once: the firmware's backoff modelled at 2,000,000
 *                    robots against AWS IoT's connect limit, measured at 1,000 against the local
 *                    cloud beside the model of that run; draws docs/storm.svg (bench/storm.ts)
 *   health.billing   billed messages per robot per day of health reporting (bench/health.ts)
 *
 *   npx tsx bench/run.ts [--only codec.node,codec.xs,link.roundTrips,device.lin,schedule.reconnect,schedule.xs,missions.billing,commands.billing,maps,provision,fleet,storm,health.billing] [--runs N] [--robots N] [--device-scenarios a,b] [--out DIR]
 *                   (device.lin on the board's word size with growth off: DEVICE_M32=1 DEVICE_CREATION=esp32;
 *                    --out DIR: results.json and results.md there instead of bench/, earlier sections read from there)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codecNodeSection } from './codec';
import { codecXsSection } from './codec-xs';
import { commandsBillingSection } from './commands';
import { BUDGET_SCENARIOS } from './device-budget';
import { deviceLinSection } from './device-lin';
import { OTA_SCENARIOS } from './device-ota';
import { fleetSection } from './fleet';
import { healthBillingSection } from './health';
import { linkSection } from './link';
import { mapsSection } from './maps';
import { missionsBillingSection } from './missions';
import { provisionSection } from './provision';
import { renderResults, type Results } from './report';
import { scheduleReconnectSection, scheduleXsSection } from './schedule';
import type { BenchSection } from './section';
import { round } from './stats';
import { stormSection } from './storm';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

/** Every section, in the order they run and appear in results.md. */
export const SECTIONS: readonly BenchSection[] = [
	codecNodeSection,
	codecXsSection,
	linkSection,
	deviceLinSection,
	scheduleReconnectSection,
	scheduleXsSection,
	missionsBillingSection,
	commandsBillingSection,
	mapsSection,
	provisionSection,
	fleetSection,
	stormSection,
	healthBillingSection,
];
const NAMES = SECTIONS.map((s) => s.name);

interface Args {
	only: Set<string>;
	runs: number;
	robots: number;
	deviceScenarios: string[];
	/** where results.json and results.md are read and written */
	out: string;
}

function parseArgs(argv: string[]): Args {
	let only = new Set<string>(NAMES);
	let deviceScenarios: string[] = [...BUDGET_SCENARIOS, ...OTA_SCENARIOS];
	let runs = 20;
	let robots = 1000;
	let out = here;
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i]!;
		if (a === '--only') {
			const v = argv[++i] ?? '';
			const picked = v.split(',').filter(Boolean);
			for (const p of picked) if (!NAMES.includes(p)) throw new Error(`--only: unknown section ${JSON.stringify(p)} (known: ${NAMES.join(', ')})`);
			only = new Set(picked);
		} else if (a === '--runs') {
			runs = Number(argv[++i]);
			if (!Number.isInteger(runs) || runs < 1 || runs > 1000) throw new Error('--runs expected an integer 1..1000');
		} else if (a === '--robots') {
			robots = Number(argv[++i]);
			if (!Number.isInteger(robots) || robots < 1 || robots > 5000) throw new Error('--robots expected an integer 1..5000 (the fleet section)');
		} else if (a === '--device-scenarios') {
			deviceScenarios = (argv[++i] ?? '').split(',').filter(Boolean);
			if (!deviceScenarios.length) throw new Error('--device-scenarios expected a comma-separated list of device scenarios (test/device/scenarios)');
		} else if (a === '--out') {
			out = resolve(argv[++i] ?? '');
			if (!argv[i]) throw new Error('--out expected a directory');
		} else throw new Error(`unknown argument ${JSON.stringify(a)} (use --only SECTIONS, --runs N, --robots N, --device-scenarios a,b, --out DIR)`);
	}
	return { only, runs, robots, deviceScenarios, out };
}

function gitRevision(): { gitRevision: string; dirty: boolean } {
	const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
	const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' });
	if (rev.status !== 0) throw new Error('git rev-parse failed: ' + rev.stderr);
	return { gitRevision: rev.stdout.trim(), dirty: status.stdout.trim().length > 0 };
}

/** The results file as it stands, to keep the sections this run does not measure. */
function readEarlier(file: string): Pick<Results, 'sections' | 'meta'> {
	if (!existsSync(file)) return { sections: {}, meta: {} };
	const r = JSON.parse(readFileSync(file, 'utf8')) as Partial<Results>;
	const sections: Results['sections'] = {};
	const meta: Results['meta'] = {};
	// a section without its meta (a file from before meta existed) cannot say when it was measured: dropped;
	// device.budget is written by tools/budget-search.ts (dozens of device builds), never re-run here
	for (const n of [...NAMES, 'device.budget']) {
		if (r.sections?.[n] !== undefined && r.meta?.[n]) {
			sections[n] = r.sections[n];
			meta[n] = r.meta[n];
		}
	}
	return { sections, meta };
}

/** Runs one section into `results`, its thrown error in its place, with its date, load, revision and SDK; one progress line on stderr. */
async function runSection(s: BenchSection, a: Args, results: Results, rev: ReturnType<typeof gitRevision>): Promise<void> {
	const t = performance.now();
	const date = new Date().toISOString();
	const loadStart = round(os.loadavg()[0]!, 1);
	process.stderr.write(`bench: ${s.name} ...`);
	const progress = (m: string) => void process.stderr.write(`\n  ${s.name}: ${m}`);
	try {
		results.sections[s.name] = await s.run({ runs: a.runs, robots: a.robots, deviceScenarios: a.deviceScenarios, progress });
	} catch (e) {
		results.sections[s.name] = { error: String((e as Error)?.stack ?? e) };
	}
	const durationS = round((performance.now() - t) / 1000);
	const sdk = s.sdk?.(results.sections[s.name]);
	results.meta[s.name] = { date, load: { start: loadStart, end: round(os.loadavg()[0]!, 1) }, ...rev, durationS, ...(sdk ? { sdk } : {}) };
	process.stderr.write(` ${durationS} s\n`);
}

async function main(): Promise<void> {
	const a = parseArgs(process.argv.slice(2));
	const started = performance.now();
	const cpus = os.cpus();
	const file = join(a.out, 'results.json');
	// sections not run this time are kept from the file, each with its own date and revision
	const earlier = readEarlier(file);
	const results: Results = {
		machine: {
			cpus: cpus.length,
			cpuModel: cpus[0]?.model.trim() ?? 'unknown',
			memGiB: round(os.totalmem() / 2 ** 30),
			node: process.version,
			platform: process.platform,
			arch: process.arch,
		},
		date: new Date().toISOString(),
		sections: { ...earlier.sections },
		meta: { ...earlier.meta },
	};
	const rev = gitRevision();
	for (const s of SECTIONS) if (a.only.has(s.name)) await runSection(s, a, results, rev);
	results.durationMs = Math.round(performance.now() - started);
	mkdirSync(a.out, { recursive: true });
	writeFileSync(file, JSON.stringify(results, null, '\t') + '\n');
	const md = renderResults(results, SECTIONS);
	writeFileSync(join(a.out, 'results.md'), md + '\n');
	process.stdout.write(md + '\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
