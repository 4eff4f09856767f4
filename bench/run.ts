/*
 * `npm run bench`: measures and writes bench/results.json (machine-readable) and
 * bench/results.md (the same as tables, also printed). No thresholds: numbers only.
 *
 * Sections
 *   codec.node       encode/decode throughput of the firmware codec on Node (bench/codec.ts)
 *   codec.xs         the same codec inside the XS engine (xsnap worker): compute units and
 *                    heap slots per operation
 *   link.roundTrips  client flights and time from TCP connect to SUBACK, our Link vs MQTT.js,
 *                    against the local broker through the counting proxy
 *   device.lin       device scenarios on the Moddable `lin` runtime (echo, crypto, schedule,
 *                    mission, map upload): latency, image size, memory peaks against the
 *                    manifest's creation sizes, crypto throughput (bench/device-budget.ts;
 *                    only when MODDABLE is set)
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
 *
 *   storm            a fleet losing its broker at once: the firmware's backoff modelled at 2,000,000
 *                    robots against AWS IoT's connect limit, measured at 1,000 against the local
 *                    cloud beside the model of that run; draws docs/storm.svg (bench/storm.ts)
 *   health.billing   billed messages per robot per day of health reporting (bench/health.ts)
 *
 *   npx tsx bench/run.ts [--only codec.node,codec.xs,link.roundTrips,device.lin,schedule.reconnect,schedule.xs,missions.billing,commands.billing,maps,provision,fleet,storm,health.billing] [--runs N] [--robots N] [--device-scenarios a,b]
 *                   (device.lin on the board's word size with growth off: DEVICE_M32=1 DEVICE_CREATION=esp32)

 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TLSSocket } from 'node:tls';
import mqtt from 'mqtt';
import { benchCodec, SAMPLE_PACKETS, type CodecResult } from './codec';
import { evaluateEntry, withXsWorker, type XsWorker } from '../tools/xs/run';
import { createDevPki } from '../cloud/local/dev-pki';
import { reconnectMarkdown, scheduleReconnect, scheduleXs, xsMarkdown } from './schedule';
import { billingMarkdown, missionsBilling, type BillingResult } from './missions';
import { commandsBilling, commandsMarkdown, type CommandsBillingResult } from './commands';
import { benchMaps, mapsMarkdown, type MapsResult } from './maps';
import { benchProvision, provisionMarkdown, type ProvisionBenchResult } from './provision';
import { benchFleet, fleetMarkdown, type FleetResult } from './fleet';
import { benchStorm, stormMarkdown, type StormBench } from './storm';
import { healthBilling, healthMarkdown, type HealthBilling } from './health';
import { startBroker, type Broker } from '../cloud/local/broker';
import { startProxy, type Proxy } from '../test/support/proxy';
import { Link, type LinkPorts } from '../firmware/core/link/link';
import { createMemoryStorage, hostPorts, memoryLog, readCredentials } from '../firmware/platform/host/index';
import type { TlsCredentials } from '../firmware/ports';
import { fmt, median, percentile, round } from './stats';
import { OTA_SCENARIOS, otaMarkdown } from './device-ota';
import { BUDGET_SCENARIOS, budgetMarkdown, creationSizes, deviceBudget } from './device-budget';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

const SECTIONS = ['codec.node', 'codec.xs', 'link.roundTrips', 'device.lin', 'schedule.reconnect', 'schedule.xs', 'missions.billing', 'commands.billing', 'maps', 'provision', 'fleet', 'storm', 'health.billing'] as const;
type Section = (typeof SECTIONS)[number];

function parseArgs(argv: string[]): { only: Set<Section>; runs: number; robots: number; deviceScenarios: string[] } {
	let only = new Set<Section>(SECTIONS);
	let deviceScenarios: string[] = [...BUDGET_SCENARIOS, ...OTA_SCENARIOS];
	let runs = 20;
	let robots = 1000;
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i]!;
		if (a === '--only') {
			const v = argv[++i] ?? '';
			const picked = v.split(',').filter(Boolean);
			for (const p of picked) if (!(SECTIONS as readonly string[]).includes(p)) throw new Error(`--only: unknown section ${JSON.stringify(p)} (known: ${SECTIONS.join(', ')})`);
			only = new Set(picked as Section[]);
		} else if (a === '--runs') {
			runs = Number(argv[++i]);
			if (!Number.isInteger(runs) || runs < 1 || runs > 1000) throw new Error('--runs expected an integer 1..1000');
		} else if (a === '--robots') {
			robots = Number(argv[++i]);
			if (!Number.isInteger(robots) || robots < 1 || robots > 5000) throw new Error('--robots expected an integer 1..5000 (the fleet section)');
		} else if (a === '--device-scenarios') {
			deviceScenarios = (argv[++i] ?? '').split(',').filter(Boolean);
			if (!deviceScenarios.length) throw new Error('--device-scenarios expected a comma-separated list of device scenarios (test/device/scenarios)');
		} else throw new Error(`unknown argument ${JSON.stringify(a)} (use --only SECTIONS, --runs N, --robots N, --device-scenarios a,b)`);
	}
	return { only, runs, robots, deviceScenarios };
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	return Promise.race([
		p.finally(() => clearTimeout(timer)),
		new Promise<never>((_, reject) => {
			timer = setTimeout(() => reject(new Error(what + ' timed out after ' + ms + ' ms')), ms);
		}),
	]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- 1. codec.node ------------------------------------------------------------------------

function codecNode(): { results: CodecResult[] } {
	return { results: benchCodec() };
}

// ---- 2. codec.xs --------------------------------------------------------------------------

interface XsCodecRow {
	packet: string;
	bytes: number;
	/** compute units (XS bytecodes + builtin bulk units) per operation */
	computePerEncode: number;
	computePerDecode: number;
	/** heap slots created per operation, garbage included (no GC ran during the measured crank) */
	slotsPerEncode: number;
	slotsPerDecode: number;
	/** slots still live per decoded packet that the caller keeps */
	retainedSlotsPerDecode: number;
	/**
	 * live slots left after `gc()` once `steadyOps` encodes then decodes ran with nothing kept,
	 * minus the same for an empty evaluate: a real count, 0 when traffic leaves nothing behind
	 */
	retainedSlotsAfterGc: number;
	steadyOps: number;
}

/** Said from the numbers: traffic leaves live slots behind or it does not. */
export function codecHeapVerdict(rows: readonly { packet: string; retainedSlotsAfterGc: number }[]): string {
	const grown = rows.filter((r) => r.retainedSlotsAfterGc > 0);
	if (rows.length === 0) return 'Not measured.';
	return grown.length === 0 ? 'Every row is 0 or less: memory does not grow with traffic.' : 'Memory GROWS with traffic for ' + grown.map((r) => r.packet + ' (' + r.retainedSlotsAfterGc + ' slots)').join(', ') + '.';
}

const XS_SLOT_BYTES = 32; // sizeof(txSlot) on 64-bit hosts; 16 on the 32-bit MCUs

async function codecXs(): Promise<{ bundleBytes: number; slotBytes: number; rows: XsCodecRow[] }> {
	const N = 200; // small enough that no GC runs inside one crank (checked: slots grow linearly)
	const RETAIN = 100;
	const STEADY = 5000;
	return withXsWorker(
		async (w: XsWorker) => {
			const loaded = await evaluateEntry(w, join(here, 'xs-codec-entry.ts'));
			const run = async (code: string) => (await w.evaluate(code)).meter;
			const rows: XsCodecRow[] = [];
			for (const name of Object.keys(SAMPLE_PACKETS)) {
				const q = JSON.stringify(name);
				const per = async (fn: string) => {
					// fixed cost of the call (n = 0) subtracted; a fresh gc() first so the slot gauge counts only this crank
					await run('gc()');
					const zeroBefore = await run('');
					const zero = await run(`codecBench.${fn}(${q}, 0)`);
					await run('gc()');
					const before = await run('');
					const m = await run(`codecBench.${fn}(${q}, ${N})`);
					const zeroSlots = zero.currentHeapCount - zeroBefore.currentHeapCount;
					return { compute: (m.compute - zero.compute) / N, slots: (m.currentHeapCount - before.currentHeapCount - zeroSlots) / N };
				};
				const enc = await per('encodeLoop');
				const dec = await per('decodeLoop');
				await run('codecBench.release(); gc()');
				const r0 = await run('');
				await run(`codecBench.decodeRetain(${q}, ${RETAIN}); gc()`);
				const r1 = await run('');
				// a real count after a forced collection (the meter's `allocate` steps in MiB): the
				// same sequence of evaluates with 0 and with STEADY operations, so the worker's own
				// slot per evaluate cancels out
				const retained = async (ops: number) => {
					const a = await run('codecBench.release(); gc()');
					await run(`codecBench.encodeLoop(${q}, ${ops}); codecBench.decodeLoop(${q}, ${ops})`);
					const b = await run('gc()');
					return b.currentHeapCount - a.currentHeapCount;
				};
				const control = await retained(0);
				const loaded = await retained(STEADY);
				rows.push({
					packet: name,
					bytes: 0,
					computePerEncode: Math.round(enc.compute),
					computePerDecode: Math.round(dec.compute),
					slotsPerEncode: round(enc.slots),
					slotsPerDecode: round(dec.slots),
					retainedSlotsPerDecode: round((r1.currentHeapCount - r0.currentHeapCount) / RETAIN),
					retainedSlotsAfterGc: loaded - control,
					steadyOps: STEADY,
				});
			}
			const sizes = JSON.parse(new TextDecoder().decode((await w.evaluate('new TextEncoder().encode(codecBench.sizes()).buffer')).reply)) as Record<string, number>;
			for (const r of rows) r.bytes = sizes[r.packet] ?? 0;
			return { bundleBytes: loaded.bytes, slotBytes: XS_SLOT_BYTES, rows };
		},
		{ stdout: 'ignore', stderr: 'inherit' },
	);
}

// ---- 3. link.roundTrips -------------------------------------------------------------------

interface ConnectSample {
	flights: number;
	ms: number;
	bytesUp: number;
	bytesDown: number;
	/** the TLS session was resumed (as the client's socket reported it), when known */
	resumed?: boolean;
}

interface RoundTripRow {
	client: string;
	tls: string;
	runs: number;
	flights: number;
	flightsMin: number;
	flightsMax: number;
	medianMs: number;
	p90Ms: number;
	bytesUp: number;
	bytesDown: number;
	resumedRuns?: number;
}

function summarize(client: string, tls: string, samples: ConnectSample[]): RoundTripRow {
	const flights = samples.map((s) => s.flights);
	const ms = samples.map((s) => s.ms);
	const resumed = samples.filter((s) => s.resumed !== undefined);
	return {
		client,
		tls,
		runs: samples.length,
		flights: median(flights),
		flightsMin: Math.min(...flights),
		flightsMax: Math.max(...flights),
		medianMs: round(median(ms), 2),
		p90Ms: round(percentile(ms, 90), 2),
		bytesUp: median(samples.map((s) => s.bytesUp)),
		bytesDown: median(samples.map((s) => s.bytesDown)),
		...(resumed.length ? { resumedRuns: resumed.filter((s) => s.resumed).length } : {}),
	};
}

async function waitGone(broker: Broker, thing: string): Promise<void> {
	for (let i = 0; broker.connectedThings().includes(thing); i++) {
		if (i > 400) throw new Error(thing + ' still connected to the broker after 2 s');
		await sleep(5);
	}
}

async function linkOnce(proxy: Proxy, broker: Broker, ports: LinkPorts, thing: string, creds: TlsCredentials): Promise<ConnectSample> {
	const index = proxy.stats.connections;
	const topic = `robots/${thing}/bench`;
	const link = new Link(ports, {
		clientId: thing,
		endpoint: { host: '127.0.0.1', port: proxy.port, tls: { ...creds, serverName: 'localhost' } },
		keepAlive: 60,
		connectTimeoutMs: 10_000,
	});
	let t0 = 0;
	const subscribed = new Promise<ConnectSample>((resolve, reject) => {
		link.listen({
			subscription(filter, granted) {
				if (filter !== topic) return;
				if (granted === 0x80) return reject(new Error('SUBSCRIBE ' + topic + ' refused'));
				const ms = performance.now() - t0;
				resolve({ flights: proxy.stats.flights[index] ?? NaN, ms, bytesUp: proxy.stats.bytesUp[index] ?? NaN, bytesDown: proxy.stats.bytesDown[index] ?? NaN });
			},
		});
	});
	const r = link.subscribe(topic, () => undefined);
	if (!r.ok) throw new Error('subscribe: ' + JSON.stringify(r.error));
	t0 = performance.now();
	link.start();
	try {
		return await timeout(subscribed, 10_000, 'Link connect+subscribe');
	} finally {
		link.stop();
		await waitGone(broker, thing);
	}
}

async function mqttjsOnce(proxy: Proxy, broker: Broker, thing: string, pems: { ca: string; cert: string; key: string }, session?: Buffer): Promise<ConnectSample & { session?: Buffer }> {
	const index = proxy.stats.connections;
	const topic = `robots/${thing}/bench`;
	const t0 = performance.now();
	const client = mqtt.connect({
		protocol: 'mqtts',
		host: '127.0.0.1',
		port: proxy.port,
		servername: 'localhost',
		ca: pems.ca,
		cert: pems.cert,
		key: pems.key,
		rejectUnauthorized: true,
		minVersion: 'TLSv1.2',
		maxVersion: 'TLSv1.2',
		...(session ? { session } : {}),
		clientId: thing,
		clean: false,
		keepalive: 60,
		reconnectPeriod: 0,
		connectTimeout: 10_000,
	} as mqtt.IClientOptions);
	const errored = new Promise<never>((_, reject) => client.once('error', reject));
	// the idiomatic use: subscribe at once; MQTT.js holds the SUBSCRIBE until CONNACK
	const subscribed = new Promise<ConnectSample & { session?: Buffer }>((resolve, reject) => {
		client.subscribe(topic, { qos: 1 }, (err, granted) => {
			if (err) return reject(err);
			if (!granted?.length || granted[0]!.qos === 0x80) return reject(new Error('SUBSCRIBE ' + topic + ' refused'));
			const ms = performance.now() - t0;
			const stream = client.stream as unknown as TLSSocket;
			resolve({
				flights: proxy.stats.flights[index] ?? NaN,
				ms,
				bytesUp: proxy.stats.bytesUp[index] ?? NaN,
				bytesDown: proxy.stats.bytesDown[index] ?? NaN,
				resumed: typeof stream.isSessionReused === 'function' ? stream.isSessionReused() : undefined,
				session: typeof stream.getSession === 'function' ? stream.getSession() : undefined,
			});
		});
	});
	try {
		return await timeout(Promise.race([subscribed, errored]), 10_000, 'MQTT.js connect+subscribe');
	} finally {
		await new Promise<void>((r) => client.end(true, {}, () => r()));
		await waitGone(broker, thing);
	}
}

async function linkRoundTrips(runs: number): Promise<{ rows: RoundTripRow[]; broker: string; proxy: string }> {
	const dir = mkdtempSync(join(os.tmpdir(), 'bench-pki-'));
	const LINK_THING = 'bench-link';
	const MQTTJS_THING = 'bench-mqttjs';
	let broker: Broker | undefined;
	let proxy: Proxy | undefined;
	try {
		const pki = await createDevPki(dir, { things: [LINK_THING, MQTTJS_THING] });
		broker = await startBroker({ ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem });
		proxy = await startProxy({ host: broker.host, port: broker.port });
		const creds = readCredentials(pki.paths.thing(LINK_THING).dir);
		const dev = pki.things.get(MQTTJS_THING)!;
		const pems = { ca: pki.ca.certPem, cert: dev.certPem, key: dev.keyPem };
		const quiet = () => hostPorts(createMemoryStorage(), memoryLog());

		// warm-up (JIT, broker session creation), not counted
		await linkOnce(proxy, broker, quiet(), LINK_THING, creds);
		await mqttjsOnce(proxy, broker, MQTTJS_THING, pems);

		const rows: RoundTripRow[] = [];
		// our Link, full handshake: a new socket port (so no cached TLS session) per connection
		const fresh: ConnectSample[] = [];
		for (let i = 0; i < runs; i++) fresh.push(await linkOnce(proxy, broker, quiet(), LINK_THING, creds));
		rows.push(summarize('Link (ours)', 'full TLS 1.2 handshake', fresh));

		// our Link, resumption: one socket port kept, as the device keeps its TLS session cache;
		// every connection is a new Link (a reboot-free reconnect would reuse the Link itself)
		const shared = quiet();
		await linkOnce(proxy, broker, shared, LINK_THING, creds); // leaves a session in the port
		const resumed: ConnectSample[] = [];
		for (let i = 0; i < runs; i++) {
			const storage = createMemoryStorage();
			resumed.push(await linkOnce(proxy, broker, { ...shared, storage }, LINK_THING, creds));
		}
		rows.push(summarize('Link (ours)', 'TLS session resumed', resumed));

		const mfresh: (ConnectSample & { session?: Buffer })[] = [];
		for (let i = 0; i < runs; i++) mfresh.push(await mqttjsOnce(proxy, broker, MQTTJS_THING, pems));
		rows.push(summarize('MQTT.js ' + mqttVersion(), 'full TLS 1.2 handshake (its default on every connect)', mfresh));

		let session = mfresh[mfresh.length - 1]?.session;
		const mres: ConnectSample[] = [];
		for (let i = 0; i < runs; i++) {
			const s = await mqttjsOnce(proxy, broker, MQTTJS_THING, pems, session);
			session = s.session ?? session;
			mres.push(s);
		}
		rows.push(summarize('MQTT.js ' + mqttVersion(), 'TLS session passed in by the application', mres));
		return { rows, broker: 'cloud/local/broker.ts (aedes, mutual TLS) on 127.0.0.1', proxy: 'test/support/proxy.ts (no added latency)' };
	} finally {
		await proxy?.close();
		await broker?.close();
		rmSync(dir, { recursive: true, force: true });
	}
}

function mqttVersion(): string {
	try {
		return (mqtt as unknown as { MqttClient?: { VERSION?: string } }).MqttClient?.VERSION ?? '';
	} catch {
		return '';
	}
}

// ---- 4. device.lin ------------------------------------------------------------------------

type DeviceResult = { skipped: string } | { ok: boolean; exitCode: number; verdict?: string; metrics: Record<string, unknown>[]; error?: string; tail?: string[]; wallMs: number };

/** A free port P with P+1 also free (the device runner uses P for the broker, P+1 for its relay). */
async function freePortPair(): Promise<number> {
	const tryListen = (port: number) =>
		new Promise<number | undefined>((resolve) => {
			const s = net.createServer();
			s.once('error', () => resolve(undefined));
			s.listen(port, '127.0.0.1', () => {
				const p = (s.address() as net.AddressInfo).port;
				s.close(() => resolve(p));
			});
		});
	for (let i = 0; i < 20; i++) {
		const p = await tryListen(0);
		if (p && p < 65535 && (await tryListen(p + 1))) return p;
	}
	throw new Error('no free port pair');
}

async function deviceLin(scenarios: readonly string[]): Promise<DeviceResult> {
	if (!process.env.MODDABLE) return { skipped: 'MODDABLE is not set (export MODDABLE=/opt/moddable-8.2.3 PATH=$MODDABLE/build/bin/lin/release:$PATH)' };
	const port = await freePortPair();
	const t0 = performance.now();
	const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/device/run.ts'), ...scenarios], {
		cwd: root,
		env: { ...process.env, DEVICE_BROKER_PORT: String(port) },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	const out: string[] = [];
	let partial = '';
	child.stdout!.on('data', (b: Buffer) => {
		const text = partial + b.toString();
		const lines = text.split('\n');
		partial = lines.pop() ?? '';
		out.push(...lines);
	});
	const err: string[] = [];
	child.stderr!.on('data', (b: Buffer) => err.push(...b.toString().split('\n').filter(Boolean)));
	// a bound for a stuck run, not a threshold: the budget scenarios, then the ota and robot-day cases (each several app starts)
	const limitMs = 1_200_000;
	const killer = setTimeout(() => child.kill('SIGTERM'), limitMs);
	const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
	clearTimeout(killer);
	if (partial) out.push(partial);
	const wallMs = Math.round(performance.now() - t0);
	if (out.some((l) => l.startsWith('device suite skipped'))) return { skipped: out.find((l) => l.startsWith('device suite skipped'))! };
	const metrics: Record<string, unknown>[] = [];
	for (const l of out) {
		if (!l.startsWith('device-metric ')) continue;
		try {
			metrics.push(JSON.parse(l.slice('device-metric '.length)) as Record<string, unknown>);
		} catch {
			/* not JSON */
		}
	}
	const verdict = out.find((l) => l.startsWith('device echo:'));
	const ok = code === 0 && scenarios.every((n) => out.some((l) => l.startsWith(`device ${n}: PASS`)));
	const result: DeviceResult = { ok, exitCode: code, metrics, wallMs, ...(verdict ? { verdict } : {}) };
	if (!ok) {
		result.error = code === -1 || wallMs >= limitMs ? `killed after ${limitMs} ms` : `test/device/run.ts exited ${code}`;
		result.tail = [...out, ...err].slice(-15);
	}
	return result;
}

// ---- report -------------------------------------------------------------------------------

function table(head: string[], rows: (string | number)[][]): string {
	const right = rows[0]?.map((c) => typeof c === 'number') ?? head.map(() => false);
	const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
	return ['| ' + head.join(' | ') + ' |', '| ' + head.map((_, i) => (right[i] ? '---:' : '---')).join(' | ') + ' |', ...cells.map((r) => '| ' + r.join(' | ') + ' |')].join('\n');
}

/** Where and when a section's figures were measured: README quotes them with this. */
export interface SectionMeta {
	date: string;
	/** the machine's 1-minute load average when the section started and ended (2 cores: 2 is full) */
	load: { start: number; end: number };
	/** `git rev-parse --short HEAD`, and whether tracked files differed from it */
	gitRevision: string;
	dirty: boolean;
	durationS: number;
	/** device figures: the Moddable SDK and the build they ran on */
	sdk?: { version: string; build: string };
}

export interface Results {
	machine: { cpus: number; cpuModel: string; memGiB: number; node: string; platform: string; arch: string };
	/** when this file was last written (sections keep their own date in `meta`) */
	date: string;
	durationMs?: number;
	sections: Partial<Record<Section, unknown>>;
	meta: Partial<Record<Section, SectionMeta>>;
}

function gitRevision(): { gitRevision: string; dirty: boolean } {
	const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
	const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' });
	if (rev.status !== 0) throw new Error('git rev-parse failed: ' + rev.stderr);
	return { gitRevision: rev.stdout.trim(), dirty: status.stdout.trim().length > 0 };
}

/** The SDK the device sections ran on: $MODDABLE/tools/VERSION, and the lin build as the runs recorded it (word size, debug as test/device/run.ts builds, creation). */
function sdkInfo(metrics: readonly Record<string, unknown>[]): { version: string; build: string } | undefined {
	const dir = process.env.MODDABLE;
	if (!dir || !existsSync(join(dir, 'tools/VERSION'))) return undefined;
	const image = metrics.find((m) => m.name === 'device.image');
	const variant = typeof image?.variant === 'string' ? image.variant : 'debug';
	const mem = metrics.filter((m) => m.name === 'device.memory');
	const bits = [...new Set(mem.map((m) => String(m.bits ?? 64)))].join('/');
	const creation = [...new Set(mem.map((m) => String(m.creation ?? 'lin')))].join(', ');
	return { version: readFileSync(join(dir, 'tools/VERSION'), 'utf8').trim(), build: `lin ${bits || '?'}-bit ${variant}, creation ${creation || '?'}` };
}

function markdown(r: Results): string {
	const s = r.sections;
	const md: string[] = [];
	md.push('# Benchmark results', '');
	md.push(
		`${r.machine.cpus} × ${r.machine.cpuModel} · ${r.machine.memGiB} GiB · Node ${r.machine.node} (${r.machine.platform}/${r.machine.arch}); file written ${r.date}` + (r.durationMs ? ` · last run took ${round(r.durationMs / 1000)} s` : ''),
		'',
	);
	md.push(
		'Generated by `npm run bench` (bench/run.ts); the same numbers are in bench/results.json. No thresholds: measurements only. `--only` re-measures some sections and keeps the others from earlier runs, so each section says when and where it was measured:',
		'',
	);
	md.push(
		table(
			['section', 'measured', 'load average start / end', 'git revision', 'took'],
			SECTIONS.filter((n) => r.meta[n]).map((n) => {
				const m = r.meta[n]!;
				return [n + (m.sdk ? ` (Moddable ${m.sdk.version}, ${m.sdk.build})` : ''), m.date, `${m.load.start} / ${m.load.end}`, m.gitRevision + (m.dirty ? ' + local changes' : ''), m.durationS + ' s'];
			}),
		),
		'',
	);

	const failed = (v: unknown): v is { error: string } => typeof v === 'object' && v !== null && 'error' in v && !('ok' in v);

	if (s['codec.node']) {
		md.push('## codec.node: MQTT codec on Node', '');
		const v = s['codec.node'];
		if (failed(v)) md.push('Failed: ' + v.error, '');
		else {
			const rows = (v as { results: CodecResult[] }).results;
			md.push(
				table(
					['packet', 'bytes', 'encode/s', 'decode/s', 'encode MB/s', 'decode MB/s'],
					rows.map((x) => [x.packet, x.bytes, x.encodePerSec, x.decodePerSec, x.encodeMBps, x.decodeMBps]),
				),
				'',
			);
			md.push('`encodeInto` into a buffer of the right size and `decode` of the whole frame, each looped for at least 300 ms on one core.', '');
		}
	}

	if (s['codec.xs']) {
		md.push('## codec.xs: the same codec inside the XS engine', '');
		const v = s['codec.xs'];
		if (failed(v)) md.push('Failed: ' + v.error, '');
		else {
			const x = v as Awaited<ReturnType<typeof codecXs>>;
			md.push(
				table(
					['packet', 'bytes', 'compute / encode', 'compute / decode', 'slots / encode', 'slots / decode', 'retained slots / decoded packet', `live slots left after gc() by ${fmt(x.rows[0]?.steadyOps ?? 0)} enc + dec`],
					x.rows.map((q) => [q.packet, q.bytes, q.computePerEncode, q.computePerDecode, q.slotsPerEncode, q.slotsPerDecode, q.retainedSlotsPerDecode, q.retainedSlotsAfterGc]),
				),
				'',
			);
			md.push(
				[
					`XS engine of @agoric/xsnap (xsnap-worker), the codec bundled by esbuild (${fmt(x.bundleBytes)} bytes with bench/xs-codec-entry.ts).`,
					"- **compute**: the meter's compute units (XS bytecodes executed, plus units builtins charge for bulk work) of one evaluate that runs the operation 200 times, minus the same call with 0 iterations, divided by 200. Deterministic: the same code gives the same count on any machine.",
					`- **slots / op**: growth of \`currentHeapCount\` (live slots after the crank) over that crank, started right after \`gc()\`, divided by 200. No collection runs inside the crank (the growth is linear in the iteration count), so this counts every slot the operation creates, garbage included. A slot is ${x.slotBytes} bytes on a 64-bit host, 16 bytes on the 32-bit MCU. Chunk memory (string and ArrayBuffer bodies) is not in this gauge.`,
					'- **retained slots / decoded packet**: live slots that stay after `gc()` per decoded packet the caller keeps (100 kept), i.e. the size of the packet object tree.',
					'- **live slots left after gc()**: `currentHeapCount` after a forced `gc()` following that many encodes then decodes with nothing kept, minus the same sequence with 0 operations. ' +
						codecHeapVerdict(x.rows) +
						' Chunk memory (byte bodies) is not in this count.',
				].join('\n'),
				'',
			);
		}
	}

	if (s['link.roundTrips']) {
		md.push('## link.roundTrips: TCP connect to SUBACK, mutual TLS', '');
		const v = s['link.roundTrips'];
		if (failed(v)) md.push('Failed: ' + v.error, '');
		else {
			const x = v as Awaited<ReturnType<typeof linkRoundTrips>>;
			md.push(
				table(
					['client', 'TLS', 'round trips (client flights)', 'median ms', 'p90 ms', 'bytes up', 'bytes down', 'runs'],
					x.rows.map((q) => [
						q.client,
						q.tls + (q.resumedRuns !== undefined ? ` (resumed ${q.resumedRuns}/${q.runs})` : ''),
						q.flightsMin === q.flightsMax ? String(q.flights) : `${q.flights} (${q.flightsMin}..${q.flightsMax})`,
						q.medianMs,
						q.p90Ms,
						q.bytesUp,
						q.bytesDown,
						q.runs,
					]),
				),
				'',
			);
			md.push(
				[
					`Broker: ${x.broker}; between client and broker the counting proxy, ${x.proxy}. Each client connects as its own thing with a dev-PKI device certificate (RSA 2048), TLS 1.2, clean session off, and subscribes QoS 1 to one filter \`robots/{thing}/bench\`.`,
					'- **round trips**: flights of client data counted by the proxy up to the SUBACK (consecutive client reads merge; a new flight starts after the server has spoken). The definition of design.md, "Performance targets".',
					'- **time**: from `link.start()` / `mqtt.connect()` (TCP connect to the proxy on loopback included) to the SUBACK reaching the client, median and 90th percentile; one warm-up connection per client not counted. Loopback, so the time is CPU (RSA handshake) more than latency: on a real network each round trip adds one RTT.',
					'- Link: CONNECT and SUBSCRIBE in the first write, before CONNACK. Resumption: one host socket port (`createSocketPort`) kept across connections, as the device keeps its TLS session cache; each connection is a new Link.',
					'- MQTT.js: `subscribe` called right after `connect`; it holds the SUBSCRIBE until CONNACK. It does not keep TLS sessions; the last row passes `session` (from `getSession()` of the previous connection) in by hand.',
				].join('\n'),
				'',
			);
			const ours = x.rows.find((q) => q.client.startsWith('Link') && q.tls.startsWith('full'));
			const theirs = x.rows.find((q) => q.client.startsWith('MQTT.js') && q.tls.startsWith('full'));
			if (ours && theirs && ours.medianMs > theirs.medianMs + 20)
				md.push(
					"**Note on time:** fewer round trips but more milliseconds here points at Nagle on the broker side: the local broker does not set TCP_NODELAY on accepted sockets, so for a pipelined CONNECT + SUBSCRIBE it writes CONNACK and SUBACK as two small segments and holds the second until the first is acknowledged, which the receiver delays (delayed ACK, ~40 ms on Linux). A client that waits for CONNACK before sending SUBSCRIBE piggybacks that acknowledgement and never sees the stall. `socket.setNoDelay(true)` in the broker's connection handler removes it.",
					'',
				);
		}
	}

	if (s['device.lin']) {
		md.push('## device.lin: Moddable runtime (lin, mcsim headless)', '');
		const v = s['device.lin'] as DeviceResult | { error: string };
		if ('skipped' in v) md.push('Skipped: ' + v.skipped, '');
		else if (!('ok' in v)) md.push('Failed: ' + v.error, '');
		else {
			const m = (name: string) => v.metrics.find((x) => x.name === name);
			const echo = v.metrics.find((x) => 'appStartToSubscribedMs' in x);
			const mem = v.metrics.find((x) => x.name === 'device.memory' && x.scenario === 'echo');
			const image = m('device.image');
			const scen = m('device.scenario');
			const rows: (string | number)[][] = [];
			rows.push(['verdict', v.verdict ?? (v.ok ? 'PASS' : 'FAIL')]);
			if (echo) {
				rows.push(['app start → SUBACK granted', echo.appStartToSubscribedMs + ' ms']);
				rows.push(['link start → SUBACK granted', echo.linkStartToSubscribedMs + ' ms']);
				rows.push(['link start → CONNACK', echo.linkStartToConnackMs + ' ms']);
			}
			if (image) {
				rows.push(['image: mc.so (' + image.variant + ')', fmt(Number(image.mcSoBytes)) + ' B']);
				rows.push(['image: compiled modules (.xsb)', fmt(Number(image.xsbBytes)) + ' B']);
			}
			if (mem) {
				const pair = (used: string, avail: string, unit: string) => `${fmt(Number(mem[used]))} / ${fmt(Number(mem[avail]))} ${unit}`;
				if ('chunkUsedPeak' in mem) rows.push(['peak chunk heap used / available', pair('chunkUsedPeak', 'chunkAvailablePeak', 'B')]);
				if ('slotUsedPeak' in mem) rows.push(['peak slot heap used / available', pair('slotUsedPeak', 'slotAvailablePeak', 'B')]);
				if ('stackUsedPeak' in mem) rows.push(['peak stack used / available', pair('stackUsedPeak', 'stackAvailablePeak', 'B')]);
				if ('keysUsedPeak' in mem) rows.push(['keys used', fmt(Number(mem.keysUsedPeak))]);
				if ('garbageCollectionsPeak' in mem) rows.push(['garbage collections', fmt(Number(mem.garbageCollectionsPeak))]);
				if ('networkBytesReadPeak' in mem) rows.push(['network bytes read / written', `${fmt(Number(mem.networkBytesReadPeak))} / ${fmt(Number(mem.networkBytesWrittenPeak))}`]);
				rows.push(['instrument samples', fmt(Number(mem.samples))]);
			}
			if (scen) rows.push(['build / run', `${scen.buildMs ?? '?'} ms / ${scen.runMs ?? '?'} ms`]);
			md.push(table(['metric', 'value'], rows), '');
			md.push(...otaMarkdown(v.metrics, table));
			if (!v.ok) md.push('Failed: ' + (v.error ?? '') + '\n\n```\n' + (v.tail ?? []).join('\n') + '\n```', '');
			md.push(
				"`test/device/run.ts echo` (mutual TLS, CONNECT + SUBSCRIBE, one QoS 1 echo) against the local broker. Times are `Time.ticks` differences inside the app. Memory figures are the peaks of the `instruments` lines the debug build prints once a second (bytes), so short peaks between samples are missed; the simulator's heaps are sized by the manifest, not the MCU.",
				'',
			);
			md.push(...budgetMarkdown(deviceBudget(v.metrics, creationSizes(root)), table));
		}
	}
	if (s['schedule.reconnect']) {
		md.push('## schedule.reconnect: connect to schedule converged, host robot on the local cloud', '');
		const v = s['schedule.reconnect'];
		if (failed(v)) md.push('Failed: ' + v.error, '');
		else md.push(...reconnectMarkdown(v as Awaited<ReturnType<typeof scheduleReconnect>>, table));
	}

	if (s['schedule.xs']) {
		md.push('## schedule.xs: applying a schedule delta inside the XS engine', '');
		const v = s['schedule.xs'];
		if (failed(v)) md.push('Failed: ' + v.error, '');
		else md.push(...xsMarkdown(v as Awaited<ReturnType<typeof scheduleXs>>, table));
	}

	if (s['missions.billing']) {
		md.push('## missions.billing: billed AWS IoT messages and bytes per one-hour mission', '');
		const v = s['missions.billing'];
		if (failed(v)) md.push('Failed: ' + v.error, '');
		else md.push(...billingMarkdown(v as BillingResult, table));
	}

	if (s['commands.billing']) {
		md.push("## commands.billing: billed AWS IoT messages per command from the owner's app", '');
		const v = s['commands.billing'];
		if (failed(v)) md.push('Failed: ' + v.error, '');
		else md.push(commandsMarkdown(v as CommandsBillingResult), '');
	}

	if (s.maps) {
		md.push('## maps: map encryption and upload', '');
		const v = s.maps;
		if (failed(v)) md.push('Failed: ' + v.error, '');
		else md.push(...mapsMarkdown(v as MapsResult, table));
	}

	if (s.provision) {
		md.push('## provision: factory provisioning, CA key in SoftHSM2', '');
		const v = s.provision;
		if (failed(v)) md.push('Failed: ' + v.error, '');
		else md.push(...provisionMarkdown(v as ProvisionBenchResult, table));
	}

	if (s.fleet) {
		md.push('## fleet: simulated robots against one local cloud', '');
		const v = s.fleet;
		if (failed(v)) md.push('Failed: ' + v.error, '');
		else md.push(...fleetMarkdown(v as FleetResult));
	}

	if (s.storm) {
		md.push('## storm: a fleet losing its broker at once (model at 2,000,000, measured at 1,000)', '');
		const v = s.storm;
		if (failed(v)) md.push('Failed: ' + v.error, '');
		else md.push(...stormMarkdown(v as StormBench));
	}

	if (s['health.billing']) {
		md.push('## health.billing: billed messages per robot per day of health reporting', '');
		const v = s['health.billing'];
		if (failed(v)) md.push('Failed: ' + v.error, '');
		else md.push(...healthMarkdown(v as HealthBilling));
	}
	return md.join('\n');
}

async function main(): Promise<void> {
	const { only, runs, robots, deviceScenarios } = parseArgs(process.argv.slice(2));
	const started = performance.now();
	const cpus = os.cpus();
	// sections not run this time are kept from the file, each with its own date and revision
	const earlier = readEarlier();
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
	const step = async (name: Section, fn: () => Promise<unknown> | unknown) => {
		if (!only.has(name)) return;
		const t = performance.now();
		const date = new Date().toISOString();
		const loadStart = round(os.loadavg()[0]!, 1);
		process.stderr.write(`bench: ${name} ...`);
		try {
			results.sections[name] = await fn();
		} catch (e) {
			results.sections[name] = { error: String((e as Error)?.stack ?? e) };
		}
		const durationS = round((performance.now() - t) / 1000);
		const v = results.sections[name] as { metrics?: Record<string, unknown>[] };
		const sdk = name === 'device.lin' && Array.isArray(v?.metrics) ? sdkInfo(v.metrics) : undefined;
		results.meta[name] = { date, load: { start: loadStart, end: round(os.loadavg()[0]!, 1) }, ...rev, durationS, ...(sdk ? { sdk } : {}) };
		process.stderr.write(` ${durationS} s\n`);
	};
	await step('codec.node', codecNode);
	await step('codec.xs', codecXs);
	await step('link.roundTrips', () => linkRoundTrips(runs));
	await step('device.lin', () => deviceLin(deviceScenarios));
	await step('schedule.reconnect', () => scheduleReconnect(Math.min(runs, 10)));
	await step('schedule.xs', scheduleXs);
	await step('missions.billing', () => missionsBilling(Math.min(runs, 3)));
	await step('commands.billing', commandsBilling);
	await step('maps', () => benchMaps(runs));
	await step('provision', () => benchProvision(1000));
	await step('fleet', () => benchFleet({ robots, progress: (m) => process.stderr.write(`\n  fleet: ${m}`) }));
	await step('storm', () => benchStorm({ progress: (m) => process.stderr.write(`\n  storm: ${m}`) }));
	await step('health.billing', healthBilling);
	results.durationMs = Math.round(performance.now() - started);
	writeFileSync(join(here, 'results.json'), JSON.stringify(results, null, '\t') + '\n');
	const md = renderable(results);
	writeFileSync(join(here, 'results.md'), md + '\n');
	process.stdout.write(md + '\n');
}

/**
 * results.md for every section this code can still render: a section kept from an earlier run
 * whose shape an edited bench module no longer reads is named, with the command that re-measures
 * it, instead of failing the whole file.
 */
function renderable(r: Results): string {
	try {
		return markdown(r);
	} catch {
		const stale = SECTIONS.filter((n) => {
			if (r.sections[n] === undefined) return false;
			try {
				markdown({ ...r, sections: { [n]: r.sections[n] }, meta: { [n]: r.meta[n] } });
				return false;
			} catch {
				return true;
			}
		});
		const sections = { ...r.sections };
		for (const n of stale) delete sections[n];
		return markdown({ ...r, sections }) + '\n\n' + stale.map((n) => `## ${n}\n\nMeasured by an earlier bench/run.ts whose figures this one cannot render: \`npm run bench -- --only ${n}\`.`).join('\n\n');
	}
}

/** The results file as it stands, to keep the sections this run does not measure. */
function readEarlier(): Pick<Results, 'sections' | 'meta'> {
	const file = join(here, 'results.json');
	if (!existsSync(file)) return { sections: {}, meta: {} };
	const r = JSON.parse(readFileSync(file, 'utf8')) as Partial<Results>;
	const sections: Results['sections'] = {};
	const meta: Results['meta'] = {};
	// a section without its meta (a file from before meta existed) cannot say when it was measured: dropped;
	// device.budget is written by tools/budget-search.ts (dozens of device builds), never re-run here
	for (const n of [...SECTIONS, 'device.budget'] as Section[]) {
		if (r.sections?.[n] !== undefined && r.meta?.[n]) {
			sections[n] = r.sections[n];
			meta[n] = r.meta[n];
		}
	}
	return { sections, meta };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
