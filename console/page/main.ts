/*
 * The console page: what the server pushes (console/protocol.ts, server-sent events) kept in
 * one state object and drawn into the sections of index.html; actions go to the server's
 * small JSON API, whose errors (the cloud's own status and words) are shown where the action
 * was made. The schedule editor is never redrawn under the person's hands: it is filled only
 * when a robot is selected or "Load" is pressed.
 */
import { MAX_BATCHES, type Control, type LiveMessage, type MissionRow, type RobotView, type ScheduleWritten, type ShadowView } from '../protocol';
import { ago, compactJson, fill, h } from './dom';
import { createJob, renderJobs } from './jobs';
import { renderFleet, renderMetrics, setMetrics } from './fleet';
import { clearMap, renderMissions } from './missions';
import { canonicalSchedule, scheduleStatus, type ScheduleStatus } from './schedule-status';
import { $, call, json, showError, state } from './state';
import { liveUrl } from './token';

// ---- robots --------------------------------------------------------------

function scheduleCell(r: RobotView) {
	const s = scheduleStatus(r.schedule, state.written.get(r.thing));
	const text = { none: 'no shadow yet', waiting: 'edit waiting for the robot', applied: 'edit applied', refused: 'edit refused', 'in-sync': 'in sync' }[s.value];
	return h('span', { class: 'status', 'data-state': s.value }, text + (s.value === 'none' ? '' : ' (v' + s.version + ')'));
}

function controlButtons(r: RobotView) {
	if (!r.controls) return h('span', { class: 'muted' }, '—');
	const b = (name: Control, label: string) => h('button', { 'data-control': name, 'data-thing': r.thing, onclick: (e: Event) => (e.stopPropagation(), void control(r.thing, name)) }, label);
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
				h('td', { 'data-firmware': r.firmware ?? '' }, r.firmware ?? '—'),
				h('td', { class: 'muted' }, ago(r.lastSeen, now)),
				h('td', {}, scheduleCell(r)),
				h('td', {}, controlButtons(r)),
			),
		);
	fill('robots', ...rows);
	const target = $<HTMLSelectElement>('job-target');
	const options = ['all', ...[...state.robots.keys()].sort()];
	if ([...target.options].map((o) => o.value).join() !== options.join()) target.replaceChildren(...options.map((t) => h('option', { value: t }, t === 'all' ? 'all robots' : t)));
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
	clearMap();
	state.report = undefined;
	renderAll();
	void loadMissions(thing);
}

/** The robot's stored reports now; the live stream brings them again whenever they change. */
async function loadMissions(thing: string): Promise<void> {
	const r = await call<MissionRow[]>('GET', `/api/robots/${encodeURIComponent(thing)}/missions`);
	if (!r.ok) return fill('problem', `missions of ${thing}: ${r.error.code}: ${r.error.message}`);
	state.missions.set(thing, r.value);
	renderAll();
}

// ---- the selected robot: shadows and schedule ------------------------------

function shadowBlock(title: string, s: ShadowView | null, id: string) {
	if (!s) return [h('div', { style: 'grid-column: 1 / -1' }, h('h3', {}, title), h('div', { class: 'muted' }, 'none yet'))];
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
	fill('shadows', ...shadowBlock('schedule shadow', r.schedule, 'schedule'), ...shadowBlock('status shadow', r.status, 'status'), ...shadowBlock('classic shadow', r.classic, 'classic'));
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

// ---- live ----------------------------------------------------------------

function renderAll(): void {
	fill('live-status', { connecting: 'connecting…', open: 'live', lost: 'connection lost: reconnecting…' }[state.live]);
	renderRobots();
	renderDetail();
	renderMissions();
	renderJobs();
	renderFleet();
	renderMetrics();
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
		case 'metrics':
			setMetrics(m.counters);
			return;
		case 'problem':
			fill('problem', m.error ? `${m.error.code}: ${m.error.message}` : '');
			return;
	}
}

function connect(): void {
	const source = new EventSource(liveUrl());
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
	for (const type of ['robot', 'events', 'missions', 'jobs', 'metrics', 'problem'] as const)
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
