/*
 * The console in a real browser: Debian's chromium, headless, driven by puppeteer-core, on
 * the local cloud with one simulated robot (the firmware's core on host ports, behind a TCP
 * proxy the console's controls cut), as `npm start` runs them. It proves what issue #15 asks:
 *   - a schedule edited on the page while the robot is offline waits in desired, and once
 *     the robot is back the page shows it applied and the reported schedule matches;
 *   - bad input from the page (not JSON, an invalid schedule, a document over the shadow's
 *     8 KB) gets the cloud's clear error on the page and changes nothing;
 *   - a finished mission shows its events, its stored report and its map, drawn on a canvas
 *     of the map's size;
 *   - a firmware job created on the page shows its execution and can be cancelled.
 * The screenshots in README (docs/console-*.png) are made here: with SCREENSHOTS=docs the
 * run replaces them; otherwise they go to build/console-screenshots, so a test run leaves the
 * checkout clean.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { createRobot, type Robot } from '../firmware/core/robot/robot';
import { canonicalJson, MAX_ENTRIES, MAX_ROOM_LENGTH, MAX_ROOMS, validateSchedule, type Schedule } from '../firmware/core/schedule/model';
import { createHostDeviceKey, hostCrypto } from '../firmware/platform/host/crypto';
import { createHttpPort } from '../firmware/platform/host/http';
import { createFileSlots, hostCodeSigning } from '../firmware/platform/host/firmware';
import { createFileStorage, createMemoryStorage, hostClock, hostPorts, hostRandom, hostTimers, memoryLog, readCredentials } from '../firmware/platform/host/index';
import { scaledPorts } from '../firmware/sim/clock';
import { CleaningSimulator, TYPICAL_HOME } from '../firmware/sim/cleaning';
import { simulatedMap } from '../firmware/sim/map';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { startProxy, type Proxy } from '../test/support/proxy';
import { createSigningIdentity } from '../cloud/ota/publish';
import { getShadow } from './shadow';
import { startConsole, type Console } from './server';

const THING = 'robot-1';
/** A robot that takes firmware jobs: the OTA agent over file slots, rebooted in-process into the new image. */
const UPDATABLE = 'robot-2';
/** The robot's map in this test: smaller than npm start's 1448 x 1448, the same format. */
const MAP = { width: 640, height: 400 };
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const DOCS = process.env.SCREENSHOTS === 'docs' ? path.join(ROOT, 'docs') : path.join(ROOT, 'build', 'console-screenshots');

/** The DOM shapes the browser-side callbacks use (the Node program has no DOM lib). */
interface Field {
	value: string;
}
interface Canvas {
	readonly width: number;
	readonly height: number;
	getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}

const EDIT: Schedule = {
	tz: 'CET-1CEST,M3.5.0,M10.5.0/3',
	entries: [
		{ id: 'weekday-morning', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:30', enabled: true, mode: 'vacuum', rooms: ['kitchen', 'hall'] },
		{ id: 'saturday-mop', days: ['sat'], start: '11:00', enabled: true, mode: 'mop' },
	],
};

describe('console in a real browser (chromium, puppeteer-core)', function () {
	this.timeout(60_000);
	let tmp: string;
	let cloud: LocalCloud;
	let proxy: Proxy;
	let robot: Robot;
	let sim: CleaningSimulator;
	let konsole: Console;
	let browser: Browser;
	let page: Page;
	let data: IoTDataPlaneClient;
	let updatable: Robot | undefined;
	let stopped = false;

	const screenshot = async (name: string) => {
		await mkdir(DOCS, { recursive: true });
		await page.screenshot({ path: path.join(DOCS, 'console-' + name + '.png') as `${string}.png`, fullPage: true });
	};
	const text = (selector: string) => page.$eval(selector, (el) => el.textContent ?? '');
	const setEditor = (value: string) =>
		page.$eval(
			'#schedule-editor',
			(el, v) => {
				(el as unknown as Field).value = v;
			},
			value,
		);
	const scheduleShadow = async () => {
		const doc = await getShadow(data, THING);
		assert.ok(doc, 'the schedule shadow exists');
		return doc;
	};

	before(async function () {
		this.timeout(60_000);
		tmp = await mkdtemp(path.join(tmpdir(), 'console-test-'));
		cloud = await startLocalCloud({ dataDir: tmp, inMemory: true, things: [THING, UPDATABLE] });
		data = new IoTDataPlaneClient({ region: LOCAL_REGION, endpoint: cloud.endpoints.iotData, credentials: { ...LOCAL_CREDENTIALS } });
		proxy = await startProxy({ host: '127.0.0.1', port: cloud.broker.port });
		const credentials = readCredentials(cloud.pki.paths.thing(THING).dir);
		const log = memoryLog();
		const storage = createMemoryStorage();
		const missionPorts = scaledPorts({ clock: hostClock, timers: hostTimers, storage, log, random: hostRandom }, 40);
		robot = createRobot(
			hostPorts(storage, log),
			{
				thing: THING,
				endpoint: { host: '127.0.0.1', port: proxy.port, tls: { ...credentials, serverName: 'localhost' } },
				link: { backoff: { baseMs: 100, capMs: 500 } },
				upload: {
					crypto: hostCrypto,
					deviceKey: createHostDeviceKey(credentials.key),
					http: createHttpPort(),
					map: (job) => simulatedMap({ seed: 11, areaM2: job.areaM2, ...MAP }),
				},
			},
			missionPorts,
		);
		// the mission test waits for a finished mission: no stuck wheel (at the typical home's rate some
		// missions end failed, seen once in CI; the missions' own tests cover that)
		sim = new CleaningSimulator(robot.missions, { timers: missionPorts.timers, random: hostRandom, log }, { ...TYPICAL_HOME, stuckRate: 0 });
		const signing = await createSigningIdentity();
		const boot = () => {
			if (stopped) return;
			const dir = path.join(tmp, UPDATABLE);
			const r = createRobot(hostPorts(createFileStorage(path.join(dir, 'storage')), log), {
				thing: UPDATABLE,
				endpoint: { host: '127.0.0.1', port: cloud.broker.port, tls: { ...readCredentials(cloud.pki.paths.thing(UPDATABLE).dir), serverName: 'localhost' } },
				link: { backoff: { baseMs: 50, capMs: 300 } },
				ota: {
					// the new image runs after a reboot: this robot stops and boots again from its storage and slots
					slot: createFileSlots(path.join(dir, 'slots'), { factoryVersion: '1.0.0', onReboot: () => setTimeout(() => (r.stop(), boot()), 0) }),
					signing: hostCodeSigning,
					http: createHttpPort(),
					certificate: signing.certificateDer,
					sources: [cloud.endpoints.s3 + '/firmware/'],
					selfTest: { deadlineMs: 10_000, pollMs: 50 },
				},
			});
			updatable = r;
			r.start();
		};
		konsole = await startConsole({
			cloud,
			robots: [{ thing: THING, offline: () => proxy.cut(), online: () => proxy.restore(), mission: () => sim.run('app') }, { thing: UPDATABLE }],
			firmware: { signingKeyPem: signing.keyPem, image: (version) => new TextEncoder().encode(('robot firmware ' + version + '\n').repeat(4000)) },
		});
		robot.start();
		boot();
		browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless=new', '--no-sandbox', '--disable-gpu'] });
		page = await browser.newPage();
		await page.setViewport({ width: 1400, height: 1000 });
		const pageErrors: string[] = [];
		page.on('pageerror', (e) => pageErrors.push(String(e)));
		await page.goto(konsole.url);
		await page.waitForSelector(`tr[data-thing="${THING}"][data-connected="true"]`);
		await page.waitForSelector('#schedule-status[data-state="in-sync"]');
		assert.deepEqual(pageErrors, []);
	});

	after(async () => {
		await browser?.close();
		stopped = true;
		updatable?.stop();
		sim?.stop();
		robot?.stop();
		await konsole?.close();
		data?.destroy();
		await proxy?.close();
		await cloud?.close();
		await rm(tmp, { recursive: true, force: true });
	});

	it('edits the schedule while the robot is offline; back online, the page shows it applied and the reported schedule matches', async () => {
		await page.click(`button[data-control="offline"][data-thing="${THING}"]`);
		await page.waitForSelector(`tr[data-thing="${THING}"][data-connected="false"]`);
		assert.notEqual(robot.link.state.value, 'connected');

		await setEditor(JSON.stringify(EDIT, null, 2));
		await page.click('#save-schedule');
		await page.waitForSelector('#schedule-status[data-state="waiting"]');
		assert.match(await text('#schedule-status'), /offline: it applies the edit when it is back/);
		const waiting = await scheduleShadow();
		const desired = validateSchedule(waiting.state?.desired?.schedule);
		assert.ok(desired.ok, 'desired holds a valid schedule');
		assert.equal(canonicalJson(desired.value), canonicalJson(EDIT), 'desired holds the edit');
		assert.equal(await text('#schedule-error'), '');
		await screenshot('offline-edit');

		await page.click(`button[data-control="online"][data-thing="${THING}"]`);
		await page.waitForSelector('#schedule-status[data-state="applied"]', { timeout: 30_000 });
		const shown = JSON.parse(await text('[data-testid="schedule-reported"]')) as { schedule: unknown };
		const reported = validateSchedule(shown.schedule);
		assert.ok(reported.ok, 'the page shows a valid reported schedule');
		assert.equal(canonicalJson(reported.value), canonicalJson(EDIT), 'the reported schedule on the page is the edit');
		// the robot clears its key: desired stays, empty, as AWS keeps an emptied section
		assert.equal(await text('[data-testid="schedule-desired"]'), '{}', 'desired cleared');
		const doc = await scheduleShadow();
		assert.deepEqual(doc.state?.desired, {});
		assert.equal(canonicalJson(robot.schedule.value), canonicalJson(EDIT), 'the robot runs it');
		await page.waitForSelector(`tr[data-thing="${THING}"][data-connected="true"]`);
		await screenshot('applied');
	});

	it('shows the cloud’s clear error for bad input from the page and changes nothing', async () => {
		const before = await scheduleShadow();
		const cases: { input: string; error: RegExp }[] = [
			{ input: '{ "tz": "UTC0", "entries": [', error: /InvalidSchedule \(HTTP 400\): the schedule is not JSON/ },
			{ input: JSON.stringify({ ...EDIT, entries: [{ ...EDIT.entries[0]!, start: '25:00' }] }), error: /InvalidSchedule \(HTTP 400\): not a valid schedule: entries\[0\]\.start/ },
		];
		// valid in every field, but over the shadow's 8 KB state document: the data plane's own 413
		const rooms = Array.from({ length: MAX_ROOMS }, (_, i) => ('room-' + i + '-').padEnd(MAX_ROOM_LENGTH, 'x'));
		const big: Schedule = { tz: 'UTC0', entries: Array.from({ length: MAX_ENTRIES }, (_, i) => ({ id: 'entry-' + i, days: ['mon'], start: '08:00', enabled: true, rooms })) };
		assert.ok(validateSchedule(big).ok);
		cases.push({ input: JSON.stringify(big), error: /RequestEntityTooLargeException \(HTTP 413\): The payload exceeds the maximum size allowed/ });
		for (const c of cases) {
			await setEditor(c.input);
			await page.click('#save-schedule');
			await page.waitForSelector('#schedule-error:not(:empty)');
			assert.match(await text('#schedule-error'), c.error);
			const after = await scheduleShadow();
			assert.equal(after.version, before.version, 'no write: ' + c.input.slice(0, 40));
			assert.deepEqual(after.state, before.state);
			assert.equal(await page.$eval('#schedule-status', (el) => el.getAttribute('data-state')), 'applied', 'the page still shows the applied edit');
			if (c === cases[cases.length - 1]) await screenshot('bad-input');
			await page.$eval('#schedule-error', (el) => (el.textContent = ''));
		}
		assert.equal(canonicalJson(robot.schedule.value), canonicalJson(EDIT), 'the robot keeps its schedule');
		await page.click('#load-schedule');
		const loaded = validateSchedule(JSON.parse(await page.$eval('#schedule-editor', (el) => (el as unknown as Field).value)));
		assert.ok(loaded.ok);
		assert.equal(canonicalJson(loaded.value), canonicalJson(EDIT), '"Load" puts what the robot runs in the editor');
	});

	it('shows a mission live, its stored report, and its map decrypted in the cloud as an image of the map’s size', async () => {
		await page.click(`button[data-control="mission"][data-thing="${THING}"]`);
		await page.waitForSelector('#timeline li[data-event="started"]');
		await page.waitForSelector('#missions tr[data-outcome="finished"]', { timeout: 30_000 });
		const mission = await page.$eval('#missions tr[data-outcome="finished"]', (el) => el.getAttribute('data-mission'));
		assert.ok(mission);
		await page.waitForSelector(`#map-canvas[data-mission="${mission}"]`, { timeout: 30_000 });
		const canvas = await page.$eval('#map-canvas', (el) => {
			const c = el as unknown as Canvas;
			const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
			const greys = new Set<number>();
			for (let i = 0; i < px.length; i += 4) greys.add(px[i]!);
			return { width: c.width, height: c.height, greys: [...greys].sort((a, b) => a - b) };
		});
		assert.deepEqual({ width: canvas.width, height: canvas.height }, MAP, 'one pixel per cell');
		assert.deepEqual(canvas.greys, [0, 160, 255], 'occupied, unknown and free cells');
		assert.match(await text('#map-caption'), new RegExp(`${MAP.width} x ${MAP.height} cells`));
		const events = await page.$$eval('#timeline li', (els) => els.map((el) => el.getAttribute('data-event')));
		assert.ok(events.includes('started') && events.includes('docked'), 'the timeline: ' + events.join(' '));
		assert.match(await text('#progress'), /done: finished/);
		const report = await text(`#report pre[data-report="${mission}"]`);
		assert.match(report, /"outcome": "finished"/, 'the stored report, whole');
		assert.match(report, /"mapReady": true/);
		await screenshot('mission-map');
	});

	it('answers only its own origin with its session token, takes writes only as JSON from its own page, and sends no credential to the page', async () => {
		const origin = new URL(konsole.url);
		const own = 'http://' + origin.host;
		const raw = (pathname: string, init: { method?: string; host?: string; type?: string; body?: string; token?: string; origin?: string } = {}) =>
			new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
				const headers = {
					host: init.host ?? origin.host,
					...(init.type ? { 'content-type': init.type } : {}),
					...(init.token ? { 'x-console-token': init.token } : {}),
					...(init.origin ? { origin: init.origin } : {}),
				};
				const req = http.request({ host: origin.hostname, port: origin.port, path: pathname, method: init.method ?? 'GET', headers }, (res) => {
					let body = '';
					res.setEncoding('utf8');
					res.on('data', (c: string) => (body += c));
					res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
				});
				req.on('error', reject);
				req.end(init.body);
			});
		const token = konsole.token;
		assert.equal(origin.hash, '#token=' + token, 'the URL npm start prints carries the token, in the fragment');
		assert.equal((await raw('/', { host: 'evil.example:' + origin.port })).status, 421, 'a rebound DNS name is refused');
		// the review: any page could frame it, and any local process or page could create firmware jobs
		for (const p of ['/', '/app.js', '/owner/', '/owner/app.js', '/owner/config.json', '/api/robots/' + THING + '/missions', '/nowhere']) {
			const r = await raw(p, { token });
			assert.equal(r.headers['content-security-policy'], "frame-ancestors 'none'", p);
			assert.equal(r.headers['x-frame-options'], 'DENY', p);
			assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
		}
		const job = JSON.stringify({ version: '9.9.9', things: 'all' });
		assert.equal((await raw('/api/jobs', { method: 'POST', type: 'application/json', body: job, origin: own })).status, 401, 'a write without the token');
		assert.equal((await raw('/api/jobs', { method: 'POST', type: 'application/json', body: job, origin: own, token: 'x'.repeat(token.length) })).status, 401, 'a wrong token');
		assert.equal((await raw('/api/jobs', { method: 'POST', type: 'application/json', body: job, origin: 'http://evil.example', token })).status, 403, 'another origin, even with the token');
		assert.equal((await raw('/api/jobs', { method: 'POST', type: 'application/json', body: job, token })).status, 403, 'no Origin');
		assert.equal((await raw('/api/live')).status, 401, 'the event stream without the token');
		assert.equal((await raw('/api/robots/' + THING + '/missions')).status, 401, 'a read without the token');
		const form = await raw(`/api/robots/${THING}/control/offline`, { method: 'POST', type: 'text/plain', body: '{}', origin: own, token });
		assert.equal(form.status, 415, 'a form post is refused: ' + form.body);
		assert.equal(robot.link.state.value, 'connected', 'and did nothing');
		assert.equal((await raw('/api/robots/robot-9/control/offline', { method: 'POST', type: 'application/json', body: '{}', origin: own, token })).status, 404);
		const bad = await raw('/api/robots/%E0%A4%A/missions', { token });
		assert.equal(bad.status, 400, 'a malformed percent escape: ' + bad.body);
		assert.match(bad.body, /malformed percent escape/);
		// the owner's view (the console's second view): served without the session token, under the same Host check;
		// its configuration is public (owner API, sign-in, app client id) and holds neither the token nor a credential
		assert.equal((await raw('/owner/', { host: 'evil.example:' + origin.port })).status, 421, "the owner's view: a rebound DNS name is refused");
		const moved = await raw('/owner');
		assert.deepEqual([moved.status, moved.headers.location], [308, '/owner/']);
		const ownerConfig = await raw('/owner/config.json');
		assert.equal(ownerConfig.status, 200);
		assert.deepEqual(Object.keys(JSON.parse(ownerConfig.body) as object).sort(), ['api', 'auth', 'clientId']);
		const secret = LOCAL_CREDENTIALS.secretAccessKey;
		for (const p of ['/', '/app.js', '/owner/', '/owner/app.js', '/owner/config.json']) {
			const r = await raw(p);
			assert.equal(r.status, 200, p);
			assert.ok(!r.body.includes(secret) && !r.body.includes(token), p);
		}
		// the two views link to each other
		assert.equal(await page.$eval('#to-owner', (a) => (a as unknown as { getAttribute(n: string): string }).getAttribute('href')), '/owner/');
		const live = await page.evaluate(async (t: string) => {
			const c = new AbortController();
			const res = await fetch('/api/live?token=' + encodeURIComponent(t), { signal: c.signal });
			const reader = res.body!.getReader();
			const { value } = await reader.read();
			c.abort();
			return new TextDecoder().decode(value);
		}, token);
		assert.match(live, /event: robot/);
		assert.ok(!live.includes(secret) && !live.includes(LOCAL_CREDENTIALS.accessKeyId), 'no credential in the live stream');
	});

	it('creates a firmware job for a robot, shows its execution and cancels it; a bad version is refused on the page', async () => {
		await page.$eval('#job-version', (el) => ((el as unknown as Field).value = '1.x'));
		await page.click('#create-job');
		await page.waitForSelector('#job-error:not(:empty)');
		assert.match(await text('#job-error'), /InvalidRequest \(HTTP 400\): "version" expected MAJOR.MINOR.PATCH/);

		await page.$eval('#job-version', (el) => ((el as unknown as Field).value = '1.2.0'));
		await page.select('#job-target', THING);
		await page.click('#create-job');
		await page.waitForSelector(`[data-job] [data-execution="${THING}"][data-status="QUEUED"]`);
		assert.equal(await text('#job-error'), '');
		const jobId = await page.$eval(`[data-job] [data-execution="${THING}"]`, (el) => el.closest('[data-job]')!.getAttribute('data-job'));
		await page.click(`button[data-cancel="${jobId}"]`);
		await page.waitForSelector(`[data-job="${jobId}"][data-status="CANCELED"] [data-execution="${THING}"][data-status="CANCELED"]`);
	});

	it('updates a robot through a job made on the page: the execution ends SUCCEEDED and the robot shows the new firmware', async () => {
		await page.waitForSelector(`tr[data-thing="${UPDATABLE}"] td[data-firmware="1.0.0"]`);
		await page.$eval('#job-version', (el) => ((el as unknown as Field).value = '1.1.0'));
		await page.select('#job-target', UPDATABLE);
		await page.click('#create-job');
		await page.waitForSelector(`[data-job] [data-execution="${UPDATABLE}"][data-status="SUCCEEDED"]`, { timeout: 30_000 });
		assert.equal(await text('#job-error'), '');
		await page.waitForSelector(`tr[data-thing="${UPDATABLE}"] td[data-firmware="1.1.0"]`);
		await page.click(`tr[data-thing="${UPDATABLE}"]`);
		await page.waitForFunction(`/"version": ?"1\\.1\\.0"/.test(document.querySelector('[data-testid="status-reported"]')?.textContent ?? '')`);
		await screenshot('ota');
	});
});
