/*
 * Schedule benchmarks for bench/run.ts (issue #4).
 *
 * schedule.reconnect  A host robot (createRobot, memory storage) against the local cloud through
 *                     the counting proxy: client flights (round trips), bytes and time from the
 *                     robot's connection attempt to "schedule converged" (ShadowSync `synced`),
 *                     when an app edit made while it was offline waits in desired, and when there
 *                     is nothing to apply. Also the flights at "document in hand" (the GET reply
 *                     decided on), the design's 3-round-trip target.
 * schedule.xs         XS compute of applying one delta (reconcile decide/step with the schedule
 *                     codec on a realistic document), of nextRun and of validateSchedule.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { createRobot, type Robot } from '../firmware/core/robot/robot';
import { createMemoryStorage, hostPorts, memoryLog, readCredentials } from '../firmware/platform/host/index';
import type { LinkPorts } from '../firmware/core/link/link';
import type { StoragePort } from '../firmware/ports';
import { startProxy, type Proxy } from '../test/support/proxy';
import { evaluateEntry, withXsWorker, type XsWorker } from '../tools/xs/run';
import { DESIRED, REPORTED } from './schedule-fixture';
import { median, percentile, round } from './stats';
import { benchSection } from './section';
import { table } from './table';

const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- schedule.reconnect ---------------------------------------------------------------------

interface Sample {
	/** client flights when the GET reply was decided on (the document in hand) */
	docFlights: number;
	/** client flights when ShadowSync reached `synced` */
	flights: number;
	bytesUp: number;
	bytesDown: number;
	docMs: number;
	ms: number;
	/** MQTT PUBLISHes the robot received on this connection before converging (queued session messages included) */
	received: number;
}

export interface ReconnectRow {
	tls: string;
	case: string;
	runs: number;
	docFlights: number;
	docFlightsMin: number;
	docFlightsMax: number;
	flights: number;
	flightsMin: number;
	flightsMax: number;
	bytesUp: number;
	bytesDown: number;
	medianDocMs: number;
	medianMs: number;
	p90Ms: number;
	/** median PUBLISHes received before converging */
	received: number;
}

function summarize(tls: string, c: string, samples: Sample[]): ReconnectRow {
	const f = samples.map((s) => s.flights);
	const d = samples.map((s) => s.docFlights);
	return {
		tls,
		case: c,
		runs: samples.length,
		docFlights: median(d),
		docFlightsMin: Math.min(...d),
		docFlightsMax: Math.max(...d),
		flights: median(f),
		flightsMin: Math.min(...f),
		flightsMax: Math.max(...f),
		bytesUp: median(samples.map((s) => s.bytesUp)),
		bytesDown: median(samples.map((s) => s.bytesDown)),
		medianDocMs: round(median(samples.map((s) => s.docMs)), 2),
		medianMs: round(median(samples.map((s) => s.ms)), 2),
		p90Ms: round(
			percentile(
				samples.map((s) => s.ms),
				90,
			),
			2,
		),
		received: median(samples.map((s) => s.received)),
	};
}

/**
 * `n` connections with an edit waiting in desired and `n` with nothing to apply, taken in turns
 * so both meet the same conditions, as the two rows of one way to connect.
 */
async function editAndNothing(tls: string, n: number, once: (edit: boolean) => Promise<Sample>): Promise<ReconnectRow[]> {
	const edit: Sample[] = [];
	const nothing: Sample[] = [];
	for (let i = 0; i < n; i++) {
		edit.push(await once(true));
		nothing.push(await once(false));
	}
	return [summarize(tls, 'edit waiting in desired', edit), summarize(tls, 'nothing to apply', nothing)];
}

const THING = 'bench-sched';
/** Pause after convergence before the next cut or stop, so the robot's last PUBACK is not lost with the link. */
const SETTLE_MS = 50;
/** One-way delay the proxy adds in the latency rows: a 50 ms round trip, a home Wi-Fi link to a nearby region. */
const LATENCY_MS = 25;

interface Rig {
	cloud: LocalCloud;
	proxy: Proxy;
	app: IoTDataPlaneClient;
	/** each desired edit differs from the last one, so the robot always has something to apply */
	edit(): Promise<void>;
	waitGone(): Promise<void>;
}

async function rig(dir: string): Promise<Rig> {
	const cloud = await startLocalCloud({ dataDir: dir, things: [THING], inMemory: true });
	const proxy = await startProxy({ host: '127.0.0.1', port: cloud.broker.port });
	const app = new IoTDataPlaneClient({ endpoint: cloud.endpoints.iotData, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
	let n = 0;
	return {
		cloud,
		proxy,
		app,
		async edit() {
			n++;
			const base = n % 2 ? DESIRED : REPORTED;
			// a different start minute every time: a real edit, never equal to what the robot runs
			const schedule = { ...base, entries: base.entries.map((e, i) => (i === 0 ? { ...e, start: '07:' + String(n % 60).padStart(2, '0') } : e)) };
			await app.send(new UpdateThingShadowCommand({ thingName: THING, shadowName: 'schedule', payload: new TextEncoder().encode(JSON.stringify({ state: { desired: { schedule } } })) }));
		},
		async waitGone() {
			for (let i = 0; cloud.broker.connectedThings().includes(THING); i++) {
				if (i > 400) throw new Error(THING + ' still connected to the broker after 2 s');
				await sleep(5);
			}
		},
	};
}

function makeRobot(r: Rig, ports: LinkPorts): Robot {
	return createRobot(ports, {
		thing: THING,
		endpoint: { host: '127.0.0.1', port: r.proxy.port, tls: { ...readCredentials(r.cloud.pki.paths.thing(THING).dir), serverName: 'localhost' } },
		link: { backoff: { baseMs: 20, capMs: 40 }, connectTimeoutMs: 10_000 },
		shadowTimeoutMs: 5000,
	});
}

/**
 * Watches one connection of `robot` from its next `connecting` to `synced`. `t0` is the
 * connection attempt (the link's `connecting`, just before TCP connect); the proxy index is the
 * next connection it accepts. Received PUBLISHes are counted from the log that countingPorts
 * writes (a counting subscription would add a filter to the robot's SUBSCRIBE and change what is
 * measured).
 */
function watchQuiet(robot: Robot, proxy: Proxy, log: ReturnType<typeof memoryLog>): Promise<Sample> {
	const index = proxy.stats.connections;
	const stat = (k: 'flights' | 'bytesUp' | 'bytesDown') => proxy.stats[k][index] ?? NaN;
	let t0 = performance.now();
	let doc: { flights: number; ms: number } | undefined;
	let mark = log.lines.length;
	const offs: (() => void)[] = [];
	return new Promise<Sample>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('schedule not converged within 15 s (state ' + robot.schedule.state.value + ')')), 15_000);
		offs.push(
			robot.link.listen({
				state(s) {
					if (s.value === 'connecting') {
						t0 = performance.now();
						doc = undefined;
						mark = log.lines.length;
					}
				},
			}),
		);
		let last = robot.schedule.state.value;
		let done = false;
		robot.schedule.listen((s) => {
			if (done) return;
			if (last === 'reading' && s.value !== 'reading' && !doc) doc = { flights: stat('flights'), ms: performance.now() - t0 };
			last = s.value;
			if (s.value === 'synced' && doc) {
				done = true;
				clearTimeout(timer);
				const received = log.lines.slice(mark).filter((l) => l.event === 'bench.received').length;
				resolve({ docFlights: doc.flights, docMs: doc.ms, flights: stat('flights'), bytesUp: stat('bytesUp'), bytesDown: stat('bytesDown'), ms: performance.now() - t0, received });
			}
		});
	}).finally(() => offs.forEach((f) => f()));
}

/** A socket port that logs each inbound PUBLISH's topic (for the `received` count) without touching the bytes. */
function countingPorts(storage: StoragePort, log: ReturnType<typeof memoryLog>): LinkPorts {
	const ports = hostPorts(storage, log);
	const socket = ports.socket;
	return {
		...ports,
		socket: {
			open(options, events) {
				framing.delete(log); // a new connection starts at a packet boundary
				return socket.open(options, {
					...events,
					data(bytes) {
						// PUBLISH fixed headers (type 3) found by walking the remaining lengths across chunks
						countPublishes(bytes, log);
						events.data(bytes);
					},
				});
			},
		},
	};
}

/** Per-connection framing state for countPublishes; reset at each open. */
const framing = new WeakMap<object, { need: number; header: number[] }>();
function countPublishes(bytes: Uint8Array, log: ReturnType<typeof memoryLog>): void {
	let st = framing.get(log);
	if (!st) framing.set(log, (st = { need: 0, header: [] }));
	let i = 0;
	while (i < bytes.length) {
		if (st.need > 0) {
			const take = Math.min(st.need, bytes.length - i);
			st.need -= take;
			i += take;
			continue;
		}
		st.header.push(bytes[i++]!);
		// header: type byte, then 1-4 remaining-length bytes (high bit = more)
		if (st.header.length >= 2 && (st.header[st.header.length - 1]! & 0x80) === 0) {
			let len = 0;
			for (let k = st.header.length - 1; k >= 1; k--) len = len * 128 + (st.header[k]! & 0x7f);
			if (st.header[0]! >> 4 === 3) log.log('debug', 'bench.received', {});
			st.need = len;
			st.header = [];
		}
	}
}

export async function scheduleReconnect(runs: number): Promise<{ rows: ReconnectRow[]; setup: string }> {
	const dir = mkdtempSync(join(os.tmpdir(), 'bench-sched-'));
	let r: Rig | undefined;
	let robot: Robot | undefined;
	try {
		r = await rig(dir);
		const rows: ReconnectRow[] = [];
		const storage = createMemoryStorage();

		// 1. a reboot: a new robot (new socket port: full TLS handshake) on the storage it had
		const boot = async (edit: boolean): Promise<Sample> => {
			if (edit) await r!.edit();
			const log = memoryLog();
			const b = makeRobot(r!, countingPorts(storage, log));
			const sample = watchQuiet(b, r!.proxy, log);
			b.start();
			try {
				return await sample;
			} finally {
				// let the last PUBACK reach the broker, else it redelivers that reply on the next connection
				await sleep(SETTLE_MS);
				b.stop();
				await r!.waitGone();
			}
		};
		await boot(false); // first boot: creates the shadow and the broker session; not counted
		await boot(true);
		rows.push(...(await editAndNothing('full TLS 1.2 handshake (boot)', runs, boot)));

		// the same over a slower network: do the extra client flights cost round trips?
		r.proxy.latency(LATENCY_MS);
		const slow = await editAndNothing(`full TLS 1.2 handshake (boot), RTT ${2 * LATENCY_MS} ms`, Math.min(runs, 5), boot);
		r.proxy.latency(0);
		rows.push(...slow);

		// 2. a reconnect of a running robot: the link comes back on its own with the TLS session it kept
		const log = memoryLog();
		robot = makeRobot(r, countingPorts(createMemoryStorage(), log));
		const first = watchQuiet(robot, r.proxy, log);
		robot.start();
		await first;
		const reconnect = async (edit: boolean): Promise<Sample> => {
			await sleep(SETTLE_MS);
			r!.proxy.cut();
			for (let i = 0; robot!.link.state.value === 'connected'; i++) {
				if (i > 400) throw new Error('the link did not notice the cut');
				await sleep(5);
			}
			await r!.waitGone();
			if (edit) await r!.edit();
			const sample = watchQuiet(robot!, r!.proxy, log);
			r!.proxy.restore();
			return sample;
		};
		await reconnect(true);
		rows.push(...(await editAndNothing('TLS session resumed (reconnect)', runs, reconnect)));
		return {
			rows,
			setup: 'local cloud (cloud/local, in memory: broker with mutual TLS, shadow service), robot = createRobot on the host platform with memory storage, test/support/proxy.ts between them (no added latency)',
		};
	} finally {
		robot?.stop();
		r?.app.destroy();
		await r?.proxy.close();
		await r?.cloud.close();
		rmSync(dir, { recursive: true, force: true });
	}
}

// ---- schedule.xs ----------------------------------------------------------------------------

export interface XsScheduleRow {
	op: string;
	what: string;
	computePerOp: number;
	/** null when a garbage collection ran inside the measured crank (the count would be too low) */
	slotsPerOp: number | null;
}

export async function scheduleXs(): Promise<{ bundleBytes: number; getAcceptedBytes: number; desiredBytes: number; iterations: number; rows: XsScheduleRow[] }> {
	const N = 100;
	return withXsWorker(
		async (w: XsWorker) => {
			const loaded = await evaluateEntry(w, join(here, 'xs-schedule-entry.ts'));
			const run = async (code: string) => (await w.evaluate(code)).meter;
			const per = async (fn: string, n = N) => {
				// the call's fixed cost (n = 0) subtracted; gc() first so the slot gauge counts only this crank
				await run('gc()');
				const zeroBefore = await run('');
				const zero = await run(`scheduleBench.${fn}(0)`);
				await run('gc()');
				const before = await run('');
				const m = await run(`scheduleBench.${fn}(${n})`);
				const zeroSlots = zero.currentHeapCount - zeroBefore.currentHeapCount;
				return { compute: Math.round((m.compute - zero.compute) / n), slots: round((m.currentHeapCount - before.currentHeapCount - zeroSlots) / n) };
			};
			const ops: [string, string][] = [
				['decideApply', 'decide(): 4-entry desired validated, metadata timestamps, update built (desired applied)'],
				['stepApply', 'step(reading, read): decide + next state and effects'],
				['applyFromBytes', 'one delta applied end to end minus MQTT: get/accepted bytes -> UTF-8 -> JSON.parse -> step -> persisted record and update body (JSON + UTF-8)'],
				['parseFromBytes', "the get/accepted payload bytes -> text (utf8Decode, the core's portable decoder) -> JSON.parse: the first part of applyFromBytes"],
				['decideSettled', 'decide() with nothing to apply: reported validated and compared (canonical JSON)'],
				['nextRunLoop', 'nextRun() of the 4-entry schedule, CET/CEST rule (per call)'],
				['validateLoop', 'validateSchedule() of the 4-entry document (per document)'],
			];
			const rows: XsScheduleRow[] = [];
			for (const [op, what] of ops) {
				const m = await per(op);
				// a collection inside the crank hides slots: trust the count only if a 5x shorter run agrees
				const short = await per(op, N / 5);
				const linear = Math.abs(short.slots - m.slots) <= 0.1 * Math.max(1, m.slots);
				rows.push({ op, what, computePerOp: m.compute, slotsPerOp: linear ? m.slots : null });
			}
			const sizes = JSON.parse(new TextDecoder().decode((await w.evaluate('new TextEncoder().encode(scheduleBench.sizes()).buffer')).reply)) as {
				getAcceptedBytes: number;
				desiredBytes: number;
			};
			return { bundleBytes: loaded.bytes, ...sizes, iterations: N, rows };
		},
		{ stdout: 'ignore', stderr: 'inherit' },
	);
}

// ---- report ---------------------------------------------------------------------------------

type Table = (head: string[], rows: (string | number)[][]) => string;

const range = (m: number, lo: number, hi: number) => (lo === hi ? String(m) : `${m} (${lo}..${hi})`);

/**
 * Whether the design's round-trip target holds in time, said from the RTT rows: the document in
 * hand within 3 round trips' delay plus the no-latency row's time (the CPU), and converging within
 * one more.
 */
export function rttVerdict(rows: readonly ReconnectRow[]): string {
	const rtt = 2 * LATENCY_MS;
	const parts: string[] = [];
	for (const c of ['edit', 'nothing']) {
		const slow = rows.find((q) => q.tls.includes('RTT') && q.case.startsWith(c));
		const fast = rows.find((q) => q.tls.startsWith('full') && !q.tls.includes('RTT') && q.case.startsWith(c));
		if (!slow || !fast) continue;
		const docOk = slow.medianDocMs <= fast.medianDocMs + 3 * rtt;
		const convOk = slow.medianMs <= fast.medianMs + (c === 'edit' ? 4 : 3) * rtt;
		parts.push(
			`${slow.case}: document ${slow.medianDocMs} ms against ${fast.medianDocMs} + 3 x ${rtt} ms, converged ${slow.medianMs} ms against ${fast.medianMs} + ${c === 'edit' ? 4 : 3} x ${rtt} ms: ${docOk && convOk ? 'the target holds in time' : 'the target does NOT hold in time'}`,
		);
	}
	return parts.length ? parts.join('; ') + '.' : 'No RTT rows measured.';
}

export function reconnectMarkdown(x: Awaited<ReturnType<typeof scheduleReconnect>>, table: Table): string[] {
	const md: string[] = [];
	md.push(
		table(
			['TLS', 'case', 'round trips to document in hand', 'round trips to converged', 'bytes up', 'bytes down', 'median ms to document', 'median ms to converged', 'p90 ms', 'PUBLISHes received', 'runs'],
			x.rows.map((q) => [q.tls, q.case, range(q.docFlights, q.docFlightsMin, q.docFlightsMax), range(q.flights, q.flightsMin, q.flightsMax), q.bytesUp, q.bytesDown, q.medianDocMs, q.medianMs, q.p90Ms, q.received, q.runs]),
		),
		'',
	);
	md.push(
		[
			`Setup: ${x.setup}. Thing \`${THING}\`, clean session off, so the broker keeps the robot's subscriptions and queues QoS 1 messages while it is away.`,
			'- **round trips**: client flights counted by the proxy on the robot\'s connection (consecutive client reads merge; a new flight starts after the server has spoken), as design.md defines them. "Document in hand": when the GET reply was decided on (ShadowSync leaves `reading`); design target 3 with a full handshake (TLS 2 + one write of CONNECT, SUBSCRIBE and the GET), 2 resumed. "Converged": ShadowSync `synced`; with an edit to apply that adds the conditional update (target +1); with nothing to apply it is the same moment as the document.',
			'- **bytes**: TCP payload through the proxy up to convergence, TLS records included (a full handshake carries both certificate chains).',
			"- **time**: from the link's `connecting` (just before TCP connect) to the moment; loopback, so CPU (RSA) more than latency. Boot rows make a new robot on the same storage (new socket port: no TLS session); reconnect rows cut the proxy under a running robot and restore it (the link reconnects after its backoff, 20-40 ms, not counted).",
			'- **edit waiting in desired**: the app (`UpdateThingShadow` over the HTTP data plane) changed desired.schedule while the robot was away. **Nothing to apply**: the shadow already shows what the robot runs.',
			'- **PUBLISHes received**: MQTT PUBLISH packets the robot got on that connection before converging: its own replies plus what the broker queued in the persistent session while it was away.',
			`- **RTT rows**: the proxy delays every chunk ${LATENCY_MS} ms each way, so a round trip costs ${2 * LATENCY_MS} ms. ${rttVerdict(x.rows)}`,
		].join('\n'),
		'',
	);
	const loop = x.rows.find((q) => q.tls.startsWith('full') && !q.tls.includes('RTT') && q.case.startsWith('edit'));
	if (loop && loop.docFlights > 3)
		md.push(
			`**Why the edit rows count more flights on loopback (${loop.docFlights} to the document, not 3):** the GET does ride in the first write with CONNECT and SUBSCRIBE (checked on the wire). The app's edit, made while the robot was away, made the shadow service publish \`update/accepted\` (the app's own reply: the robot subscribes \`+/accepted\`) and \`update/delta\`; the broker queued both for the robot's persistent session (clean session off, QoS 1 subscriptions) and delivers them right after CONNACK, ahead of the GET reply. The robot acknowledges each on arrival, and on loopback each PUBACK leaves before the broker's next segment comes, so each counts as a client flight. They do not wait for anything: with real latency the burst arrives together and the flights merge (the RTT rows: 3, time the same as with nothing to apply). What they do cost: two inbound messages per offline edit that the robot ignores (the delta while it is reading, the other client's reply by its token), billed on AWS, plus the bytes down. Subscribing the shadow reply topics at QoS 0 would stop the broker from queuing them while the robot is offline; the robot reads the whole shadow on every connection anyway, and a reply lost with a connection is already handled as \`offline\`.`,
			'',
		);
	return md;
}

export function xsMarkdown(x: Awaited<ReturnType<typeof scheduleXs>>, table: Table): string[] {
	return [
		table(
			['operation', 'what it does', 'compute / op', 'slots / op'],
			x.rows.map((q) => [q.op, q.what, q.computePerOp, q.slotsPerOp ?? 'n/a (GC ran)']),
		),
		'',
		[
			`XS engine of @agoric/xsnap, bench/xs-schedule-entry.ts bundled by esbuild (${x.bundleBytes.toLocaleString('en-US')} bytes) with firmware/core (reconcile, schedule codec, model, next, tz). Document: bench/schedule-fixture.ts, a 4-entry schedule in desired that differs from the 2-entry one in reported, with per-leaf metadata as AWS writes it (get/accepted payload ${x.getAcceptedBytes} bytes; desired.schedule ${x.desiredBytes} bytes).`,
			`- **compute / op**: meter compute units (XS bytecodes plus builtin bulk units) of one evaluate running the operation ${x.iterations} times, minus the same call with 0 iterations, divided by ${x.iterations}. Deterministic, machine-independent; compare with the codec rows above (a 256-byte PUBLISH decode) and with the map encryption figure (about 620 units per byte through @noble/ciphers GCM).`,
			`- **slots / op**: growth of live slots over that crank started after \`gc()\`, per operation, garbage included (16 bytes each on the 32-bit MCU); shown only when a run of ${x.iterations / 5} gives the same figure, i.e. no collection ran inside the crank.`,
			`- \`applyFromBytes\` is the cost per delta applied on the device short of MQTT framing: \`decideApply\` is the decision alone, \`stepApply\` adds the state machine, and the rest is UTF-8 and JSON of the ${x.getAcceptedBytes}-byte get/accepted document (metadata is most of it) and of the two outputs. The compute of \`step\` includes validating the desired schedule once and canonicalizing it twice (equal() and toJson()).`,
		].join('\n'),
		'',
	];
}

export const scheduleReconnectSection = benchSection({
	name: 'schedule.reconnect',
	title: 'connect to schedule converged, host robot on the local cloud',
	run: (o) => scheduleReconnect(Math.min(o.runs, 10)),
	markdown: (x) => reconnectMarkdown(x, table),
});

export const scheduleXsSection = benchSection({ name: 'schedule.xs', title: 'applying a schedule delta inside the XS engine', run: scheduleXs, markdown: (x) => xsMarkdown(x, table) });
