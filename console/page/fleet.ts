/*
 * The operator view: the fleet as one table (console/page/fleet-table.ts for the rules),
 * sortable by clicking a column head (again: the other way), filtered by connection,
 * firmware and health outliers; and the handlers' counters (EMF metrics) beside it.
 */
import { ago, fill, h } from './dom';
import { fleetRows, filterRows, sortRows, type FleetFilter, type SortKey } from './fleet-table';
import { state } from './state';

const view: { key: SortKey; descending: boolean; filter: Required<FleetFilter> } = {
	key: 'thing',
	descending: false,
	filter: { online: 'all', firmware: 'all', outliersOnly: false },
};
let counters: Readonly<Record<string, number>> = {};

export function setMetrics(c: Readonly<Record<string, number>>): void {
	counters = c;
}

const COLUMNS: readonly [SortKey, string][] = [
	['thing', 'robot'],
	['online', 'online'],
	['firmware', 'firmware'],
	['lastSeen', 'last seen'],
	['freeHeap', 'free heap'],
	['reconnects', 'reconnects'],
	['rssi', 'RSSI'],
	['outliers', 'health'],
];

function sortBy(key: SortKey): void {
	view.descending = view.key === key ? !view.descending : false;
	view.key = key;
	renderFleet();
}

function filters(firmwares: readonly string[]) {
	const select = (name: 'online' | 'firmware', options: readonly string[], labels: (o: string) => string) =>
		h(
			'select',
			{
				'data-filter': name,
				onchange: (e: Event) => {
					view.filter = { ...view.filter, [name]: (e.target as HTMLSelectElement).value };
					renderFleet();
				},
			},
			...options.map((o) => h('option', { value: o, selected: view.filter[name] === o }, labels(o))),
		);
	return h(
		'div',
		{ class: 'row' },
		select('online', ['all', 'online', 'offline'], (o) => (o === 'all' ? 'online and offline' : o + ' only')),
		select('firmware', ['all', ...firmwares], (o) => (o === 'all' ? 'every firmware' : o)),
		h(
			'label',
			{},
			h('input', {
				type: 'checkbox',
				'data-filter': 'outliers',
				checked: view.filter.outliersOnly,
				onchange: (e: Event) => ((view.filter = { ...view.filter, outliersOnly: (e.target as HTMLInputElement).checked }), renderFleet()),
			}),
			' health outliers only',
		),
	);
}

export function renderFleet(): void {
	const all = fleetRows(state.robots.values());
	const firmwares = [...new Set(all.flatMap((r) => (r.firmware ? [r.firmware] : [])))].sort();
	const rows = sortRows(filterRows(all, view.filter), view.key, view.descending);
	const now = Date.now();
	const head = h('tr', {}, ...COLUMNS.map(([key, label]) => h('th', { 'data-sort': key, style: 'cursor:pointer', onclick: () => sortBy(key) }, label + (view.key === key ? (view.descending ? ' ▼' : ' ▲') : ''))));
	const body = rows.map((r) =>
		h(
			'tr',
			{ 'data-fleet-row': r.thing, 'data-online': String(r.online), 'data-outlier': String(r.outliers.length > 0) },
			h('td', {}, r.thing),
			h('td', {}, h('span', { class: r.online ? 'dot on' : 'dot' }), r.online ? 'yes' : 'no'),
			h('td', {}, r.firmware ?? '—'),
			h('td', { class: 'muted' }, ago(r.lastSeen, now)),
			h('td', {}, r.freeHeap === null ? '—' : Math.round(r.freeHeap / 1024) + ' KB'),
			h('td', {}, r.reconnects ?? '—'),
			h('td', {}, r.rssi === null ? '—' : r.rssi + ' dBm'),
			h('td', { class: r.outliers.length ? 'error' : 'muted' }, r.outliers.join(', ') || 'ok'),
		),
	);
	fill('fleet', filters(firmwares), h('div', { class: 'muted', 'data-fleet-count': String(rows.length) }, `${rows.length} of ${all.length} robots`), h('table', {}, head, ...body));
}

export function renderMetrics(): void {
	const entries = Object.entries(counters).sort(([a], [b]) => (a < b ? -1 : 1));
	if (entries.length === 0) return fill('metrics', h('div', { class: 'muted' }, 'no handler metrics yet'));
	fill('metrics', h('table', {}, ...entries.map(([k, v]) => h('tr', { 'data-metric': k.split('{')[0]! }, h('td', {}, k), h('td', {}, v)))));
}
