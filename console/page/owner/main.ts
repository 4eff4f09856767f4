/*
 * The owner's app (console/owner-app.ts serves it): sign in to the user pool (Cognito's
 * InitiateAuth), then only the owner API with the ID token, as a phone app would. The token is
 * kept in memory only. The page is made for a person: the schedule is a week to pick days,
 * times, modes and rooms on (never JSON), clean-now has room buttons, missions are cards with
 * their outcome, area, duration and the map, and a command is followed to its end in words.
 */
import { fill, h } from '../dom';
import { mapImage } from '../map';
import { commandWords, DAY_NAMES, DAYS, durationWords, MODE_NAMES, outcomeWords, refusalWords, roomWords } from './words';

interface Config {
	readonly api: string;
	readonly auth: string;
	readonly clientId: string;
}
type Mode = keyof typeof MODE_NAMES;
interface Entry {
	id: string;
	days: string[];
	start: string;
	enabled: boolean;
	mode: Mode;
	rooms: string[];
}
interface Mission {
	missionId: string;
	trigger: string | null;
	outcome: string | null;
	startedAt: number | null;
	durationS: number | null;
	areaM2: number | null;
	mapReady: boolean;
}

let config: Config;
let token: string | undefined;
let selected: string | undefined;
let tz = 'UTC0';
let entries: Entry[] = [];
/** The rooms the chosen robot reported (its map's rooms): what clean-now and the week offer. */
let rooms: readonly string[] = [];
let drawn = new Set<string>();
let refresh: ReturnType<typeof setInterval> | undefined;

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
	const r = await fetch(config.api + path, {
		method,
		headers: { authorization: 'Bearer ' + token, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
		...(body !== undefined ? { body: JSON.stringify(body) } : {}),
	});
	const parsed = (await r.json().catch(() => ({}))) as Record<string, any>;
	if (r.status === 401) parsed.error = 'Unauthorized';
	return { status: r.status, body: parsed };
}

function say(id: string, text: string, ok = true): void {
	fill(id, h('span', { class: ok ? 'ok' : 'refused' }, text));
}

// ---- sign in ------------------------------------------------------------------------------

async function signIn(e: Event): Promise<void> {
	e.preventDefault();
	const email = (document.getElementById('email') as HTMLInputElement).value;
	const password = (document.getElementById('password') as HTMLInputElement).value;
	const r = await fetch(config.auth, {
		method: 'POST',
		headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityProviderService.InitiateAuth' },
		body: JSON.stringify({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: config.clientId, AuthParameters: { USERNAME: email, PASSWORD: password } }),
	});
	const b = (await r.json()) as { AuthenticationResult?: { IdToken: string } };
	if (!r.ok || !b.AuthenticationResult) return say('login-status', 'Wrong email or password.', false);
	token = b.AuthenticationResult.IdToken;
	document.body.dataset.signedIn = 'true';
	fill('who', 'Signed in as ' + email);
	await loadRobots();
}

// ---- robots -------------------------------------------------------------------------------

async function loadRobots(): Promise<void> {
	const r = await api('GET', '/robots');
	const robots = (r.body.robots ?? []) as { thing: string }[];
	fill(
		'robots',
		...(robots.length === 0 ? ['No robots yet: add one below.'] : robots.map((x) => h('button', { class: x.thing === selected ? 'robot chosen' : 'robot', 'data-thing': x.thing, onclick: () => void choose(x.thing) }, x.thing))),
	);
	if (!selected && robots.length > 0) await choose(robots[0]!.thing);
}

async function claim(e: Event): Promise<void> {
	e.preventDefault();
	const thing = (document.getElementById('claim-thing') as HTMLInputElement).value.trim();
	const code = (document.getElementById('claim-code') as HTMLInputElement).value.trim().toUpperCase();
	const r = await api('POST', '/robots/claim', { thing, code });
	if (r.status !== 200) return say('claim-status', refusalWords(r.body.error), false);
	say('claim-status', thing + ' is yours now.');
	// a code is used once: nothing to keep on the page
	(document.getElementById('claim-code') as HTMLInputElement).value = '';
	selected = undefined;
	await loadRobots();
	await choose(thing);
}

async function choose(thing: string): Promise<void> {
	selected = thing;
	drawn = new Set();
	document.body.dataset.robot = thing;
	fill('robot-name', thing);
	for (const b of document.querySelectorAll<HTMLButtonElement>('button.robot')) b.className = b.dataset.thing === thing ? 'robot chosen' : 'robot';
	const r = await api('GET', '/robots/' + encodeURIComponent(thing));
	if (r.status !== 200) return say('command-status', refusalWords(r.body.error), false);
	const s = (r.body.schedule?.desired ?? r.body.schedule?.reported ?? { tz: 'UTC0', entries: [] }) as { tz: string; entries: Partial<Entry>[] };
	tz = s.tz;
	rooms = Array.isArray(r.body.rooms) ? (r.body.rooms as string[]) : [];
	renderRooms();
	entries = s.entries.map((x, i) => ({
		id: x.id ?? 'entry-' + i,
		days: [...(x.days ?? [])],
		start: x.start ?? '09:00',
		enabled: x.enabled !== false,
		mode: (x.mode as Mode) ?? 'vacuum',
		rooms: [...(x.rooms ?? [])],
	}));
	renderWeek();
	await loadMissions();
	if (refresh) clearInterval(refresh);
	refresh = setInterval(() => void loadMissions(), 1500);
}

async function unbind(): Promise<void> {
	if (!selected) return;
	const r = await api('DELETE', '/robots/' + encodeURIComponent(selected));
	if (r.status !== 200) return say('command-status', refusalWords(r.body.error), false);
	selected = undefined;
	document.body.dataset.robot = '';
	await loadRobots();
}

// ---- commands -----------------------------------------------------------------------------

async function command(action: string, extra: Record<string, unknown> = {}): Promise<void> {
	if (!selected) return;
	say('command-status', 'Sending…');
	const r = await api('POST', '/robots/' + encodeURIComponent(selected) + '/commands', { action, ...extra });
	if (r.status !== 202) return say('command-status', refusalWords(r.body.error), false);
	const id = r.body.executionId as string;
	document.body.dataset.command = id;
	for (;;) {
		await new Promise((res) => setTimeout(res, 400));
		const x = await api('GET', '/robots/' + encodeURIComponent(selected) + '/commands/' + id);
		const w = commandWords({ status: x.body.status, reasonCode: x.body.reasonCode });
		say('command-status', w.text, w.ok);
		if (w.done) {
			document.body.dataset.commandDone = x.body.status;
			return;
		}
	}
}

function cleanNow(): void {
	const rooms = [...document.querySelectorAll<HTMLInputElement>('#clean-rooms input:checked')].map((i) => i.value);
	const mode = (document.getElementById('clean-mode') as HTMLSelectElement).value;
	void command('clean', { mode, ...(rooms.length > 0 ? { rooms } : {}) });
}

// ---- the week -----------------------------------------------------------------------------

function renderWeek(): void {
	// the week at a glance: each day with its cleaning times
	fill(
		'week',
		...DAYS.map((d) =>
			h(
				'div',
				{ class: 'day' },
				h('b', {}, DAY_NAMES[d]),
				...entries
					.filter((e) => e.days.includes(d))
					.sort((a, b) => a.start.localeCompare(b.start))
					.map((e) => h('div', { class: e.enabled ? 'slot' : 'slot off' }, e.start + ' ' + MODE_NAMES[e.mode] + (e.rooms.length ? ' · ' + e.rooms.map(roomWords).join(', ') : ' · whole home'))),
			),
		),
	);
	// and each cleaning time to edit with buttons and pickers
	fill(
		'entries',
		...entries.map((e, i) =>
			h(
				'div',
				{ class: 'entry', 'data-entry': i },
				h('div', { class: 'days' }, ...DAYS.map((d) => h('label', {}, h('input', { type: 'checkbox', checked: e.days.includes(d), onchange: (ev) => toggle(e.days, d, (ev.target as HTMLInputElement).checked) }), DAY_NAMES[d]))),
				h('input', { type: 'time', value: e.start, class: 'start', onchange: (ev) => ((e.start = (ev.target as HTMLInputElement).value), renderWeek()) }),
				h('select', { class: 'mode', onchange: (ev) => ((e.mode = (ev.target as HTMLSelectElement).value as Mode), renderWeek()) }, ...Object.entries(MODE_NAMES).map(([k, v]) => h('option', { value: k, selected: e.mode === k }, v))),
				// the robot's rooms, and any the entry names that the robot no longer knows (to be unticked)
				h(
					'div',
					{ class: 'rooms' },
					...[...rooms, ...e.rooms.filter((r) => !rooms.includes(r))].map((r) =>
						h('label', {}, h('input', { type: 'checkbox', checked: e.rooms.includes(r), onchange: (ev) => toggle(e.rooms, r, (ev.target as HTMLInputElement).checked) }), roomWords(r)),
					),
				),
				h('label', {}, h('input', { type: 'checkbox', checked: e.enabled, onchange: (ev) => ((e.enabled = (ev.target as HTMLInputElement).checked), renderWeek()) }), 'On'),
				h('button', { onclick: () => ((entries = entries.filter((x) => x !== e)), renderWeek()) }, 'Remove'),
			),
		),
	);
}

function toggle(list: string[], v: string, on: boolean): void {
	const i = list.indexOf(v);
	if (on && i < 0) list.push(v);
	if (!on && i >= 0) list.splice(i, 1);
	renderWeek();
}

function addTime(): void {
	let n = entries.length + 1;
	while (entries.some((e) => e.id === 'time-' + n)) n++;
	entries.push({ id: 'time-' + n, days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:30', enabled: true, mode: 'vacuum', rooms: [] });
	renderWeek();
}

async function saveWeek(): Promise<void> {
	if (!selected) return;
	const schedule = {
		tz,
		entries: entries.map((e) => ({
			id: e.id,
			days: DAYS.filter((d) => e.days.includes(d)),
			start: e.start,
			enabled: e.enabled,
			mode: e.mode,
			...(e.rooms.length ? { rooms: e.rooms } : {}),
		})),
	};
	const r = await api('PUT', '/robots/' + encodeURIComponent(selected) + '/schedule', { schedule });
	if (r.status === 200) return say('week-status', 'Saved. The robot picks it up as soon as it is online.');
	if (r.body.error === 'InvalidSchedule') return say('week-status', 'Every cleaning time needs at least one day.', false);
	say('week-status', refusalWords(r.body.error), false);
}

// ---- missions -----------------------------------------------------------------------------

async function loadMissions(): Promise<void> {
	if (!selected || !token) return;
	const thing = selected;
	const r = await api('GET', '/robots/' + encodeURIComponent(thing) + '/missions');
	if (r.status !== 200 || thing !== selected) return;
	const missions = (r.body.missions ?? []) as Mission[];
	const box = document.getElementById('missions')!;
	const cards = new Map([...box.querySelectorAll<HTMLElement>('.mission')].map((c) => [c.dataset.mission!, c]));
	for (const m of missions) {
		const text = [
			h('b', { class: 'outcome' }, outcomeWords(m.outcome)),
			h('span', {}, m.startedAt ? new Date(m.startedAt).toLocaleString() : ''),
			h('span', { class: 'area' }, m.areaM2 !== null ? m.areaM2 + ' m² cleaned' : ''),
			h('span', { class: 'duration' }, durationWords(m.durationS)),
			h('span', {}, m.trigger === 'app' ? 'started from the app' : m.trigger === 'schedule' ? 'on schedule' : m.trigger === 'button' ? 'started on the robot' : ''),
		];
		let card = cards.get(m.missionId);
		if (!card) {
			card = h('div', { class: 'mission', 'data-mission': m.missionId }, h('div', { class: 'facts' }), h('canvas', { class: 'map', width: 1, height: 1 }));
			box.prepend(card);
		}
		card.querySelector('.facts')!.replaceChildren(...text);
		card.dataset.outcome = m.outcome ?? '';
		if (m.mapReady && !drawn.has(m.missionId)) {
			drawn.add(m.missionId);
			void drawMap(thing, m.missionId, card.querySelector('canvas')!);
		}
	}
}

async function drawMap(thing: string, missionId: string, canvas: HTMLCanvasElement): Promise<void> {
	const r = await api('GET', '/robots/' + encodeURIComponent(thing) + '/missions/' + encodeURIComponent(missionId) + '/map');
	if (r.status !== 200) return void drawn.delete(missionId);
	// the short-lived presigned URL, read at once
	const bytes = new Uint8Array(await (await fetch(r.body.url as string)).arrayBuffer());
	const img = mapImage(bytes);
	if (typeof img === 'string') return;
	// the cleaned floor (free cells: where the robot went) drawn in blue over the plan
	for (let i = 0; i < img.rgba.length; i += 4) {
		if (img.rgba[i] === 255) {
			img.rgba[i] = 120;
			img.rgba[i + 1] = 190;
			img.rgba[i + 2] = 255;
		}
	}
	canvas.width = img.width;
	canvas.height = img.height;
	canvas.getContext('2d')!.putImageData(new ImageData(img.rgba, img.width, img.height), 0, 0);
	canvas.dataset.drawn = 'true';
}

/** Clean-now's room buttons: the robot's own rooms, or a plain word while it has not told them. */
function renderRooms(): void {
	if (rooms.length === 0) return fill('clean-rooms', h('span', { class: 'hint' }, "The robot hasn't shared its rooms yet: it cleans the whole home."));
	fill('clean-rooms', ...rooms.map((r) => h('label', {}, h('input', { type: 'checkbox', value: r }), roomWords(r))));
}

// ---- start --------------------------------------------------------------------------------

async function main(): Promise<void> {
	config = (await (await fetch('config.json')).json()) as Config;
	document.getElementById('login')!.addEventListener('submit', (e) => void signIn(e));
	document.getElementById('claim')!.addEventListener('submit', (e) => void claim(e));
	fill('clean-mode', ...Object.entries(MODE_NAMES).map(([k, v]) => h('option', { value: k }, v)));
	const on = (id: string, f: () => void) => document.getElementById(id)!.addEventListener('click', f);
	on('clean', cleanNow);
	for (const a of ['pause', 'resume', 'stop', 'dock', 'locate']) on('do-' + a, () => void command(a));
	on('add-time', addTime);
	on('save-week', () => void saveWeek());
	on('unbind', () => void unbind());
	document.body.dataset.ready = 'true';
}

void main();
