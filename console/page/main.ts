/*
 * The console page: what the server pushes (console/protocol.ts, server-sent events) kept in
 * one state object and drawn into the sections of index.html; actions go to the server's
 * small JSON API, whose errors (the cloud's own status and words) are shown where the action
 * was made. The schedule editor is never redrawn under the person's hands: it is filled only
 * when a robot is selected or "Load" is pressed.
 */
import type { ApiError, Control, EventBatch, JobView, LiveMessage, MissionRow, RobotView, ScheduleWritten, ShadowView } from '../protocol';
import { ago, compactJson, fill, h } from './dom';
import { mapImage } from './map';
import { canonicalSchedule, scheduleStatus, type ScheduleStatus, type Written } from './schedule-status';

interface State {
	live: 'connecting' | 'open' | 'lost';
	readonly robots: Map<string, RobotView>;
	readonly missions: Map<string, readonly MissionRow[]>;
	readonly batches: Map<string, EventBatch[]>;
	jobs: readonly JobView[];
	selected: string | undefined;
	/** The last edit this page wrote, per robot. */
	readonly written: Map<string, Written>;
	/** The map on the canvas (or being fetched). */
	map: { thing: string; missionId: string } | undefined;
	/** Robots whose map the person chose (no longer follow the newest automatically). */
	readonly pinnedMap: Set<string>;
	/** The mission whose stored report is shown whole. */
	report: string | undefined;
}

const state: State = { live: 'connecting', robots: new Map(), missions: new Map(), batches: new Map(), jobs: [], selected: undefined, written: new Map(), map: undefined, pinnedMap: new Set(), report: undefined };
const MAX_BATCHES = 40;
const DONE_JOBS = new Set(['COMPLETED', 'CANCELED', 'DELETION_IN_PROGRESS']);

const $ = <T extends HTMLElement>(id: string): T => {
	const el = document.getElementById(id);
	if (!el) throw new Error('the page has no #' + id);
	return el as T;
};

/** A JSON request to the console's server; a refusal is the server's ApiError. */
async function call<T>(method: string, path: string, body?: unknown): Promise<{ ok: true; value: T } | { ok: false; error: ApiError }> {
	let res: Response;
	try {
		res = await fetch(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
	} catch (e) {
		return { ok: false, error: { status: 0, code: 'NetworkError', message: 'the console server did not answer: ' + (e as Error).message } };
	}
	const text = await res.text();
	let x: unknown;
	try {
		x = text ? JSON.parse(text) : {};
	} catch {
		x = { status: res.status, code: 'BadReply', message: text.slice(0, 200) };
	}
	if (res.ok) return { ok: true, value: x as T };
	const e = x as Partial<ApiError>;
	return { ok: false, error: { status: e.status ?? res.status, code: e.code ?? 'Error', message: e.message ?? text } };
}

const showError = (id: string, e: ApiError | undefined) => fill(id, e ? `${e.code} (HTTP ${e.status}): ${e.message}` : '');
const json = (x: unknown) => (x === null || x === undefined ? '—' : compactJson(x, '', 40));
const time = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toLocaleTimeString() : '—');

// ---- robots --------------------------------------------------------------

function scheduleCell(r: RobotView) {
	const s = scheduleStatus(r.schedule, state.written.get(r.thing));
	const text = { none: 'no shadow yet', waiting: 'edit waiting for the robot', applied: 'edit applied', refused: 'edit refused', 'in-sync': 'in sync' }[s.value];
	return h('span', { class: 'status', 'data-state': s.value }, text + (s.value === 'none' ? '' : ' (v' + s.version + ')'));
}

function controlButtons(r: RobotView) {
	if (!r.controls) return h('span', { class: 'muted' }, '—');
	const b = (name: Control, label: string) =>
		h('button', { 'data-control': name, 'data-thing': r.thing, onclick: (e: Event) => (e.stopPropagation(), void control(r.thing, name)) }, label);
	return h('span', { class: 'row' }, b('offline', 'go offline'), b('online', 'come back'), b('mission', 'start mission'));
}

function renderRobots(): void {
	const now = Date.now();
	const rows = [...state.robots.values()]
		.sort((a, b) => (a.thing < b.thing ? -1 : 1))
		.map((r) =>
			h(
				'tr',
				{ 'data-thing': r.thing, 'data-connected': String(r.connected), class: r.thing === state.selected ? 'selected' : undefined, onclick: () => select(r.thing) },
				h('td', {}, h('span', { class: r.connected ? 'dot on' : 'dot', title: r.connected ? 'connected' : 'not connected' }), r.thing, h('div', { class: 'muted' }, r.connected ? 'connected' : 'offline')),
				h('td', {}, r.firmware ?? '—'),
				h('td', { class: 'muted' }, ago(r.lastSeen, now)),
				h('td', {}, scheduleCell(r)),
				h('td', {}, controlButtons(r)),
			),
		);
	fill('robots', ...rows);
	const target = $<HTMLSelectElement>('job-target');
	const options = ['all', ...[...state.robots.keys()].sort()];
	if ([...target.options].map((o) => o.value).join() !== options.join())
		target.replaceChildren(...options.map((t) => h('option', { value: t }, t === 'all' ? 'all robots' : t)));
}

async function control(thing: string, name: Control): Promise<void> {
	const r = await call<{ mission?: string }>('POST', `/api/robots/${encodeURIComponent(thing)}/control/${name}`);
	fill('problem', r.ok ? '' : `${thing}: ${name}: ${r.error.code}: ${r.error.message}`);
	if (r.ok && name === 'mission') state.pinnedMap.delete(thing);
}

function select(thing: string): void {
	if (state.selected === thing) return;
	state.selected = thing;
	const r = state.robots.get(thing);
	$<HTMLTextAreaElement>('schedule-editor').value = editorText(r?.schedule ?? null);
	showError('schedule-error', undefined);
	renderAll();
}

// ---- the selected robot: shadows and schedule ------------------------------

function shadowBlock(title: string, s: ShadowView | null, id: string) {
	if (!s) return [h('div', {}, h('h3', {}, title), h('div', { class: 'muted' }, 'none yet'))];
	return [
		h('div', {}, h('h3', {}, `${title} v${s.version} · desired`), h('pre', { 'data-testid': id + '-desired' }, json(s.desired))),
		h('div', {}, h('h3', {}, 'reported'), h('pre', { 'data-testid': id + '-reported' }, json(s.reported))),
		h('div', {}, h('h3', {}, 'delta'), h('pre', { 'data-testid': id + '-delta' }, json(s.delta))),
	];
}

function editorText(s: ShadowView | null): string {
	const x = s?.desired?.schedule ?? s?.reported?.schedule ?? { tz: 'UTC0', entries: [] };
	return compactJson(x);
}

function renderDetail(): void {
	const r = state.selected ? state.robots.get(state.selected) : undefined;
	if (!r) {
		fill('detail-title', 'Select a robot');
		fill('shadows');
		fill('schedule-status');
		return;
	}
	fill('detail-title', `${r.thing} — ${r.connected ? 'connected' : 'offline'}, firmware ${r.firmware ?? 'unknown'}, last seen ${ago(r.lastSeen, Date.now())}`);
	fill('shadows', ...shadowBlock('schedule shadow', r.schedule, 'schedule'), ...shadowBlock('classic shadow', r.classic, 'classic'));
	const s = scheduleStatus(r.schedule, state.written.get(r.thing));
	const el = $('schedule-status');
	el.dataset.state = s.value;
	el.textContent = statusText(s, r);
}

function statusText(s: ScheduleStatus, r: RobotView): string {
	switch (s.value) {
		case 'none':
			return 'The robot has not made its schedule shadow yet.';
		case 'waiting':
			return `Edit written to desired (shadow v${s.version}); ${r.connected ? 'the robot is taking it…' : 'the robot is offline: it applies the edit when it is back.'}`;
		case 'applied':
			return `Applied: ${r.thing} took the edit, reported it and cleared desired (shadow v${s.version}).`;
		case 'refused':
			return `Refused by the robot: ${s.reason} (shadow v${s.version})`;
		case 'in-sync':
			return `In sync: the robot runs what desired asked (shadow v${s.version}).`;
	}
}

async function saveSchedule(): Promise<void> {
	const thing = state.selected;
	if (!thing) return showError('schedule-error', { status: 0, code: 'NoRobot', message: 'select a robot first' });
	const text = $<HTMLTextAreaElement>('schedule-editor').value;
	const r = await call<ScheduleWritten>('PUT', `/api/robots/${encodeURIComponent(thing)}/schedule`, { schedule: text });
	showError('schedule-error', r.ok ? undefined : r.error);
	if (!r.ok) return;
	// what was written, as the cloud stored it (the robot may have taken it already: then desired is gone)
	const canonical = canonicalSchedule(JSON.parse(text));
	if (canonical) state.written.set(thing, { version: r.value.writtenVersion, canonical });
	const robot = state.robots.get(thing);
	// the shadow after the write, until the live stream brings a newer one
	if (robot && (robot.schedule?.version ?? -1) < r.value.shadow.version) state.robots.set(thing, { ...robot, schedule: r.value.shadow });
	renderAll();
}

// ---- missions and maps ---------------------------------------------------

function renderMissions(): void {
	const thing = state.selected;
	const batches = (thing && state.batches.get(thing)) || [];
	const last = batches[batches.length - 1];
	const current = last ? batches.filter((b) => b.mission === last.mission) : [];
	const events = current.flatMap((b) => b.events);
	const progress = [...events].reverse().find((e) => e.e === 'progress' || e.e === 'started' || e.e === 'docked');
	const docked = events.find((e) => e.e === 'docked');
	if (last && progress) {
		const battery = Number(progress.battery ?? NaN);
		fill(
			'progress',
			h('div', { class: 'row', 'data-mission': last.mission, 'data-state': docked ? 'docked' : 'running' }, h('b', {}, last.mission), docked ? `done: ${String(docked.outcome)}, ${String(docked.areaM2)} m² in ${Math.round(Number(docked.durationS) / 60)} min` : `cleaning: ${String(progress.areaM2 ?? 0)} m²`, Number.isFinite(battery) ? h('span', {}, 'battery ', h('progress', { max: 100, value: battery }), ` ${battery}%`) : null),
		);
	} else fill('progress', h('span', { class: 'muted' }, 'no mission events yet'));
	fill(
		'timeline',
		...events
			.slice()
			.reverse()
			.map((e) => {
				const { e: name, t, ...rest } = e;
				const mmss = typeof t === 'number' ? `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}` : '';
				return h('li', { 'data-event': name }, h('span', { class: 't' }, mmss), h('b', {}, name), ' ', Object.entries(rest).map(([k, v]) => `${k} ${String(v)}`).join(', '));
			}),
	);
	const rows = (thing && state.missions.get(thing)) || [];
	fill(
		'missions',
		...rows.map((m) => {
			const battery = m.battery as { start?: number; end?: number } | undefined;
			const mapCell =
				m.mapReady === true
					? h('button', { 'data-map': m.missionId, onclick: () => (state.pinnedMap.add(m.thing), void showMap(m.thing, m.missionId)) }, 'show')
					: h('span', { class: 'muted' }, m.map === 'pending' ? 'pending' : m.map === 'none' ? 'none' : '—');
			return h(
				'tr',
				{ 'data-mission': m.missionId, 'data-outcome': String(m.outcome ?? ''), class: m.missionId === state.report ? 'selected' : undefined, onclick: () => ((state.report = m.missionId), renderMissions()) },
				h('td', {}, m.missionId),
				h('td', {}, String(m.trigger ?? '—')),
				h('td', {}, String(m.outcome ?? 'report not in yet')),
				h('td', {}, time(m.startedAt)),
				h('td', {}, typeof m.durationS === 'number' ? Math.round(m.durationS / 60) + ' min' : '—'),
				h('td', {}, typeof m.areaM2 === 'number' ? m.areaM2 + ' m²' : '—'),
				h('td', {}, battery ? `${battery.start}→${battery.end}%` : '—'),
				h('td', {}, mapCell),
			);
		}),
	);
	const shown = rows.find((m) => m.missionId === state.report) ?? rows[0];
	fill('report', shown ? h('pre', { 'data-report': shown.missionId }, `${shown.missionId}, as stored in the missions table:\n` + json(shown)) : h('span', { class: 'muted' }, 'no report stored yet'));
	// follow the newest map unless the person chose one
	const newest = rows.find((m) => m.mapReady === true);
	if (thing && newest && !state.pinnedMap.has(thing) && (state.map?.thing !== thing || state.map.missionId !== newest.missionId)) void showMap(thing, newest.missionId);
}

async function showMap(thing: string, missionId: string): Promise<void> {
	state.map = { thing, missionId };
	fill('map-caption', `${thing} ${missionId}: fetching…`);
	showError('map-error', undefined);
	let res: Response;
	try {
		res = await fetch(`/api/robots/${encodeURIComponent(thing)}/missions/${encodeURIComponent(missionId)}/map`);
	} catch (e) {
		return showError('map-error', { status: 0, code: 'NetworkError', message: (e as Error).message });
	}
	if (!res.ok) {
		const e = (await res.json().catch(() => ({}))) as Partial<ApiError>;
		return showError('map-error', { status: res.status, code: e.code ?? 'Error', message: e.message ?? res.statusText });
	}
	const bytes = new Uint8Array(await res.arrayBuffer());
	if (state.map?.thing !== thing || state.map.missionId !== missionId) return; // another was asked for meanwhile
	const img = mapImage(bytes);
	if (typeof img === 'string') return showError('map-error', { status: 0, code: 'BadMap', message: img });
	const canvas = $<HTMLCanvasElement>('map-canvas');
	canvas.width = img.width;
	canvas.height = img.height;
	const ctx = canvas.getContext('2d');
	if (!ctx) return showError('map-error', { status: 0, code: 'NoCanvas', message: 'this browser gave no 2D canvas' });
	ctx.putImageData(new ImageData(img.rgba, img.width, img.height), 0, 0);
	canvas.dataset.mission = missionId;
	fill('map-caption', `${thing} ${missionId}: ${img.width} x ${img.height} cells of ${img.resolutionMm} mm, ${img.areaM2} m² cleaned, ${bytes.length.toLocaleString()} bytes decrypted in the cloud`);
}

// ---- firmware jobs -------------------------------------------------------

function renderJobs(): void {
	if (state.jobs.length === 0) return fill('jobs', h('div', { class: 'muted' }, 'no jobs'));
	fill(
		'jobs',
		...state.jobs.map((j) =>
			h(
				'div',
				{ 'data-job': j.jobId, 'data-status': j.status, style: 'margin:.5rem 0' },
				h('div', { class: 'row' }, h('b', {}, j.jobId), h('span', { class: 'muted' }, j.status), DONE_JOBS.has(j.status) ? null : h('button', { 'data-cancel': j.jobId, onclick: () => void cancelJob(j.jobId) }, 'cancel')),
				h(
					'table',
					{},
					...j.executions.map((x) =>
						h('tr', { 'data-execution': x.thing, 'data-status': x.status }, h('td', {}, x.thing), h('td', {}, x.status), h('td', { class: 'muted' }, Object.entries(x.details).map(([k, v]) => `${k}: ${v}`).join(', ') || '—'), h('td', { class: 'muted' }, time(x.updatedAt))),
					),
				),
			),
		),
	);
}

async function createJob(): Promise<void> {
	const version = $<HTMLInputElement>('job-version').value.trim();
	const target = $<HTMLSelectElement>('job-target').value;
	const r = await call<{ jobId: string }>('POST', '/api/jobs', { version, things: target === 'all' ? 'all' : [target] });
	showError('job-error', r.ok ? undefined : r.error);
}

async function cancelJob(jobId: string): Promise<void> {
	const r = await call('POST', `/api/jobs/${encodeURIComponent(jobId)}/cancel`);
	showError('job-error', r.ok ? undefined : r.error);
}

// ---- live ----------------------------------------------------------------

function renderAll(): void {
	fill('live-status', { connecting: 'connecting…', open: 'live', lost: 'connection lost: reconnecting…' }[state.live]);
	renderRobots();
	renderDetail();
	renderMissions();
	renderJobs();
}

function apply(m: LiveMessage): void {
	switch (m.type) {
		case 'robot': {
			// a push read before this page's own write must not take the newer document back
			const mine = state.robots.get(m.robot.thing)?.schedule;
			const schedule = mine && m.robot.schedule && mine.version > m.robot.schedule.version ? mine : m.robot.schedule;
			state.robots.set(m.robot.thing, { ...m.robot, schedule });
			if (state.selected === undefined) select(m.robot.thing);
			return;
		}
		case 'events': {
			const list = state.batches.get(m.batch.thing) ?? [];
			if (!list.some((b) => b.at === m.batch.at && b.mission === m.batch.mission)) list.push(m.batch);
			if (list.length > MAX_BATCHES) list.splice(0, list.length - MAX_BATCHES);
			state.batches.set(m.batch.thing, list);
			return;
		}
		case 'missions':
			state.missions.set(m.thing, m.missions);
			return;
		case 'jobs':
			state.jobs = m.jobs;
			return;
		case 'problem':
			fill('problem', m.error ? `${m.error.code}: ${m.error.message}` : '');
			return;
	}
}

function connect(): void {
	const source = new EventSource('/api/live');
	source.onopen = () => {
		state.live = 'open';
		renderAll();
	};
	source.onerror = () => {
		// EventSource reconnects by itself; the page says so meanwhile
		state.live = 'lost';
		renderAll();
	};
	let pending = false;
	for (const type of ['robot', 'events', 'missions', 'jobs', 'problem'] as const)
		source.addEventListener(type, (e) => {
			apply(JSON.parse((e as MessageEvent<string>).data) as LiveMessage);
			// one redraw per animation frame, however many messages came
			if (!pending) {
				pending = true;
				requestAnimationFrame(() => {
					pending = false;
					renderAll();
				});
			}
		});
}

$('save-schedule').addEventListener('click', () => void saveSchedule());
$('load-schedule').addEventListener('click', () => {
	const r = state.selected ? state.robots.get(state.selected) : undefined;
	$<HTMLTextAreaElement>('schedule-editor').value = compactJson(r?.schedule?.reported?.schedule ?? { tz: 'UTC0', entries: [] });
});
$('create-job').addEventListener('click', () => void createJob());
setInterval(renderRobots, 5_000); // "last seen" ages
connect();
