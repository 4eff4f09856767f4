/*
 * The console's live view of the system, pushed to every open page (server-sent events).
 * It listens where an AWS app backend listens: the robots' publishes as the rules engine
 * sees them (mission events, reports, map upload requests), the shadows' `update/documents`
 * and `delete/accepted` topics, and the broker's sessions (AWS: lifecycle events; the local
 * broker answers `connectedThings()` instead). What it shows it reads back through the
 * backend's AWS APIs, so the page sees what the app would.
 *
 * Reading is driven by what happened, not by polling everything: a thing's shadows are read
 * after their documents topic spoke (or the console wrote them); its missions are read each
 * tick for WATCH_MS after a mission publish (the report and the map land in the table a
 * little later, through the rules and map-ingest); jobs each tick while one is not done, else
 * every JOBS_IDLE_MS. A message is pushed only when its JSON changed.
 */
import type { LocalCloud } from '../cloud/local/index';
import { REQUEST_TOPIC_FILTER } from '../cloud/functions/upload-slot/contract';
import { reportTopic } from '../firmware/core/mission/report';
import { topicMatches } from '../firmware/core/mqtt/topic';
import { STATUS_SHADOW } from '../firmware/core/ota/ota';
import { SCHEDULE_SHADOW } from '../firmware/core/schedule/shadow';
import type { Backend } from './backend';
import { DONE_JOBS, MAX_BATCHES, type ApiError, type EventBatch, type LiveMessage, type MissionEvent, type RobotView, type ShadowView } from './protocol';

/** How long a thing's missions are re-read after a mission publish: the report, then the map's ingest. */
export const WATCH_MS = 60_000;
export const TICK_MS = 500;
/** Jobs re-read while none is in progress (other tools may create some). */
export const JOBS_IDLE_MS = 3_000;
/** Missions lists re-read per tick at most (a fleet's missions are spread over ticks). */
const MISSIONS_PER_TICK = 8;
/** Cloud reads in flight at once (a fleet's first page load reads every robot). */
const READS_AT_ONCE = 8;

export type LiveLog = (level: 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>) => void;

export interface LiveOptions {
	readonly cloud: Pick<LocalCloud, 'bus' | 'broker'> & Partial<Pick<LocalCloud, 'metrics'>>;
	readonly backend: Backend;
	/** The robots to show from the start (more appear when they publish). */
	readonly things: readonly string[];
	/** Things the console has controls for. */
	readonly controls: ReadonlySet<string>;
	readonly log: LiveLog;
	readonly tickMs?: number;
}

export interface Live {
	/** Everything a newly opened page needs (missions aside: see the server's GET .../missions), read fresh where stale. */
	snapshot(): Promise<LiveMessage[]>;
	subscribe(listener: (m: LiveMessage) => void): () => void;
	/** Re-read a thing's shadows, its missions, or the jobs at the next tick (after the console wrote them). */
	touch(what: { shadows?: string; missions?: string; jobs?: boolean }): void;
	readonly things: readonly string[];
	close(): void;
}

const EVENTS_TOPIC = 'robots/+/missions/+/events';
/** After these the missions table changes: the report (through the rule), the map (through its upload and ingest). */
const MISSION_TOPICS = [reportTopic('+', '+'), REQUEST_TOPIC_FILTER];

/** `f` over `items`, at most `n` at a time. */
async function eachLimited<T>(items: readonly T[], n: number, f: (item: T) => Promise<void>): Promise<void> {
	let next = 0;
	const worker = async () => {
		while (next < items.length) await f(items[next++]!);
	};
	await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

export function createLive(o: LiveOptions): Live {
	const tickMs = o.tickMs ?? TICK_MS;
	const things = new Set(o.things);
	const listeners = new Set<(m: LiveMessage) => void>();
	const shadows = new Map<string, { classic: ShadowView | null; schedule: ShadowView | null; status: ShadowView | null }>();
	const staleShadows = new Set<string>(o.things);
	const lastSeen = new Map<string, number>();
	let connected = new Set<string>();
	const batches = new Map<string, EventBatch[]>();
	const watchMissions = new Map<string, number>();
	let jobsDueAt = 0;
	let jobsActive = false;
	/** The JSON last pushed per key, so only changes go out. */
	const sent = new Map<string, string>();
	let lastProblem = '';

	const emit = (m: LiveMessage) => {
		for (const l of listeners) l(m);
	};
	const pushIfChanged = (key: string, m: LiveMessage): boolean => {
		const json = JSON.stringify(m);
		if (sent.get(key) === json) return false;
		sent.set(key, json);
		emit(m);
		return true;
	};
	const problem = (error: ApiError, what: string) => {
		const key = what + ': ' + error.code + ' ' + error.message;
		if (key === lastProblem) return;
		lastProblem = key;
		o.log('warn', 'console.read_failed', { what, ...error });
		emit({ type: 'problem', error: { ...error, message: what + ': ' + error.message } });
	};
	/** A read worked again after a problem: the page drops its notice. */
	const recovered = () => {
		if (lastProblem === '') return;
		lastProblem = '';
		o.log('info', 'console.read_recovered');
		emit({ type: 'problem', error: null });
	};
	const see = (thing: string) => {
		if (!things.has(thing)) {
			things.add(thing);
			staleShadows.add(thing);
		}
	};

	function robotView(thing: string): RobotView {
		const s = shadows.get(thing) ?? { classic: null, schedule: null, status: null };
		const fw = (s.status?.reported?.firmware as { version?: unknown } | undefined)?.version;
		return {
			thing,
			connected: connected.has(thing),
			lastSeen: lastSeen.get(thing) ?? null,
			firmware: typeof fw === 'string' ? fw : null,
			classic: s.classic,
			schedule: s.schedule,
			status: s.status,
			controls: o.controls.has(thing),
		};
	}

	async function readShadows(thing: string): Promise<void> {
		staleShadows.delete(thing);
		const [classic, schedule, status] = await Promise.all([o.backend.shadow(thing, null), o.backend.shadow(thing, SCHEDULE_SHADOW), o.backend.shadow(thing, STATUS_SHADOW)]);
		if (!classic.ok || !schedule.ok || !status.ok) {
			staleShadows.add(thing);
			const failed = [classic, schedule, status].find((r) => !r.ok);
			return problem(failed && !failed.ok ? failed.error : { status: 0, code: 'Error', message: 'unknown' }, 'shadows of ' + thing);
		}
		recovered();
		shadows.set(thing, { classic: classic.value, schedule: schedule.value, status: status.value });
	}

	async function readMissions(thing: string): Promise<void> {
		const r = await o.backend.missions(thing);
		if (!r.ok) return problem(r.error, 'missions of ' + thing);
		recovered();
		pushIfChanged('missions/' + thing, { type: 'missions', thing, missions: r.value });
	}

	async function readJobs(): Promise<void> {
		const r = await o.backend.jobs();
		if (!r.ok) return problem(r.error, 'jobs');
		recovered();
		jobsActive = r.value.some((j) => !DONE_JOBS.has(j.status));
		jobsDueAt = Date.now() + (jobsActive ? 0 : JOBS_IDLE_MS);
		pushIfChanged('jobs', { type: 'jobs', jobs: r.value });
	}

	function readConnected(): void {
		let now: Set<string>;
		try {
			now = new Set(o.cloud.broker.connectedThings());
		} catch {
			now = new Set(); // the broker is stopped (an outage the story injects): nobody is connected
		}
		for (const t of now) if (!connected.has(t)) lastSeen.set(t, Date.now());
		for (const t of now) see(t);
		connected = now;
	}

	const offPublish = o.cloud.bus.onDevicePublish((m) => {
		see(m.thing);
		lastSeen.set(m.thing, Date.now());
		if (topicMatches(EVENTS_TOPIC, m.topic)) {
			watchMissions.set(m.thing, Date.now() + WATCH_MS);
			let body: { mission?: unknown; dropped?: unknown; events?: unknown };
			try {
				body = JSON.parse(new TextDecoder().decode(m.payload)) as typeof body;
			} catch (e) {
				o.log('warn', 'console.bad_events', { thing: m.thing, topic: m.topic, error: (e as Error).message });
				return;
			}
			const events = Array.isArray(body.events) ? (body.events.filter((x) => typeof x === 'object' && x !== null && typeof (x as MissionEvent).e === 'string') as MissionEvent[]) : [];
			const batch: EventBatch = { thing: m.thing, mission: m.topic.split('/')[3]!, at: Date.now(), dropped: typeof body.dropped === 'number' ? body.dropped : 0, events };
			const list = batches.get(m.thing) ?? [];
			list.push(batch);
			if (list.length > MAX_BATCHES) list.splice(0, list.length - MAX_BATCHES);
			batches.set(m.thing, list);
			emit({ type: 'events', batch });
			return;
		}
		if (MISSION_TOPICS.some((f) => topicMatches(f, m.topic))) watchMissions.set(m.thing, Date.now() + WATCH_MS);
	});
	const onShadowChange = (m: { topic: string }) => {
		const thing = m.topic.split('/')[2];
		if (thing) {
			see(thing);
			staleShadows.add(thing);
		}
	};
	const offShadows = ['$aws/things/+/shadow/update/documents', '$aws/things/+/shadow/name/+/update/documents', '$aws/things/+/shadow/delete/accepted', '$aws/things/+/shadow/name/+/delete/accepted'].map((f) =>
		o.cloud.bus.subscribe(f, onShadowChange),
	);

	let timer: NodeJS.Timeout | undefined;
	let closed = false;
	let missionsCursor = 0;
	async function tick(): Promise<void> {
		readConnected();
		if (listeners.size === 0) return; // nobody looking: keep only what costs nothing (sessions, last seen)
		if (o.cloud.metrics) pushIfChanged('metrics', { type: 'metrics', counters: o.cloud.metrics.counters() });
		await eachLimited([...staleShadows], READS_AT_ONCE, readShadows);
		for (const t of things) pushIfChanged('robot/' + t, { type: 'robot', robot: robotView(t) });
		const now = Date.now();
		const watched = [...watchMissions].filter(([, until]) => until > now).map(([t]) => t);
		for (const [t, until] of watchMissions) if (until <= now) watchMissions.delete(t);
		const turn = Array.from({ length: Math.min(MISSIONS_PER_TICK, watched.length) }, (_, i) => watched[(missionsCursor + i) % watched.length]!);
		await eachLimited(turn, READS_AT_ONCE, readMissions);
		missionsCursor += MISSIONS_PER_TICK;
		if (jobsActive || now >= jobsDueAt) await readJobs();
	}
	const loop = () => {
		timer = setTimeout(() => {
			tick()
				.catch((e: unknown) => o.log('error', 'console.tick_failed', { error: String(e) }))
				.finally(() => {
					if (!closed) loop();
				});
		}, tickMs);
	};
	loop();

	return {
		get things() {
			return [...things].sort();
		},
		async snapshot() {
			readConnected();
			await eachLimited([...staleShadows], READS_AT_ONCE, readShadows);
			// a robot's missions are read when a page selects it (GET .../missions), then pushed as they change:
			// a fleet's page opens without a table query per robot
			const out: LiveMessage[] = [];
			for (const t of [...things].sort()) {
				// `sent` is left alone: pages already open must still get what changed since their last push
				out.push({ type: 'robot', robot: robotView(t) });
				for (const batch of batches.get(t) ?? []) out.push({ type: 'events', batch });
			}
			if (o.cloud.metrics) out.push({ type: 'metrics', counters: o.cloud.metrics.counters() });
			const j = await o.backend.jobs();
			if (j.ok) out.push({ type: 'jobs', jobs: j.value });
			else problem(j.error, 'jobs');
			return out;
		},
		subscribe(listener) {
			listeners.add(listener);
			return () => listeners.delete(listener);
		},
		touch(what) {
			if (what.shadows) staleShadows.add(what.shadows);
			if (what.missions) watchMissions.set(what.missions, Date.now() + WATCH_MS);
			if (what.jobs) jobsDueAt = 0;
		},
		close() {
			closed = true;
			clearTimeout(timer);
			offPublish();
			for (const off of offShadows) off();
		},
	};
}
