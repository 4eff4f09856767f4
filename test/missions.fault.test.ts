/*
 * Fault tests of the mission reports (issue #5): "a mission report accepted by the
 * firmware reaches the cloud table exactly once, across disconnects, broker restarts
 * and power loss at any point" (design.md, "Quality bars").
 *
 * Each run: a fresh robot data dir; the simulated robot (tools/sim/robot.ts, its own
 * process, file storage) cleans K missions (2..6) on a fast mission clock and reaches
 * the local cloud through a TCP proxy (robot -> proxy -> broker). At random times the
 * run injects faults:
 *   kill    kill -9 of the robot process (power loss), then a restart on the same data
 *           dir with --missions = what is left, so it keeps cleaning;
 *   broker  stopBroker, a random pause, startBroker (the whole local cloud's broker, so
 *           with FAULT_CONCURRENCY > 1 it hits the other run too);
 *   cut     the proxy drops the link and refuses connections for a random span.
 * Then everything heals and the run waits until the robot's storage holds no report
 * (`mr.*`, `ob.*`, `op.*`) and no running mission (`mis.cur`, `mis.cur.new`), and the rule engine is idle.
 * Checked against DynamoDB: every mission the robot started has exactly one item, and
 * no item is invented. "Started" is every `sim.mission_started` log line plus, after
 * each kill, the id in `mis.cur` (persisted before the log line, so a kill in between
 * leaves a mission only that file knows).
 *
 *   FAULT_RUNS=50         how many randomized runs (default 50)
 *   FAULT_SEED=123        the master seed (default: random, printed; a failure names it)
 *   FAULT_ONLY=17         run only run #17 of that seed (reproduces one failure)
 *   FAULT_CONCURRENCY=2   runs at once, each with its own thing, proxy and robot
 *
 * The robot's own randomness (cleaning model, backoff jitter) and process timing are not
 * seeded: a seed fixes the plan of faults, not every interleaving.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../cloud/lib/aws';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import type { LogEntry } from '../cloud/local/log';
import { TABLES } from '../cloud/tables';
import { seededRandom } from '../firmware/platform/portable/random';
import { startProxy, type Proxy } from './support/proxy';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROBOT = path.join(root, 'tools/sim/robot.ts');

function intEnv(name: string, fallback: number, min: number): number {
	const raw = process.env[name];
	if (raw === undefined || raw === '') return fallback;
	const n = Number(raw);
	if (!Number.isInteger(n) || n < min) throw new RangeError(`${name} expected an integer >= ${min}, got ${JSON.stringify(raw)}`);
	return n;
}

const RUNS = intEnv('FAULT_RUNS', 50, 1);
const SEED = intEnv('FAULT_SEED', (Math.random() * 2 ** 32) >>> 0, 0) >>> 0;
const ONLY = process.env.FAULT_ONLY ? intEnv('FAULT_ONLY', 0, 0) : undefined;
const CONCURRENCY = intEnv('FAULT_CONCURRENCY', 2, 1);
/** Real ms per simulated minute: a TYPICAL_HOME mission (about an hour) takes about 0.3 s. */
const MS_PER_MIN = 5;
const MISSION_MS = 330;
const RUN_TIMEOUT_MS = 45_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- seeded plans ---------------------------------------------------------------------------

/** mulberry32 (the simulator's generator): the same seed gives the same fault plan. */
function prng(seed: number): () => number {
	const g = seededRandom(seed);
	return () => g.random();
}

type FaultKind = 'kill' | 'broker' | 'cut';
interface Fault {
	readonly kind: FaultKind;
	/** ms after the run's first boot, or after the robot logged its `afterReport`-th `mission.report` */
	readonly atMs: number;
	/** 1-based: aims the fault at the window where a report is on its way (written, queued, unacknowledged) */
	readonly afterReport?: number;
	/** kill: before the restart; broker: while it is down; cut: how long the link is cut */
	readonly pauseMs: number;
}
interface Plan {
	readonly run: number;
	readonly seed: number;
	readonly missions: number;
	/** one-way latency the proxy adds: widens the window between PUBLISH and PUBACK */
	readonly latencyMs: number;
	readonly faults: readonly Fault[];
}

function planOf(run: number): Plan {
	const seed = (Math.imul(SEED ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(run + 1, 0xc2b2ae35)) >>> 0;
	const r = prng(seed);
	const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
	const missions = int(2, 6);
	const latencyMs = r() < 0.5 ? 0 : int(1, 25);
	const span = missions * MISSION_MS + 300;
	const faults: Fault[] = [];
	for (let i = int(1, 4); i > 0; i--) {
		const x = r();
		const kind: FaultKind = x < 0.45 ? 'kill' : x < 0.75 ? 'cut' : 'broker';
		const pauseMs = kind === 'kill' ? int(0, 300) : kind === 'cut' ? int(20, 1000) : int(20, 800);
		// half the faults at a random time, half a few ms after a report was written
		if (r() < 0.5) faults.push({ kind, atMs: int(0, span), pauseMs });
		else faults.push({ kind, afterReport: int(1, missions), atMs: int(0, 2 * latencyMs + 8), pauseMs });
	}
	return { run, seed, missions, latencyMs, faults };
}

// ---- the robot process ----------------------------------------------------------------------

interface RobotLine {
	readonly event: string;
	readonly mission?: string;
	readonly outcome?: string;
	readonly [k: string]: unknown;
}

/** One robot (one data dir) across its processes: boots, kills, and everything it logged. */
/** A report on its way: written (`mr.`) or in the outbox (`ob.` accepted, `op.` sent with its packet id). */
const isReportKey = (k: string): boolean => k.startsWith('mr.') || k.startsWith('ob.') || k.startsWith('op.');

class SimRobot {
	readonly lines: RobotLine[] = [];
	readonly started = new Set<string>();
	/** mission id -> outcome logged by `mission.report` */
	readonly reported = new Map<string, string>();
	readonly interrupted = new Set<string>();
	boots = 0;
	kills = 0;
	/** kills that found a report in storage (`mr.*`, or the outbox's `ob.*` / `op.*` once sent): a report was on its way */
	killsWithReport = 0;
	/** kills that found a running mission (`mis.cur`) */
	killsMidMission = 0;
	/** missions known only from `mis.cur` after a kill (persisted, killed before the log line) */
	onlyFromFile = 0;
	#proc: ChildProcess | undefined;
	#exited: Promise<void> = Promise.resolve();
	#stderr = '';
	crashed: string | undefined;

	constructor(
		readonly thing: string,
		readonly dir: string,
		readonly credentials: string,
		readonly port: number,
		readonly missions: number,
	) {}

	get storage(): string {
		return path.join(this.dir, 'storage');
	}

	keys(): string[] {
		try {
			return readdirSync(this.storage).filter((k) => !k.endsWith('.tmp'));
		} catch {
			return [];
		}
	}

	spawn(): void {
		const left = Math.max(0, this.missions - this.started.size);
		const args = ['--import', 'tsx', ROBOT, '--thing', this.thing, '--credentials', this.credentials, '--data', this.dir, '--port', String(this.port), '--missions', String(left), '--ms-per-min', String(MS_PER_MIN), '--gap-ms', '20'];
		const proc = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
		this.#proc = proc;
		this.boots++;
		let buf = '';
		proc.stdout!.setEncoding('utf8');
		proc.stdout!.on('data', (d: string) => {
			buf += d;
			for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
				const line = buf.slice(0, i);
				buf = buf.slice(i + 1);
				this.#line(line);
			}
		});
		proc.stderr!.setEncoding('utf8');
		proc.stderr!.on('data', (d: string) => {
			this.#stderr = (this.#stderr + d).slice(-4000);
		});
		this.#exited = new Promise((resolve) =>
			proc.once('exit', (code, signal) => {
				if (this.#proc === proc && signal !== 'SIGKILL') this.crashed = `exited with ${code ?? signal}: ${this.#stderr}`;
				resolve();
			}),
		);
	}

	/** Resolves once the robot has written its `n`-th report: at a mission's end, or at boot for one cut short. */
	reportLogged(n: number): Promise<void> {
		return new Promise((resolve) => {
			const check = () => {
				if (this.lines.filter((l) => l.event === 'mission.report' || l.event === 'mission.interrupted').length >= n) return resolve();
				this.#waiters.push(check);
			};
			check();
		});
	}
	#waiters: (() => void)[] = [];

	#line(text: string): void {
		let l: RobotLine;
		try {
			l = JSON.parse(text) as RobotLine;
		} catch {
			l = { event: 'raw', text };
		}
		this.lines.push(l);
		if (l.event === 'sim.mission_started' && l.mission) this.started.add(l.mission);
		else if (l.event === 'mission.report' && l.mission) this.reported.set(l.mission, String(l.outcome));
		else if (l.event === 'mission.interrupted' && l.mission) this.interrupted.add(l.mission);
		if (l.event === 'mission.report' || l.event === 'mission.interrupted') for (const w of this.#waiters.splice(0)) w();
	}

	/** kill -9: power loss. Reads `mis.cur` once the process is gone. */
	async kill(): Promise<void> {
		const proc = this.#proc;
		if (!proc) return;
		proc.kill('SIGKILL');
		await this.#exited;
		this.kills++;
		const keys = this.keys();
		if (keys.some(isReportKey)) this.killsWithReport++;
		// a two-phase record (firmware/core/util/record.ts): the scratch copy, when there, is the newest
		const cur = [path.join(this.storage, 'mis.cur.new'), path.join(this.storage, 'mis.cur')].find((f) => existsSync(f));
		if (cur) {
			this.killsMidMission++;
			const id = (JSON.parse(readFileSync(cur, 'utf8')) as { id: string }).id;
			if (!this.started.has(id)) this.onlyFromFile++;
			this.started.add(id);
		}
	}

	async stop(): Promise<void> {
		const proc = this.#proc;
		this.#proc = undefined;
		if (proc && proc.exitCode === null && proc.signalCode === null) {
			proc.kill('SIGKILL');
			await this.#exited;
		}
	}

	/** Nothing left on the robot: every mission started, none running, no report waiting. */
	settled(): boolean {
		if (this.started.size < this.missions) return false;
		return !this.keys().some((k) => k === 'mis.cur' || k === 'mis.cur.new' || isReportKey(k));
	}

	tail(n = 25): string {
		return this.lines
			.slice(-n)
			.map((l) => JSON.stringify(l))
			.join('\n');
	}
}

// ---- the test -------------------------------------------------------------------------------

interface Totals {
	missions: number;
	kills: number;
	killsMidMission: number;
	killsWithReport: number;
	onlyFromFile: number;
	brokerRestarts: number;
	cuts: number;
	interrupted: number;
	boots: number;
	duplicates: number;
	outcomes: Record<string, number>;
}

describe('mission reports under faults: power loss, broker restarts, link cuts (issue #5)', function () {
	this.timeout(RUN_TIMEOUT_MS * Math.ceil(RUNS / CONCURRENCY) + 60_000);
	const things = Array.from({ length: CONCURRENCY }, (_, i) => 'fault-' + i);
	let dir: string;
	let cloud: LocalCloud;
	let ddb: DynamoDBDocumentClient;
	/** the broker's port: the same after every restart (`cloud.broker` throws while it is down) */
	let brokerPort: number;
	/** the handler's and the rule engine's log lines, by thing (rules.* under '') */
	const cloudLog = new Map<string, LogEntry[]>();
	let brokerChain: Promise<void> = Promise.resolve();
	const totals: Totals = {
		missions: 0,
		kills: 0,
		killsMidMission: 0,
		killsWithReport: 0,
		onlyFromFile: 0,
		brokerRestarts: 0,
		cuts: 0,
		interrupted: 0,
		boots: 0,
		duplicates: 0,
		outcomes: {},
	};

	before(async function () {
		this.timeout(60_000);
		dir = mkdtempSync(path.join(tmpdir(), 'missions-fault-'));
		cloud = await startLocalCloud({
			dataDir: dir,
			things,
			inMemory: true,
			log: (e) => {
				if (!e.event.startsWith('mission_report.') && !e.event.startsWith('rules.')) return;
				if (e.event === 'rules.invoked') return;
				const key = typeof e.thing === 'string' ? e.thing : '';
				let list = cloudLog.get(key);
				if (!list) cloudLog.set(key, (list = []));
				list.push(e);
			},
		});
		brokerPort = cloud.broker.port;
		ddb = createDocumentClient({ region: LOCAL_REGION, endpoint: cloud.endpoints.dynamodb, credentials: { ...LOCAL_CREDENTIALS } });
	});

	after(async () => {
		ddb?.destroy();
		await cloud?.close();
		if (dir) rmSync(dir, { recursive: true, force: true });
	});

	const stored = async (thing: string) => {
		const out = await ddb.send(
			new QueryCommand({
				TableName: cloud.tables.missions,
				KeyConditionExpression: '#t = :t',
				ExpressionAttributeNames: { '#t': TABLES.missions.partitionKey.name },
				ExpressionAttributeValues: { ':t': thing },
				ConsistentRead: true,
			}),
		);
		return (out.Items ?? []) as { missionId: string; outcome: string }[];
	};
	const clear = async (thing: string) => {
		for (const item of await stored(thing)) await ddb.send(new DeleteCommand({ TableName: cloud.tables.missions, Key: { [TABLES.missions.partitionKey.name]: thing, [TABLES.missions.sortKey!.name]: item.missionId } }));
		cloudLog.delete(thing);
	};

	/** Serialized: runs share the broker, and a second restart must not start it twice. */
	const restartBroker = (pauseMs: number): Promise<void> => {
		const next = brokerChain.then(async () => {
			await cloud.stopBroker();
			await sleep(pauseMs);
			await cloud.startBroker();
			totals.brokerRestarts++;
		});
		brokerChain = next.catch(() => undefined);
		return next;
	};

	async function runOnce(plan: Plan, thing: string): Promise<void> {
		await clear(thing);
		const data = mkdtempSync(path.join(dir, 'robot-'));
		const proxy: Proxy = await startProxy({ host: '127.0.0.1', port: brokerPort });
		const robot = new SimRobot(thing, data, cloud.pki.paths.thing(thing).dir, proxy.port, plan.missions);
		let cutDepth = 0;
		let cuts = 0;
		let killChain: Promise<void> = Promise.resolve();
		const t0 = performance.now();
		const context = () =>
			[
				`seed ${SEED}, run ${plan.run} (reproduce: FAULT_SEED=${SEED} FAULT_ONLY=${plan.run}), plan ${JSON.stringify(plan)}`,
				`started ${JSON.stringify([...robot.started])}, robot storage ${JSON.stringify(robot.keys())}`,
				'robot log (last lines):',
				robot.tail(),
			].join('\n');
		try {
			proxy.latency(plan.latencyMs);
			robot.spawn();
			const faults = plan.faults.map(async (f) => {
				if (f.afterReport !== undefined) {
					// a kill just after a report was written but before its log line can leave the count short: then late
					await Promise.race([robot.reportLogged(f.afterReport), sleep(plan.missions * MISSION_MS * 3 + 3000)]);
					await sleep(f.atMs);
				} else await sleep(Math.max(0, t0 + f.atMs - performance.now()));
				switch (f.kind) {
					case 'kill': {
						const k = killChain.then(async () => {
							await robot.kill();
							await sleep(f.pauseMs);
							robot.spawn();
						});
						killChain = k.catch(() => undefined);
						return k;
					}
					case 'cut':
						cuts++;
						if (cutDepth++ === 0) proxy.cut();
						await sleep(f.pauseMs);
						if (--cutDepth === 0) proxy.restore();
						return;
					case 'broker':
						return restartBroker(f.pauseMs);
				}
			});
			await Promise.all(faults);
			await killChain;
			// healed: wait for the robot to finish its missions and deliver every report
			for (;;) {
				if (robot.crashed) assert.fail('the robot process died on its own: ' + robot.crashed + '\n' + context());
				if (robot.settled()) {
					await brokerChain;
					await cloud.rules.idle();
					if (robot.settled()) break;
				}
				if (performance.now() - t0 > RUN_TIMEOUT_MS) assert.fail(`not settled after ${RUN_TIMEOUT_MS} ms\n` + context());
				await sleep(25);
			}
			await cloud.rules.idle();

			const items = await stored(thing);
			const ids = items.map((i) => i.missionId);
			const lost = [...robot.started].filter((id) => !ids.includes(id));
			const invented = ids.filter((id) => !robot.started.has(id));
			assert.deepEqual(lost, [], 'missions started but never stored (lost)\n' + context());
			assert.deepEqual(invented, [], 'reports stored for missions never started (invented)\n' + context());
			assert.equal(ids.length, new Set(ids).size, 'a mission stored twice\n' + context());
			assert.equal(robot.started.size, plan.missions, 'missions started\n' + context());
			// what the robot logged is what the table holds
			const byId = new Map(items.map((i) => [i.missionId, i]));
			for (const [id, outcome] of robot.reported) assert.equal(byId.get(id)?.outcome, outcome, `outcome of ${id}\n` + context());
			for (const id of robot.interrupted) assert.equal(byId.get(id)?.outcome, 'interrupted', `outcome of ${id}, reported at boot\n` + context());

			const log = cloudLog.get(thing) ?? [];
			const storedLines = log.filter((e) => e.event === 'mission_report.stored').map((e) => e.missionId as string);
			assert.deepEqual([...storedLines].sort(), [...ids].sort(), 'one mission_report.stored per item\n' + context());
			const dups = log.filter((e) => e.event === 'mission_report.duplicate');
			// a resend carries the same bytes: a duplicate that differs is a second, different report of one mission
			for (const d of dups) assert.deepEqual(d.differs, [], `duplicate of ${String(d.missionId)} differs from the stored one\n` + context());
			const refused = log.filter((e) => e.event === 'mission_report.refused' || e.event === 'mission_report.store_failed');
			assert.deepEqual(refused, [], 'reports refused or failed\n' + context());

			totals.missions += ids.length;
			totals.kills += robot.kills;
			totals.killsMidMission += robot.killsMidMission;
			totals.killsWithReport += robot.killsWithReport;
			totals.onlyFromFile += robot.onlyFromFile;
			totals.cuts += cuts;
			totals.interrupted += robot.interrupted.size;
			totals.boots += robot.boots;
			totals.duplicates += dups.length;
			for (const i of items) totals.outcomes[i.outcome] = (totals.outcomes[i.outcome] ?? 0) + 1;
		} finally {
			await robot.stop();
			if (cutDepth > 0) proxy.restore();
			await proxy.close();
			rmSync(data, { recursive: true, force: true });
		}
	}

	it(`stores every started mission exactly once and invents none (${ONLY !== undefined ? 'run ' + ONLY : RUNS + ' runs'}, seed ${SEED})`, async () => {
		const started = performance.now();
		const queue = ONLY !== undefined ? [ONLY] : Array.from({ length: RUNS }, (_, i) => i);
		const failures: unknown[] = [];
		await Promise.all(
			things.map(async (thing) => {
				for (let run = queue.shift(); run !== undefined && failures.length === 0; run = queue.shift()) {
					try {
						await runOnce(planOf(run), thing);
					} catch (e) {
						failures.push(e);
					}
				}
			}),
		);
		const rulesLog = cloudLog.get('') ?? [];
		const rulesFailed = rulesLog.filter((e) => e.event === 'rules.failed' || e.event.startsWith('rules.basic_ingest.'));
		const handlerErrors = rulesLog.filter((e) => e.event === 'rules.handler.error').length;
		const seconds = ((performance.now() - started) / 1000).toFixed(1);
		const runs = ONLY !== undefined ? 1 : RUNS;
		console.log(
			`      faults (seed ${SEED}, ${runs} run${runs === 1 ? '' : 's'}, ${seconds} s): ${totals.missions} missions stored ${JSON.stringify(totals.outcomes)}; ` +
				`${totals.kills} kills (${totals.killsMidMission} mid-mission, ${totals.killsWithReport} with a report in storage, ${totals.onlyFromFile} known only from mis.cur), ` +
				`${totals.boots} boots, ${totals.brokerRestarts} broker restarts, ${totals.cuts} link cuts, ` +
				`${totals.interrupted} interrupted missions reported at boot, ${totals.duplicates} duplicate deliveries absorbed by the handler, ${handlerErrors} handler errors retried`,
		);
		if (failures.length > 0) throw failures[0];
		assert.deepEqual(rulesFailed, [], 'rule invocations failed or reports not routed');
	});
});
