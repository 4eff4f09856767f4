/*
 * The reconnect storm measured (bench section `storm`): N simulated robots (createRobot on
 * host ports, default 1,000) in worker processes against one cloud/local. All connect;
 * then the broker is stopped (every robot sees its connection closed at once), kept down
 * `outageMs`, and started again on the same port. Each robot records, on the wall clock,
 * every connection attempt (state `connecting`) and every CONNACK (state `connected`), so
 * the same curves as the model (bench/storm-model.ts) come out: attempts and connects per
 * second, time from the broker's return to 50/99/100% connected.
 *
 *   npx tsx bench/storm-live.ts [--robots N] [--outage-s S]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalCloud } from '../cloud/local/index';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '../firmware/core/link/backoff';
import { createDevPki, issueDevice, writeDevice } from '../cloud/local/dev-pki';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

export interface LiveStormResult {
	readonly robots: number;
	readonly outageMs: number;
	readonly policy: BackoffPolicy;
	/** ms from the broker's stop: attempts while it was down are in `refused`. */
	readonly attempts: number[];
	/** ms from the broker's stop of every first CONNACK after it. */
	readonly connects: number[];
	/** ms from the broker's stop at which each robot saw its connection go (the broker closes them one by one). */
	readonly losses: number[];
	/** How long the broker took to stop and to start (ms): the outage really was outageMs + these. */
	readonly stopMs: number;
	readonly restartAtMs: number;
	readonly initialConnectMs: number;
	readonly load: { start: number; end: number };
	readonly errors: Record<string, number>;
}

type ToWorker = { type: 'go' } | { type: 'mark' } | { type: 'finish' };
type FromWorker = { type: 'ready' } | { type: 'connected' } | { type: 'reconnected' } | { type: 'done'; attempts: number[]; connects: number[]; losses: number[]; errors: Record<string, number> };

const now = () => performance.timeOrigin + performance.now();

export async function benchStormLive(o: { robots: number; outageMs: number; workers?: number; progress?: (m: string) => void }): Promise<LiveStormResult> {
	const progress = o.progress ?? (() => {});
	if (!Number.isInteger(o.robots) || o.robots < 1 || o.robots > 5000) throw new RangeError('"robots" expected 1..5000, got ' + o.robots);
	if (!(o.outageMs >= 0)) throw new RangeError('"outageMs" expected >= 0, got ' + o.outageMs);
	const workers = o.workers ?? Math.min(2, o.robots);
	const things = Array.from({ length: o.robots }, (_, i) => `fleet-${String(i + 1).padStart(4, '0')}`);
	// the fleet section's certificates, made once and shared
	const dataDir = path.join(root, 'build', 'bench-fleet');
	const pkiDir = path.join(dataDir, 'pki');
	const pki = await createDevPki(pkiDir);
	const missing = things.filter((t) => !fs.existsSync(pki.paths.thing(t).keyDer));
	for (let i = 0; i < missing.length; i += 4) {
		await Promise.all(missing.slice(i, i + 4).map(async (t) => writeDevice(pkiDir, await issueDevice(pki, t))));
		if ((i / 4) % 50 === 0) progress(`certificates ${Math.min(i + 4, missing.length)}/${missing.length}`);
	}
	progress(`starting the local cloud for ${o.robots} things`);
	const cloud = await startLocalCloud({ dataDir, things, inMemory: true });
	const procs: ChildProcess[] = [];
	const inbox: FromWorker[][] = [];
	const waiters: (() => void)[] = [];
	const poke = () => waiters.splice(0).forEach((w) => w());
	const all = async (type: FromWorker['type']) => {
		while (!inbox.every((ms) => ms.some((m) => m.type === type))) await new Promise<void>((r) => waiters.push(r));
	};
	try {
		for (let w = 0; w < workers; w++) {
			const slice = things.filter((_, i) => i % workers === w);
			const box: FromWorker[] = [];
			inbox.push(box);
			const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--storm-worker'], {
				cwd: root,
				stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
				env: { ...process.env, STORM_JOB: JSON.stringify({ things: slice, dirs: slice.map((t) => pki.paths.thing(t).dir), port: cloud.broker.port }) },
			});
			p.on('message', (m: FromWorker) => {
				box.push(m);
				poke();
			});
			p.once('exit', (code) => {
				if (!box.some((m) => m.type === 'done')) box.push({ type: 'done', attempts: [], connects: [], losses: [], errors: { [`worker exited ${code}`]: 1 } }, { type: 'ready' }, { type: 'connected' }, { type: 'reconnected' });
				poke();
			});
			procs.push(p);
		}
		await all('ready');
		const load0 = os.loadavg()[0]!;
		const t0 = now();
		for (const p of procs) p.send({ type: 'go' } satisfies ToWorker);
		await all('connected');
		const initialConnectMs = Math.round(now() - t0);
		progress(`${o.robots} robots connected in ${initialConnectMs} ms; stopping the broker for ${o.outageMs / 1000} s`);
		await new Promise((r) => setTimeout(r, 2000));
		for (const p of procs) p.send({ type: 'mark' } satisfies ToWorker);
		const stopAt = now();
		await cloud.stopBroker();
		const stopMs = Math.round(now() - stopAt);
		await new Promise((r) => setTimeout(r, o.outageMs));
		await cloud.startBroker();
		const restartAtMs = Math.round(now() - stopAt);
		progress(`broker back at ${restartAtMs} ms; waiting for every robot`);
		await all('reconnected');
		for (const p of procs) p.send({ type: 'finish' } satisfies ToWorker);
		await all('done');
		const done = inbox.flatMap((b) => b.filter((m): m is Extract<FromWorker, { type: 'done' }> => m.type === 'done'));
		const errors: Record<string, number> = {};
		for (const d of done) for (const [k, v] of Object.entries(d.errors)) errors[k] = (errors[k] ?? 0) + v;
		const rel = (xs: number[]) => xs.map((t) => Math.round(t - stopAt)).sort((a, b) => a - b);
		return {
			robots: o.robots,
			outageMs: o.outageMs,
			policy: DEFAULT_BACKOFF,
			attempts: rel(done.flatMap((d) => d.attempts)),
			connects: rel(done.flatMap((d) => d.connects)),
			losses: rel(done.flatMap((d) => d.losses)),
			stopMs,
			restartAtMs,
			initialConnectMs,
			load: { start: Math.round(load0 * 10) / 10, end: Math.round(os.loadavg()[0]! * 10) / 10 },
			errors,
		};
	} finally {
		for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
		await cloud.close();
	}
}

async function worker(): Promise<void> {
	const job = JSON.parse(process.env.STORM_JOB ?? '') as { things: string[]; dirs: string[]; port: number };
	const { createRobot } = await import('../firmware/core/robot/robot');
	const host = await import('../firmware/platform/host/index');
	const errors: Record<string, number> = {};
	const attempts: number[] = [];
	const connects: number[] = [];
	const losses: number[] = [];
	const lost = new Set<number>();
	let marked = false;
	let connected = 0;
	/** Robots connected again after the mark. */
	let back = 0;
	const again = new Set<number>();
	const robots = job.things.map((thing, i) => {
		const log = { log: (level: string, event: string) => void ((level === 'warn' || level === 'error') && event !== 'link.state' && (errors[event] = (errors[event] ?? 0) + 1)) };
		const credentials = host.readCredentials(job.dirs[i]!);
		// the firmware's default backoff: what a robot in the field does
		const robot = createRobot(host.hostPorts(host.createMemoryStorage(), log), {
			thing,
			endpoint: { host: '127.0.0.1', port: job.port, tls: { ...credentials, serverName: 'localhost' } },
		});
		let first = true;
		robot.link.listen({
			state(s) {
				if (s.value === 'connecting' && marked) attempts.push(now());
				if (s.value !== 'connected' && marked && !lost.has(i)) {
					lost.add(i);
					losses.push(now());
				}
				if (s.value !== 'connected') return;
				if (first) {
					first = false;
					if (++connected === job.things.length) process.send!({ type: 'connected' } satisfies FromWorker);
				}
				if (marked && !again.has(i)) {
					again.add(i);
					connects.push(now());
					if (++back === job.things.length) process.send!({ type: 'reconnected' } satisfies FromWorker);
				}
			},
		});
		return robot;
	});
	process.on('message', (m: ToWorker) => {
		if (m.type === 'go') for (const r of robots) r.start();
		else if (m.type === 'mark') marked = true;
		else {
			for (const r of robots) r.stop();
			process.send!({ type: 'done', attempts, connects, losses, errors } satisfies FromWorker, () => process.exit(0));
		}
	});
	process.send!({ type: 'ready' } satisfies FromWorker);
}

if (process.argv.includes('--storm-worker')) {
	await worker();
} else if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const { values } = (await import('node:util')).parseArgs({ options: { robots: { type: 'string', default: '1000' }, 'outage-s': { type: 'string', default: '30' } } });
	const r = await benchStormLive({ robots: Number(values.robots), outageMs: Number(values['outage-s']) * 1000, progress: (m) => console.error(`[storm] ${m}`) });
	const { attempts, connects, ...rest } = r;
	console.log(JSON.stringify({ ...rest, attemptsTotal: attempts.length, lastConnect: connects[connects.length - 1] }, null, 2));
}
