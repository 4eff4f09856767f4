/*
 * The selected robot's missions: the live timeline of its latest mission's event batches, the
 * stored reports (one shown whole), and the map of a mission drawn on the canvas from the
 * decrypted RMAP bytes (./map.ts), following the newest unless the person chose one.
 */
import type { ApiError } from '../protocol';
import { fill, h } from './dom';
import { mapImage } from './map';
import { $, json, showError, state, time } from './state';
import { tokenHeaders } from './token';

export function renderMissions(): void {
	const thing = state.selected;
	const batches = (thing && state.batches.get(thing)) || [];
	const last = batches[batches.length - 1];
	const current = last ? batches.filter((b) => b.mission === last.mission) : [];
	const events = current.flatMap((b) => b.events);
	const progress = [...events].reverse().find((e) => e.e === 'progress' || e.e === 'started' || e.e === 'docked');
	const docked = events.find((e) => e.e === 'docked');
	// events are QoS 0 telemetry, dropped while the robot is offline; the stored report is not
	const stored = last && ((thing && state.missions.get(thing)) || []).find((m) => m.missionId === last.mission && typeof m.outcome === 'string');
	if (last && progress) {
		const battery = Number(!docked && stored ? (stored.battery as { end?: number } | undefined)?.end : progress.battery);
		const said = docked
			? `done: ${String(docked.outcome)}, ${String(docked.areaM2)} m² in ${Math.round(Number(docked.durationS) / 60)} min`
			: stored
				? `done: ${String(stored.outcome)}, ${String(stored.areaM2)} m² (its stored report: events sent while it was offline were dropped, as telemetry is)`
				: `cleaning: ${String(progress.areaM2 ?? 0)} m²`;
		fill(
			'progress',
			h(
				'div',
				{ class: 'row', 'data-mission': last.mission, 'data-state': docked || stored ? 'docked' : 'running' },
				h('b', {}, last.mission),
				said,
				Number.isFinite(battery) ? h('span', {}, 'battery ', h('progress', { max: 100, value: battery }), ` ${battery}%`) : null,
			),
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
				return h(
					'li',
					{ 'data-event': name },
					h('span', { class: 't' }, mmss),
					h('b', {}, name),
					' ',
					Object.entries(rest)
						.map(([k, v]) => `${k} ${String(v)}`)
						.join(', '),
				);
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
				{
					'data-mission': m.missionId,
					'data-outcome': String(m.outcome ?? ''),
					class: m.missionId === state.report ? 'selected' : undefined,
					onclick: () => ((state.report = m.missionId), renderMissions()),
				},
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

/** No map on the canvas (another robot was selected). */
export function clearMap(): void {
	state.map = undefined;
	$<HTMLCanvasElement>('map-canvas').width = 0;
	fill('map-caption');
	showError('map-error', undefined);
}

export async function showMap(thing: string, missionId: string): Promise<void> {
	state.map = { thing, missionId };
	fill('map-caption', `${thing} ${missionId}: fetching…`);
	showError('map-error', undefined);
	let res: Response;
	try {
		res = await fetch(`/api/robots/${encodeURIComponent(thing)}/missions/${encodeURIComponent(missionId)}/map`, { headers: tokenHeaders() });
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
