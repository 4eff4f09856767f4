/*
 * missions.billing for bench/run.ts (design.md, "Performance targets": at most 4 billed
 * AWS IoT messages per one-hour mission, against 60 and more for one message per
 * progress event).
 *
 * A host robot (createRobot, memory storage) on the local cloud through the counting proxy
 * cleans TYPICAL_HOME (firmware/sim/cleaning.ts, seeded) on a clock that runs SPEED times
 * faster than real time, the link included, so a one-hour mission takes seconds and its
 * keep-alive PINGs happen as they would in that hour. The clock runs at real speed until the
 * robot is online and quiet (the TLS handshake and the schedule GET are per connection, not
 * per mission), then speeds up.
 *
 * Measured per mission, from its start to the PUBACK of its report:
 * - bytes on the wire: TCP payload through the proxy (TLS 1.2 records; TCP/IP headers not counted);
 * - every MQTT packet both ways, decoded at the socket port (below TLS): type, topic, payload
 *   and packet size;
 * - billed units, by AWS IoT Core's published metering ("AWS IoT Core additional metering
 *   details", aws.amazon.com/iot-core/pricing/additional-details): a PUBLISH, from the device or
 *   delivered by the service, is metered on topic + payload in 5 KB increments; Basic Ingest
 *   topics (`$aws/rules/...`) have no messaging charge (the rule and its action are billed as
 *   rules); PINGREQ/PINGRESP, CONNACK, SUBACK and the service's PUBACK are not metered; a PUBACK
 *   from the device is metered as one 5 KB message under MQTT 3.1.1; a Device Shadow request is
 *   a message and a shadow operation metered in 1 KB increments.
 * After the missions an operator asks for the robot's log ring once (tools/logs.ts): the
 * request's delivery and the reply batches are billed the same way.
 * The naive design is computed from the same missions: every event the robot produced (those
 * the token bucket dropped included) as its own PUBLISH on the events topic, and the report on
 * an ordinary topic.
 */
import { seededRandom } from '../firmware/platform/portable/random';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { createRobot, type Robot } from '../firmware/core/robot/robot';
import { reportTopic } from '../firmware/core/mission/report';
import { packetSize } from '../firmware/core/mqtt/codec';
import type { Packet } from '../firmware/core/mqtt/packet';
import { PacketReader } from '../firmware/core/mqtt/reader';
import { utf8Length } from '../firmware/core/util/utf8';
import { createMemoryStorage, hostPorts, memoryLog, readCredentials } from '../firmware/platform/host/index';
import { CleaningSimulator, TYPICAL_HOME } from '../firmware/sim/cleaning';
import type { ClockPort, TimerHandle, TimerPort } from '../firmware/ports';
import type { LinkPorts } from '../firmware/core/link/link';
import { startProxy, type Proxy } from '../test/support/proxy';
import { LogRing, ringLog } from '../firmware/core/log/ring';
import { connectOperator, requestLogs } from '../tools/logs';
import { readFileSync } from 'node:fs';
import { median, round } from './stats';
import { benchSection } from './section';
import { table } from './table';

const THING = 'bench-missions';
/** The operator who asks for the robot's logs (tools/logs.ts). */
const OPERATOR = 'bench-ops';
/** Simulated ms per real ms once the robot is online: a one-hour mission in 6 s. */
const SPEED = 600;
/** The device's keep-alive (firmware/main.ts leaves the Link default). */
const KEEP_ALIVE_S = 60;
const KB5 = 5 * 1024;
const KB1 = 1024;
/** The design target. */
const TARGET = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A clock and timers whose speed can change: real time until `setRate`; timers pending then keep their simulated due time. */
function variableTime(): { clock: ClockPort; timers: TimerPort; setRate(r: number): void } {
	let rate = 1;
	let realAt = performance.now();
	let simAt = 0;
	const wall0 = Date.now();
	const mono = () => simAt + (performance.now() - realAt) * rate;
	interface Entry {
		readonly cb: () => void;
		readonly due: number;
		t?: NodeJS.Timeout;
	}
	const pending = new Set<Entry>();
	const arm = (e: Entry) => {
		e.t = setTimeout(
			() => {
				pending.delete(e);
				e.cb();
			},
			Math.max(0, (e.due - mono()) / rate),
		);
	};
	return {
		clock: { now: () => wall0 + mono(), monotonic: mono },
		timers: {
			set(cb, ms) {
				const e: Entry = { cb, due: mono() + ms };
				pending.add(e);
				arm(e);
				return e as unknown as TimerHandle;
			},
			clear(h) {
				const e = h as unknown as Entry;
				clearTimeout(e.t);
				pending.delete(e);
			},
		},
		setRate(r) {
			simAt = mono();
			realAt = performance.now();
			rate = r;
			for (const e of pending) {
				clearTimeout(e.t);
				arm(e);
			}
		},
	};
}

export interface Rec {
	readonly dir: 'up' | 'down';
	readonly p: Packet;
	readonly size: number;
}

/** A socket port that decodes every MQTT packet both ways (below TLS) and counts writes (one TLS record each, or more). */
export function recordingPorts(base: LinkPorts): { ports: LinkPorts; recs: Rec[]; writes: () => number } {
	const recs: Rec[] = [];
	let writes = 0;
	const add = (dir: 'up' | 'down', reader: PacketReader, bytes: Uint8Array) => {
		const r = reader.push(bytes.slice());
		if (r.ok) for (const p of r.packets) recs.push({ dir, p, size: packetSize(p) });
	};
	const inner = base.socket;
	return {
		recs,
		writes: () => writes,
		ports: {
			...base,
			socket: {
				open(options, events) {
					const up = new PacketReader(256 * 1024);
					const down = new PacketReader(256 * 1024);
					const s = inner.open(options, {
						connected: () => events.connected(),
						closed: (e) => events.closed(e),
						data(bytes) {
							add('down', down, bytes);
							events.data(bytes);
						},
					});
					return {
						write(bytes) {
							writes++;
							add('up', up, bytes);
							s.write(bytes);
						},
						close: () => s.close(),
					};
				},
			},
		},
	};
}

/** What a packet costs on AWS IoT Core. */
interface Bill {
	readonly kind: string;
	/** messaging units (5 KB increments) */
	readonly messages: number;
	/** Device Shadow operations (1 KB increments) */
	readonly shadowOps: number;
	/** rule triggers (each with one action) */
	readonly rules: number;
}

const units = (bytes: number, unit: number) => Math.max(1, Math.ceil(bytes / unit));

export function bill(r: Rec): Bill {
	const p = r.p;
	switch (p.type) {
		case 'publish': {
			const metered = utf8Length(p.topic) + p.payload.length;
			if (r.dir === 'up' && p.topic.startsWith('$aws/rules/')) return { kind: 'report (Basic Ingest, QoS 1)', messages: 0, shadowOps: 0, rules: 1 };
			if (p.topic.startsWith('$aws/things/') && p.topic.includes('/shadow/'))
				return r.dir === 'up' ? { kind: 'shadow request', messages: units(metered, KB5), shadowOps: units(p.payload.length, KB1), rules: 0 } : { kind: 'shadow reply (delivery)', messages: units(metered, KB5), shadowOps: 0, rules: 0 };
			if (r.dir === 'up' && /^robots\/[^/]+\/missions\/[^/]+\/events$/.test(p.topic)) return { kind: 'events batch (QoS 0)', messages: units(metered, KB5), shadowOps: 0, rules: 0 };
			if (r.dir === 'up' && /^robots\/[^/]+\/logs$/.test(p.topic)) return { kind: 'logs batch (QoS 0)', messages: units(metered, KB5), shadowOps: 0, rules: 0 };
			if (r.dir === 'down' && /^robots\/[^/]+\/logs\/request$/.test(p.topic)) return { kind: 'logs request (delivery)', messages: units(metered, KB5), shadowOps: 0, rules: 0 };
			// AWS IoT commands: the request delivered to the robot, its one answer
			if (r.dir === 'down' && /^\$aws\/commands\/things\/[^/]+\/executions\/[^/]+\/request\/json$/.test(p.topic)) return { kind: 'command request (delivery)', messages: units(metered, KB5), shadowOps: 0, rules: 0 };
			if (r.dir === 'up' && /^\$aws\/commands\/things\/[^/]+\/executions\/[^/]+\/response\/json$/.test(p.topic)) return { kind: 'command answer', messages: units(metered, KB5), shadowOps: 0, rules: 0 };
			return { kind: r.dir === 'up' ? 'publish (other)' : 'delivery (other)', messages: units(metered, KB5), shadowOps: 0, rules: 0 };
		}
		case 'puback':
			// MQTT 3.1.1: a device's PUBACK is metered as one 5 KB message; the service's is not metered
			return r.dir === 'up' ? { kind: 'PUBACK from robot', messages: 1, shadowOps: 0, rules: 0 } : { kind: 'PUBACK from service', messages: 0, shadowOps: 0, rules: 0 };
		case 'pingreq':
		case 'pingresp':
			return { kind: 'PINGREQ / PINGRESP', messages: 0, shadowOps: 0, rules: 0 };
		case 'connect':
			return { kind: 'CONNECT', messages: units(r.size, KB5), shadowOps: 0, rules: 0 };
		case 'subscribe':
			return {
				kind: 'SUBSCRIBE',
				messages: units(
					p.subscriptions.reduce((n, s) => n + utf8Length(s.topic), 0),
					KB5,
				),
				shadowOps: 0,
				rules: 0,
			};
		default:
			return { kind: p.type.toUpperCase(), messages: 0, shadowOps: 0, rules: 0 };
	}
}

export interface KindRow {
	kind: string;
	/** packets of this kind in the mission */
	count: number;
	/** MQTT payload bytes (PUBLISH only), smallest and largest */
	payloadMin: number;
	payloadMax: number;
	/** MQTT packet bytes, all packets of the kind */
	mqttBytes: number;
	billedMessages: number;
	shadowOps: number;
	rules: number;
}

export interface MissionSample {
	seed: number;
	missionId: string;
	outcome: string;
	/** simulated minutes from start to the report's PUBACK */
	minutes: number;
	/** events the robot produced: sent in batches, and dropped by the token bucket */
	events: number;
	eventsDropped: number;
	wireUp: number;
	wireDown: number;
	mqttUp: number;
	mqttDown: number;
	/** TLS bytes per record the robot wrote (wire minus MQTT, over writes) */
	tlsOverheadPerWrite: number;
	pings: number;
	billedMessages: number;
	shadowOps: number;
	rules: number;
	kinds: KindRow[];
	naive: { messages: number; mqttUp: number; wireUp: number };
	/** connections the proxy accepted during the mission (0: none dropped) */
	reconnects: number;
}

/** One operator request for the robot's log ring after the missions (core/log/ship.ts). */
export interface LogShippingSample {
	what: string;
	/** ring bound and bytes held when asked */
	ringBytes: number;
	ringUsed: number;
	lines: number;
	batches: number;
	/** largest batch payload (bytes) */
	batchMax: number;
	/** the request's delivery to the robot and the batches it sent */
	billedMessages: number;
	kinds: KindRow[];
}

export interface BillingResult {
	setup: string;
	logs: LogShippingSample[];
	/** what one connection costs before any mission (CONNECT, SUBSCRIBE, schedule GET) */
	perConnection: KindRow[];
	samples: MissionSample[];
	summary: { billedMedian: number; billedMax: number; naiveMedian: number; target: number; met: boolean; wireUpMedian: number; wireDownMedian: number; naiveWireUpMedian: number };
}

export function kindsOf(recs: readonly Rec[]): KindRow[] {
	const rows = new Map<string, KindRow>();
	for (const r of recs) {
		const b = bill(r);
		const row = rows.get(b.kind) ?? { kind: b.kind, count: 0, payloadMin: Infinity, payloadMax: 0, mqttBytes: 0, billedMessages: 0, shadowOps: 0, rules: 0 };
		row.count++;
		row.mqttBytes += r.size;
		if (r.p.type === 'publish') {
			row.payloadMin = Math.min(row.payloadMin, r.p.payload.length);
			row.payloadMax = Math.max(row.payloadMax, r.p.payload.length);
		}
		row.billedMessages += b.messages;
		row.shadowOps += b.shadowOps;
		row.rules += b.rules;
		rows.set(b.kind, row);
	}
	return [...rows.values()].map((r) => (r.payloadMin === Infinity ? { ...r, payloadMin: 0 } : r));
}

/**
 * The events of one mission as the robot batched them (`up`: its upward packets in the mission),
 * and what the mission would cost sent the naive way: one QoS 0 message per event and the report
 * on robots/{thing}/missions/{id}/report at QoS 1, with the same TLS overhead per write.
 */
function naiveMission(up: readonly Rec[], id: string, overhead: number, pings: number): { events: number; dropped: number; naive: MissionSample['naive'] } {
	let events = 0;
	let dropped = 0;
	let naiveMqtt = 0;
	for (const x of up) {
		if (x.p.type !== 'publish' || !x.p.topic.endsWith('/events')) continue;
		const batch = JSON.parse(new TextDecoder().decode(x.p.payload)) as { mission: string; dropped: number; events: Record<string, unknown>[] };
		events += batch.events.length;
		dropped += batch.dropped;
		for (const e of batch.events)
			naiveMqtt += packetSize({
				type: 'publish',
				topic: x.p.topic,
				payload: new TextEncoder().encode(JSON.stringify({ mission: batch.mission, ...e })),
				qos: 0,
				retain: false,
				dup: false,
			});
	}
	const reportRec = up.find((x) => x.p.type === 'publish' && x.p.topic.startsWith('$aws/rules/'));
	const reportPayload = reportRec?.p.type === 'publish' ? reportRec.p.payload.length : 0;
	// the naive report: the same payload on robots/{thing}/missions/{id}/report, QoS 1
	const naiveReport = packetSize({
		type: 'publish',
		topic: `robots/${THING}/missions/${id}/report`,
		payload: new Uint8Array(reportPayload),
		qos: 1,
		retain: false,
		dup: false,
		packetId: 1,
	});
	// a dropped event was about the size of the average sent one
	const naiveEventsMqtt = events > 0 ? naiveMqtt + (dropped * naiveMqtt) / events : 0;
	const naiveMessages = events + dropped + 1;
	return {
		events,
		dropped,
		// the same PINGs too: the link pings on silence in either direction, and QoS 0 events bring nothing back
		naive: {
			messages: naiveMessages,
			mqttUp: Math.round(naiveEventsMqtt + naiveReport),
			wireUp: Math.round(naiveEventsMqtt + naiveReport + naiveMessages * overhead + pings * (2 + overhead)),
		},
	};
}

export async function missionsBilling(missions = 3): Promise<BillingResult> {
	const dir = mkdtempSync(join(os.tmpdir(), 'bench-missions-'));
	let cloud: LocalCloud | undefined;
	let proxy: Proxy | undefined;
	let robot: Robot | undefined;
	try {
		cloud = await startLocalCloud({ dataDir: dir, things: [THING], operators: [OPERATOR], inMemory: true });
		proxy = await startProxy({ host: '127.0.0.1', port: cloud.broker.port });
		const time = variableTime();
		// the robot's own log ring, as the device keeps it (firmware/main.ts): filled by the missions
		const ring = new LogRing(time.clock);
		const log = memoryLog();
		const storage = createMemoryStorage();
		const { ports, recs, writes } = recordingPorts({ ...hostPorts(storage, ringLog(log, ring)), clock: time.clock, timers: time.timers });
		// timeouts are simulated ms: scaled so they stay seconds of real time after the speed-up
		const realMs = (ms: number) => ms * SPEED;
		robot = createRobot(ports, {
			thing: THING,
			endpoint: { host: '127.0.0.1', port: proxy.port, tls: { ...readCredentials(cloud.pki.paths.thing(THING).dir), serverName: 'localhost' } },
			link: { keepAlive: KEEP_ALIVE_S, pingTimeoutMs: realMs(10_000), connectTimeoutMs: realMs(20_000), handlerTimeoutMs: realMs(30_000), backoff: { baseMs: 200, capMs: 3000 } },
			shadowTimeoutMs: realMs(10_000),
			logs: { ring },
		});
		const r = robot;
		let online = false;
		r.link.listen({ state: (s) => void (online = s.value === 'connected') });
		r.start();
		// online, and nothing more arriving: the connection's own traffic is done
		for (let i = 0, quietSince = recs.length, quiet = 0; ; i++) {
			if (i > 400) throw new Error('the robot did not come online and go quiet within 20 s');
			await sleep(50);
			if (recs.length !== quietSince) {
				quietSince = recs.length;
				quiet = 0;
			} else if (online && r.link.outbox.size === 0 && ++quiet >= 4) break;
		}
		const perConnection = kindsOf(recs);
		time.setRate(SPEED);

		const samples: MissionSample[] = [];
		for (let seed = 1; seed <= missions; seed++) {
			const sim = new CleaningSimulator(r.missions, { timers: time.timers, random: seededRandom(seed), log }, TYPICAL_HOME);
			const conn = proxy.stats.connections - 1;
			const mark = {
				recs: recs.length,
				writes: writes(),
				up: proxy.stats.bytesUp[conn] ?? 0,
				down: proxy.stats.bytesDown[conn] ?? 0,
				sim: time.clock.monotonic(),
				log: log.lines.length,
				connections: proxy.stats.connections,
			};
			const id = sim.run('button');
			if (!id) throw new Error('the robot refused to start a mission');
			await new Promise<void>((resolve, reject) => {
				const timer = setTimeout(() => reject(new Error(`mission ${id}: no PUBACK for its report within 60 s`)), 60_000);
				const off = r.link.listen({
					delivered(_seq, topic) {
						if (topic !== reportTopic(THING, id)) return;
						clearTimeout(timer);
						off();
						resolve();
					},
				});
			});
			sim.stop();
			const window = recs.slice(mark.recs);
			const up = window.filter((x) => x.dir === 'up');
			const mqttUp = up.reduce((n, x) => n + x.size, 0);
			const mqttDown = window.filter((x) => x.dir === 'down').reduce((n, x) => n + x.size, 0);
			const wireUp = (proxy.stats.bytesUp[conn] ?? 0) - mark.up;
			const wireDown = (proxy.stats.bytesDown[conn] ?? 0) - mark.down;
			const writesUp = writes() - mark.writes;
			const overhead = writesUp > 0 ? (wireUp - mqttUp) / writesUp : 0;
			const pings = window.filter((x) => x.p.type === 'pingreq').length;
			const { events, dropped, naive } = naiveMission(up, id, overhead, pings);
			const reportLine = log.lines.slice(mark.log).find((l) => l.event === 'mission.report' && l.fields.mission === id);
			const kinds = kindsOf(window);
			samples.push({
				seed,
				missionId: id,
				outcome: String(reportLine?.fields.outcome ?? '?'),
				minutes: round((time.clock.monotonic() - mark.sim) / 60_000),
				events,
				eventsDropped: dropped,
				wireUp,
				wireDown,
				mqttUp,
				mqttDown,
				tlsOverheadPerWrite: round(overhead),
				pings,
				billedMessages: kinds.reduce((n, k) => n + k.billedMessages, 0),
				shadowOps: kinds.reduce((n, k) => n + k.shadowOps, 0),
				rules: kinds.reduce((n, k) => n + k.rules, 0),
				kinds,
				naive,
				reconnects: proxy.stats.connections - mark.connections,
			});
		}
		await cloud.rules.idle();
		const logs = [await shipLogs(cloud, r, ring, recs, 'after the missions')];
		// a robot that failed to connect for a while: its ring full of the link's own lines
		for (let i = 0; i < 1000 && ring.used < ring.capacity - 200; i++) ring.record('warn', 'link.lost', { reason: 'connect timeout after 20000 ms (TCP + TLS + CONNACK)', attempt: i, nextMs: 120_000 });
		logs.push(await shipLogs(cloud, r, ring, recs, 'a full ring'));
		const billed = samples.map((s) => s.billedMessages);
		return {
			logs,
			setup: `host robot (createRobot, memory storage) on the local cloud through the counting proxy, TLS 1.2, keep-alive ${KEEP_ALIVE_S} s, events policy DEFAULT_EVENTS (flush every 25 min, 4 KB batches, bucket 4 per 15 min); cleaning model TYPICAL_HOME seeded 1..${missions}; clock ${SPEED}x real time once online`,
			perConnection,
			samples,
			summary: {
				billedMedian: median(billed),
				billedMax: Math.max(...billed),
				naiveMedian: median(samples.map((s) => s.naive.messages)),
				target: TARGET,
				met: Math.max(...billed) <= TARGET,
				wireUpMedian: median(samples.map((s) => s.wireUp)),
				wireDownMedian: median(samples.map((s) => s.wireDown)),
				naiveWireUpMedian: median(samples.map((s) => s.naive.wireUp)),
			},
		};
	} finally {
		robot?.stop();
		await proxy?.close();
		await cloud?.close();
		rmSync(dir, { recursive: true, force: true });
	}
}

type Table = (head: string[], rows: (string | number)[][]) => string;

/** An operator asks for the ring once (tools/logs.ts over the local broker); what it bills, from the robot's side. */
async function shipLogs(cloud: LocalCloud, robot: Robot, ring: LogRing, recs: Rec[], what: string): Promise<LogShippingSample> {
	const p = cloud.pki.paths.thing(OPERATOR);
	const client = await connectOperator('mqtts://127.0.0.1:' + cloud.broker.port, readFileSync(p.certPem), readFileSync(p.keyPem), readFileSync(cloud.pki.paths.caPem), 'localhost');
	const mark = recs.length;
	const ringUsed = ring.used;
	try {
		const answer = await requestLogs(client, robot.thing, { timeoutMs: 10_000 });
		// the last batch's record may still be on its way through the socket port
		await sleep(100);
		const window = recs.slice(mark).filter((x) => x.p.type === 'publish' && /\/logs(\/request)?$/.test(x.p.topic));
		const kinds = kindsOf(window);
		return {
			what,
			ringBytes: ring.capacity,
			ringUsed,
			lines: answer.lines.length,
			batches: answer.batches,
			batchMax: Math.max(0, ...window.filter((x) => x.dir === 'up').map((x) => (x.p.type === 'publish' ? x.p.payload.length : 0))),
			billedMessages: kinds.reduce((n, k) => n + k.billedMessages, 0),
			kinds,
		};
	} finally {
		await client.endAsync();
	}
}

export function billingMarkdown(x: BillingResult, table: Table): string[] {
	const md: string[] = [];
	const s = x.summary;
	md.push(
		`**Billed AWS IoT messages per one-hour mission: ${s.billedMedian} (max ${s.billedMax}; target at most ${s.target}: ${s.met ? 'met' : 'NOT met'}).** ` +
			`One message per event would bill ${s.naiveMedian}. Wire bytes per mission: ${s.wireUpMedian} up, ${s.wireDownMedian} down (naive: about ${s.naiveWireUpMedian} up).`,
		'',
	);
	md.push(
		table(
			['mission', 'outcome', 'sim min', 'events sent / dropped', 'wire up / down (TLS)', 'MQTT up / down', 'TLS B / record', 'PINGs', 'billed messages', 'shadow ops', 'rule triggers', 'naive: messages', 'naive: wire up', 'reconnects'],
			x.samples.map((m) => [
				`${m.missionId} (seed ${m.seed})`,
				m.outcome,
				m.minutes,
				`${m.events} / ${m.eventsDropped}`,
				`${m.wireUp} / ${m.wireDown}`,
				`${m.mqttUp} / ${m.mqttDown}`,
				m.tlsOverheadPerWrite,
				m.pings,
				m.billedMessages,
				m.shadowOps,
				m.rules,
				m.naive.messages,
				m.naive.wireUp,
				m.reconnects,
			]),
		),
		'',
	);
	const first = x.samples[0];
	if (first) {
		md.push(`Breakdown of ${first.missionId} (seed ${first.seed}), per kind of MQTT packet:`, '');
		md.push(
			table(
				['packet', 'count', 'payload bytes', 'MQTT bytes (all)', 'billed messages', 'shadow ops', 'rule triggers'],
				first.kinds.map((k) => [k.kind, k.count, k.payloadMax ? (k.payloadMin === k.payloadMax ? String(k.payloadMax) : `${k.payloadMin}..${k.payloadMax}`) : '-', k.mqttBytes, k.billedMessages, k.shadowOps, k.rules]),
			),
			'',
		);
	}
	md.push(
		`**Shipping the robot's log ring on request** (one operator request, tools/logs.ts; the ring's ${x.logs[0]?.ringBytes ?? 0}-byte bound caps any answer at ${Math.ceil((x.logs[0]?.ringBytes ?? 0) / 3840) + 1} batches):`,
		'',
		table(
			['ring', 'bytes held', 'lines', 'batches (QoS 0)', 'largest batch', 'billed messages (request delivery + batches)'],
			x.logs.map((l) => [l.what, `${l.ringUsed} of ${l.ringBytes}`, l.lines, l.batches, l.batchMax, l.billedMessages]),
		),
		'',
	);
	md.push('Once per connection, not per mission (TLS handshake not included):', '');
	md.push(
		table(
			['packet', 'count', 'payload bytes', 'MQTT bytes (all)', 'billed messages', 'shadow ops'],
			x.perConnection.map((k) => [k.kind, k.count, k.payloadMax ? (k.payloadMin === k.payloadMax ? String(k.payloadMax) : `${k.payloadMin}..${k.payloadMax}`) : '-', k.mqttBytes, k.billedMessages, k.shadowOps]),
		),
		'',
	);
	md.push(
		[
			`Setup: ${x.setup}. A mission is measured from its start to the PUBACK of its report.`,
			'- **wire**: TCP payload through the proxy, TLS records included, TCP/IP headers not. **MQTT**: the packets decoded below TLS at the socket port. **TLS B / record**: (wire up − MQTT up) / writes of the robot (one TLS 1.2 AES-GCM record each: 5 header + 8 nonce + 16 tag = 29).',
			"- **billed messages** follow AWS IoT Core's metering: PUBLISH from the device or delivered by the service in 5 KB increments of topic + payload; Basic Ingest (`$aws/rules/...`) no messaging charge (the report is one rule trigger with one Lambda action, billed as rules); PINGREQ/PINGRESP, CONNACK, SUBACK and the service's PUBACK not metered; a PUBACK from the device metered as one message (MQTT 3.1.1), which a mission does not cause since nothing is delivered to the robot at QoS 1 while it cleans; shadow requests are messages plus shadow operations in 1 KB increments. Connection minutes (60 per hour connected) are billed apart.",
			'- **naive**: every event of the same mission (dropped ones included) as its own QoS 0 PUBLISH on the events topic, plus the report on `robots/{thing}/missions/{id}/report` at QoS 1 (not Basic Ingest): all under 5 KB, so one message each; its wire bytes add the measured TLS bytes per record and the same PINGs (the link pings after a keep-alive of silence in either direction, and QoS 0 publishes bring nothing back).',
			"- A mission's events go out at its start, after 25 and 50 minutes and at its end (`DEFAULT_EVENTS`): four batches for up to 75 minutes. A longer mission adds one per 25 minutes; the token bucket holds a burst to 4 per 15 minutes.",
		].join('\n'),
		'',
	);
	return md;
}

export const missionsBillingSection = benchSection({ name: 'missions.billing', title: 'billed AWS IoT messages and bytes per one-hour mission', run: (o) => missionsBilling(Math.min(o.runs, 3)), markdown: (x) => billingMarkdown(x, table) });
