/*
 * Fleet load (bench section `fleet`): N simulated robots (default 1,000) against one
 * cloud/local on this machine. Every robot is the firmware's composition (createRobot
 * with host ports: mutual TLS, the offline-first schedule sync, missions with durable
 * reports, encrypted map uploads), in a few worker processes beside the cloud's.
 *
 * Before the robots start, the app has written a schedule edit into every robot's
 * `schedule` shadow (desired). Two phases:
 *   1. all start at once (a power cut's end for a whole town): each connects (full TLS 1.2
 *      handshake, client certificate), reads its shadow, applies the edit, reports it and
 *      clears desired ("schedule converged");
 *   2. once all converged, all start a one-hour mission on a fast clock at once, report it
 *      (Basic Ingest, QoS 1, PUBACK), and upload a small map encrypted (slot over MQTT, KMS
 *      data key, RSA-OAEP, Encryption SDK, presigned PUT).
 * The phases are apart so the time to converge measures the connect storm, not map traffic.
 * Reported: connects per second, time from start to connected and to converged
 * (p50/p99/max), mission start to report acknowledged and to map uploaded; then checked in the
 * cloud: every report stored exactly once (the handler's stored and duplicate log lines
 * against every report delivery, test/support/report-ledger.ts), every map decrypted by
 * map-ingest (mapReady, which it sets only after the stock SDK decrypted it) and its
 * object in S3.
 *
 *   npx tsx bench/fleet.ts [--robots N] [--workers W]      (or npm run bench -- --only fleet)
 *
 * Device certificates are made once into build/bench-fleet/pki and reused by later runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../cloud/lib/aws';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { createDevPki, issueDevice, writeDevice, type DevPki } from '../cloud/local/dev-pki';
import { createReportLedger, type ReportLedger } from '../test/support/report-ledger';
import { fmt, median, percentile, round } from './stats';
import { benchSection } from './section';
import { countsCell } from './table';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
/** Real ms per simulated minute: a one-hour mission takes about 120 ms. */
const MS_PER_MIN = 2;
/** A small occupancy grid: 64 x 64 cells and the header. */
const MAP_BYTES = 4_128;
const FLEET_ENTRY_ID = 'fleet-weekday';

/** What a worker measured for one robot; times are epoch ms (performance.timeOrigin based). */
export interface RobotRow {
	readonly thing: string;
	start: number;
	connected?: number;
	converged?: number;
	mission?: string;
	missionStart?: number;
	reportAcked?: number;
	mapUploaded?: number;
	connects: number;
}

type ToWorker = { type: 'go' } | { type: 'missions' };
type FromWorker = { type: 'ready'; robots: number } | { type: 'converged' } | { type: 'progress'; done: number } | { type: 'done'; rows: RobotRow[]; errors: Record<string, number> };

export interface FleetResult {
	robots: number;
	workers: number;
	certificatesMade: number;
	certificatesMs: number;
	connectsPerS: number;
	allConnectedMs: number;
	allConvergedMs: number;
	missionsPhaseMs: number;
	connectedMs: { p50: number; p99: number; max: number };
	convergedMs: { p50: number; p99: number; max: number };
	reportAckedMs: { p50: number; p99: number };
	mapUploadedMs: { p50: number; p99: number };
	reconnects: number;
	robotErrors: Record<string, number>;
	/**
	 * From the local cloud's log (test/support/report-ledger.ts): `stored` missions the handler wrote
	 * exactly once (and whose row is there), `duplicates` missions it wrote more than once,
	 * `delivered` report publishes handed to the handler, `absorbed` deliveries it found already stored.
	 */
	reports: { expected: number; stored: number; duplicates: number; missing: number; invented: number; delivered: number; absorbed: number };
	maps: { expected: number; decrypted: number; objects: number };
	nothingLost: boolean;
	/** The machine's 1-minute load average when the robots started and when they were done (2 cores: 2 is full). */
	load: { start: number; end: number };
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the main side: cloud, workers, checks ----------------------------------------------------

export async function benchFleet(o: { robots: number; workers?: number; progress?: (msg: string) => void }): Promise<FleetResult> {
	const progress = o.progress ?? (() => {});
	if (!Number.isInteger(o.robots) || o.robots < 1 || o.robots > 5000) throw new RangeError('"robots" expected 1..5000, got ' + o.robots);
	const workers = o.workers ?? Math.min(2, o.robots);
	if (!Number.isInteger(workers) || workers < 1 || workers > 16) throw new RangeError('"workers" expected 1..16, got ' + workers);
	const things = Array.from({ length: o.robots }, (_, i) => `fleet-${String(i + 1).padStart(4, '0')}`);
	const dataDir = path.join(root, 'build', 'bench-fleet');

	const { pki, made, certificatesMs } = await certificates(path.join(dataDir, 'pki'), things, progress);

	progress(`starting the local cloud for ${o.robots} things`);
	// every report delivery and every handler outcome, counted (a table keyed by mission cannot show a duplicate)
	const ledger = createReportLedger();
	const cloud = await startLocalCloud({ dataDir, things, inMemory: true, log: ledger.log });
	const aws = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
	const data = new IoTDataPlaneClient({ ...aws, endpoint: cloud.endpoints.iotData });
	const ddb = createDocumentClient({ ...aws, endpoint: cloud.endpoints.dynamodb });
	const s3 = new S3Client({ ...aws, endpoint: cloud.endpoints.s3, forcePathStyle: true });
	const procs: ChildProcess[] = [];
	try {
		// the owner's edit, waiting in every robot's shadow before it boots
		progress('writing the schedule edit into every shadow');
		const schedule = {
			tz: 'CET-1CEST,M3.5.0,M10.5.0/3',
			entries: [{ id: FLEET_ENTRY_ID, days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:30', enabled: true, mode: 'vacuum', rooms: ['kitchen'] }],
		};
		const payload = new TextEncoder().encode(JSON.stringify({ state: { desired: { schedule } } }));
		for (let i = 0; i < things.length; i += 16) {
			await Promise.all(things.slice(i, i + 16).map((thingName) => data.send(new UpdateThingShadowCommand({ thingName, shadowName: 'schedule', payload }))));
		}

		progress(`spawning ${workers} worker processes`);
		const slices = Array.from({ length: workers }, (_, w) => things.filter((_, i) => i % workers === w));
		const messages: FromWorker[][] = slices.map(() => []);
		const waiters: (() => void)[] = [];
		const poke = () => waiters.splice(0).forEach((w) => w());
		const done = new Array<number>(workers).fill(0);
		for (const [w, slice] of slices.entries()) {
			const p = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fleet.ts'), '--fleet-worker'], {
				cwd: root,
				stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
				env: { ...process.env, FLEET_JOB: JSON.stringify({ things: slice, dirs: slice.map((t) => pki.paths.thing(t).dir), port: cloud.broker.port }) },
			});
			p.on('message', (m: FromWorker) => {
				if (m.type === 'progress') {
					done[w] = m.done;
					return;
				}
				messages[w]!.push(m);
				poke();
			});
			p.once('exit', (code) => {
				if (!messages[w]!.some((m) => m.type === 'done')) messages[w]!.push({ type: 'done', rows: [], errors: { [`worker exited ${code}`]: 1 } });
				poke();
			});
			procs.push(p);
		}
		const all = async (type: FromWorker['type']) => {
			while (!messages.every((ms) => ms.some((m) => m.type === type))) await new Promise<void>((r) => waiters.push(r));
		};
		await all('ready');
		progress(`${o.robots} robots made; all start now`);
		const go = now();
		const loadStart = os.loadavg()[0]!;
		for (const p of procs) p.send({ type: 'go' } satisfies ToWorker);
		await Promise.race([all('converged'), all('done')]);
		progress(`all converged in ${fmt(Math.round(now() - go))} ms; every robot starts a mission now`);
		const missionsAt = now();
		for (const p of procs) if (p.connected) p.send({ type: 'missions' } satisfies ToWorker);
		const ticker = setInterval(() => progress(`${done.reduce((a, b) => a + b, 0)}/${o.robots} robots done (mission reported, map uploaded)`), 5000);
		await all('done');
		clearInterval(ticker);
		const loadEnd = os.loadavg()[0]!;
		const rows = messages.flatMap((ms) => ms.flatMap((m) => (m.type === 'done' ? m.rows : [])));
		const robotErrors: Record<string, number> = {};
		for (const ms of messages) for (const m of ms) if (m.type === 'done') for (const [k, v] of Object.entries(m.errors)) robotErrors[k] = (robotErrors[k] ?? 0) + v;

		const { stored, duplicates, invented, delivered, absorbed, decrypted, objects } = await checkCloud({ cloud, ddb, s3, ledger }, rows, progress);

		const since = (t0: number, pick: (r: RobotRow) => number | undefined) =>
			rows
				.map((r) => pick(r))
				.filter((x): x is number => x !== undefined)
				.map((t) => t - t0);
		const rel = (pick: (r: RobotRow) => number | undefined) => since(go, pick);
		const fromMissions = (pick: (r: RobotRow) => number | undefined) => since(missionsAt, pick);
		const connected = rel((r) => r.connected);
		const converged = rel((r) => r.converged);
		const p50p99 = (xs: number[]) => ({ p50: round(median(xs), 0), p99: round(percentile(xs, 99), 0) });
		const stats3 = (xs: number[]) => ({ ...p50p99(xs), max: round(Math.max(...xs), 0) });
		const allConnectedMs = Math.max(...connected);
		const result: FleetResult = {
			robots: o.robots,
			workers,
			certificatesMade: made,
			certificatesMs: Math.round(certificatesMs),
			connectsPerS: round(connected.length / (allConnectedMs / 1000), 0),
			allConnectedMs: Math.round(allConnectedMs),
			allConvergedMs: Math.round(Math.max(...rel((r) => r.converged))),
			connectedMs: stats3(connected),
			convergedMs: stats3(converged),
			reportAckedMs: p50p99(fromMissions((r) => r.reportAcked)),
			mapUploadedMs: p50p99(fromMissions((r) => r.mapUploaded)),
			missionsPhaseMs: Math.round(Math.max(...fromMissions((r) => r.mapUploaded))),
			reconnects: rows.reduce((n, r) => n + Math.max(0, r.connects - 1), 0),
			robotErrors,
			reports: { expected: o.robots, stored, duplicates, missing: o.robots - stored, invented, delivered, absorbed },
			maps: { expected: o.robots, decrypted, objects },
			load: { start: round(loadStart, 1), end: round(loadEnd, 1) },
			nothingLost: stored === o.robots && duplicates === 0 && invented === 0 && decrypted === o.robots && objects === o.robots,
		};
		progress(`done: ${result.nothingLost ? 'nothing lost' : 'LOST OR DUPLICATED DATA'}`);
		return result;
	} finally {
		for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
		data.destroy();
		ddb.destroy();
		s3.destroy();
		await cloud.close();
	}
}

/** Device certificates for `things`, made once and kept under `pkiDir`, four key generations at a time (the thread pool does RSA). */
async function certificates(pkiDir: string, things: readonly string[], progress: (msg: string) => void): Promise<{ pki: DevPki; made: number; certificatesMs: number }> {
	const t0 = now();
	const pki = await createDevPki(pkiDir);
	const missing = things.filter((t) => !fs.existsSync(pki.paths.thing(t).keyDer));
	for (let i = 0; i < missing.length; i += 4) {
		await Promise.all(missing.slice(i, i + 4).map(async (t) => writeDevice(pkiDir, await issueDevice(pki, t))));
		if ((i / 4) % 50 === 0) progress(`certificates ${i + 4 > missing.length ? missing.length : i + 4}/${missing.length}`);
	}
	return { pki, made: missing.length, certificatesMs: now() - t0 };
}

/** The cloud's side of the robots' rows: every report stored once, every map decrypted and stored. */
async function checkCloud(
	c: { cloud: LocalCloud; ddb: ReturnType<typeof createDocumentClient>; s3: S3Client; ledger: ReportLedger },
	rows: readonly RobotRow[],
	progress: (msg: string) => void,
): Promise<Omit<FleetResult['reports'], 'expected' | 'missing'> & Omit<FleetResult['maps'], 'expected'>> {
	const { cloud, ddb, s3, ledger } = c;
	progress('checking the missions table and the maps bucket');
	await cloud.rules.idle();
	const expected = new Map(rows.filter((r) => r.mission).map((r) => [`${r.thing}/${r.mission}`, r]));
	let items: Record<string, unknown>[] = [];
	for (let i = 0; i < 60; i++) {
		items = await scanAll(ddb, cloud.tables.missions);
		if (items.filter((x) => x.mapReady === true).length >= expected.size) break;
		await sleep(500);
	}
	// stored once: the handler wrote the row once, every other delivery was absorbed as a duplicate
	// of the same report, and the row is in the table
	const rowsByKey = new Set(items.map((it) => `${it.thing}/${it.missionId}`));
	const problems = [...expected.values()].map((r) => ledger.problem(r.thing, r.mission!)).filter((p): p is string => p !== undefined);
	const stored = [...expected.values()].filter((r) => ledger.problem(r.thing, r.mission!) === undefined && rowsByKey.has(`${r.thing}/${r.mission}`)).length;
	const duplicates = [...expected.values()].filter((r) => ledger.count(r.thing, r.mission!).stored > 1).length;
	const counted = [...expected.values()].map((r) => ledger.count(r.thing, r.mission!));
	const delivered = counted.reduce((n, c) => n + c.delivered, 0);
	const absorbed = counted.reduce((n, c) => n + c.duplicates, 0);
	const invented = new Set([...rowsByKey, ...ledger.keys()].filter((k) => !expected.has(k))).size;
	for (const p of problems.slice(0, 10)) progress('report not stored exactly once: ' + p);
	const keys = await listKeys(s3, 'maps');
	// mapReady is set only after the stock SDK decrypted the upload; the decoded map is stored under mapKey
	const decrypted = items.filter((x) => expected.has(`${x.thing}/${x.missionId}`) && x.mapReady === true && keys.has(String(x.mapKey))).length;
	const objects = [...expected.values()].filter((r) => keys.has(`maps/${r.thing}/${r.mission}.esdk`)).length;
	return { stored, duplicates, invented, delivered, absorbed, decrypted, objects };
}

async function scanAll(ddb: ReturnType<typeof createDocumentClient>, table: string): Promise<Record<string, unknown>[]> {
	const out: Record<string, unknown>[] = [];
	let start: Record<string, unknown> | undefined;
	do {
		const r = await ddb.send(new ScanCommand({ TableName: table, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }));
		out.push(...((r.Items ?? []) as Record<string, unknown>[]));
		start = r.LastEvaluatedKey;
	} while (start);
	return out;
}

async function listKeys(s3: S3Client, bucket: string): Promise<Set<string>> {
	const keys = new Set<string>();
	let token: string | undefined;
	do {
		const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }));
		for (const o of r.Contents ?? []) if (o.Key) keys.add(o.Key);
		token = r.IsTruncated ? r.NextContinuationToken : undefined;
	} while (token);
	return keys;
}

export function fleetMarkdown(r: FleetResult): string[] {
	const ms = (x: number) => fmt(x) + ' ms';
	return [
		`${fmt(r.robots)} simulated robots (the firmware's composition on host ports) in ${r.workers} worker processes against one cloud/local on this machine; each connects with a full TLS handshake, converges a schedule edit waiting in its shadow, runs a one-hour mission on a fast clock, reports it and uploads a ${fmt(MAP_BYTES)}-byte map encrypted.`,
		'',
		'| what | figure |',
		'| --- | --- |',
		`| connects per second (all robots started at once) | ${fmt(r.connectsPerS)} (last connected at ${ms(r.allConnectedMs)}) |`,
		`| start to connected, p50 / p99 / max | ${ms(r.connectedMs.p50)} / ${ms(r.connectedMs.p99)} / ${ms(r.connectedMs.max)} |`,
		`| start to schedule converged, p50 / p99 / max | ${ms(r.convergedMs.p50)} / ${ms(r.convergedMs.p99)} / ${ms(r.convergedMs.max)} |`,
		`| all converged | ${ms(r.allConvergedMs)} |`,
		`| then all start a mission: to report acknowledged, p50 / p99 | ${ms(r.reportAckedMs.p50)} / ${ms(r.reportAckedMs.p99)} |`,
		`| mission start to map uploaded, p50 / p99 | ${ms(r.mapUploadedMs.p50)} / ${ms(r.mapUploadedMs.p99)} |`,
		`| all missions reported and maps uploaded | ${ms(r.missionsPhaseMs)} |`,
		`| reconnects | ${fmt(r.reconnects)} |`,
		`| reports stored exactly once (the handler's stored/duplicate lines against every report delivery) | ${fmt(r.reports.stored)} of ${fmt(r.reports.expected)} (stored twice ${r.reports.duplicates}, invented ${r.reports.invented}; ${fmt(r.reports.delivered)} deliveries, ${fmt(r.reports.absorbed)} absorbed as duplicates) |`,
		`| maps: encrypted uploads in S3 / decrypted by map-ingest (mapReady, decoded map stored) | ${fmt(r.maps.objects)} / ${fmt(r.maps.decrypted)} of ${fmt(r.maps.expected)} |`,
		`| nothing lost | ${r.nothingLost ? 'yes' : '**no**'} |`,
		`| machine load average (1 min) at start / end, ${os.cpus().length} cores | ${r.load.start} / ${r.load.end} |`,
		`| robot warnings and errors | ${countsCell(r.robotErrors)} |`,
		'',
	];
}

// ---- the worker side: a slice of the fleet ----------------------------------------------------

async function worker(): Promise<void> {
	const job = JSON.parse(process.env.FLEET_JOB ?? '') as { things: string[]; dirs: string[]; port: number };
	const { createRobot } = await import('../firmware/core/robot/robot');
	const host = await import('../firmware/platform/host/index');
	const { createHostDeviceKey, hostCrypto } = await import('../firmware/platform/host/crypto');
	const { createHttpPort } = await import('../firmware/platform/host/http');
	const { CleaningSimulator } = await import('../firmware/sim/cleaning');
	const { scaledPorts } = await import('../firmware/sim/clock');
	const { simulatedMap, squareFor } = await import('../firmware/sim/map');

	const errors: Record<string, number> = {};
	const rows: RobotRow[] = [];
	let finished = 0;
	let converged = 0;
	const http = createHttpPort();
	const robots = job.things.map((thing, i) => {
		const storage = host.createMemoryStorage();
		// warnings and errors are counted by event; the rest is not kept (a thousand robots talk a lot)
		const log = { log: (level: string, event: string) => void ((level === 'warn' || level === 'error') && (errors[event] = (errors[event] ?? 0) + 1)) };
		const credentials = host.readCredentials(job.dirs[i]!);
		const ports = host.hostPorts(storage, log);
		const missionPorts = scaledPorts({ clock: host.hostClock, timers: host.hostTimers, storage, log, random: host.hostRandom }, MS_PER_MIN);
		const seed = i + 1;
		const robot = createRobot(
			ports,
			{
				thing,
				endpoint: { host: '127.0.0.1', port: job.port, tls: { ...credentials, serverName: 'localhost' } },
				// a fleet that started together must not retry together: full jitter from 1 s
				link: { backoff: { baseMs: 1000, capMs: 15_000 }, connectTimeoutMs: 30_000 },
				upload: { crypto: hostCrypto, deviceKey: createHostDeviceKey(credentials.key), http, map: (j) => simulatedMap({ seed, areaM2: j.areaM2, ...squareFor(MAP_BYTES) }) },
			},
			missionPorts,
		);
		const sim = new CleaningSimulator(robot.missions, { timers: missionPorts.timers, random: host.hostRandom, log });
		const row: RobotRow = { thing, start: 0, connects: 0 };
		rows.push(row);
		const finish = () => {
			if (row.reportAcked !== undefined && row.mapUploaded !== undefined) {
				finished++;
				if (finished === robots.length) void complete();
			}
		};
		robot.link.listen({
			state(s) {
				if (s.value !== 'connected') return;
				row.connects++;
				row.connected ??= now();
			},
			delivered(_seq, topic) {
				if (!topic.includes('/report') || row.reportAcked !== undefined) return;
				row.reportAcked = now();
				finish();
			},
		});
		robot.schedule.listen((s) => {
			if (row.converged !== undefined || s.value !== 'synced' || !robot.schedule.value.entries.some((e) => e.id === FLEET_ENTRY_ID)) return;
			row.converged = now();
			if (++converged === robots.length) process.send!({ type: 'converged' } satisfies FromWorker);
		});
		robot.maps!.listen({
			uploaded() {
				if (row.mapUploaded !== undefined) return;
				row.mapUploaded = now();
				finish();
			},
		});
		return { robot, sim, row };
	});

	let completed = false;
	async function complete(): Promise<void> {
		if (completed) return;
		completed = true;
		clearInterval(ticker);
		for (const r of robots) {
			r.sim.stop();
			r.robot.stop();
		}
		process.send!({ type: 'done', rows, errors } satisfies FromWorker, () => process.exit(0));
	}
	const ticker = setInterval(() => process.send!({ type: 'progress', done: finished } satisfies FromWorker), 1000);
	process.on('message', (m: ToWorker) => {
		if (m.type === 'missions') {
			for (const r of robots) {
				r.row.missionStart = now();
				r.row.mission = r.sim.run('button');
			}
			return;
		}
		for (const r of robots) {
			r.row.start = now();
			r.robot.start();
		}
		// whatever is not done by then is reported as such (and shows as lost)
		setTimeout(() => void complete(), 300_000).unref();
	});
	process.send!({ type: 'ready', robots: robots.length } satisfies FromWorker);
}

export const fleetSection = benchSection({ name: 'fleet', title: 'simulated robots against one local cloud', run: (o) => benchFleet({ robots: o.robots, progress: o.progress }), markdown: fleetMarkdown });

// ---- CLI ---------------------------------------------------------------------------------------

if (process.argv.includes('--fleet-worker')) {
	await worker();
} else if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const { values } = (await import('node:util')).parseArgs({ options: { robots: { type: 'string', default: '1000' }, workers: { type: 'string' } } });
	const r = await benchFleet({ robots: Number(values.robots), ...(values.workers ? { workers: Number(values.workers) } : {}), progress: (m) => console.error(`[fleet] ${m}`) });
	console.log(fleetMarkdown(r).join('\n'));
	console.log(JSON.stringify(r, null, 2));
}
