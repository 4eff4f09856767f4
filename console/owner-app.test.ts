/*
 * The owner's app in a real browser (Debian's chromium through puppeteer-core) on the local cloud
 * with one simulated robot (the firmware's core on host ports with the simulator's cleaning
 * engine, commands and pairing): sign in through the local user pool, claim the robot with the
 * code it shows (a wrong code first: refused in words), clean now with two rooms, follow the
 * command to "Cleaning started.", see the mission's card with its outcome, area and duration and
 * its map drawn, a refusal in plain words, and a cleaning time added on the week and saved to the
 * robot's schedule shadow. All through the owner API: the page has the owner's token only.
 * Screenshots: build/console-screenshots (docs/ with SCREENSHOTS=docs).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetThingShadowCommand, IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { createRobot, type Robot } from '../firmware/core/robot/robot';
import { createHostDeviceKey, hostCrypto } from '../firmware/platform/host/crypto';
import { createHttpPort } from '../firmware/platform/host/http';
import { createMemoryStorage, hostClock, hostPorts, hostRandom, hostTimers, memoryLog, readCredentials } from '../firmware/platform/host/index';
import { scaledPorts } from '../firmware/sim/clock';
import { CleaningSimulator, simCommandActions } from '../firmware/sim/cleaning';
import { simulatedMap } from '../firmware/sim/map';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { startConsole, type Console } from './server';

const THING = 'robot-1';
/** This robot's map's rooms (not the simulated home's list): the app must offer these. */
const ROOMS = ['kitchen', 'hall', 'studio'];
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHOTS = process.env.SCREENSHOTS === 'docs' ? path.join(ROOT, 'docs') : path.join(ROOT, 'build', 'console-screenshots');

describe("owner's app in chromium: sign in, claim, clean now, follow it to the report and the map", function () {
	this.timeout(90_000);
	let tmp: string;
	let cloud: LocalCloud;
	let robot: Robot;
	let sim: CleaningSimulator;
	let konsole: Console;
	/** Requests the owner's view made to the console itself. */
	const ownerRequests: { url: string; token: boolean }[] = [];
	let browser: Browser;
	let page: Page;
	let data: IoTDataPlaneClient;
	const pageErrors: string[] = [];
	const text = (sel: string) => page.$eval(sel, (e) => (e as unknown as { textContent: string }).textContent ?? '');

	before(async () => {
		tmp = await mkdtemp(path.join(tmpdir(), 'owner-app-'));
		cloud = await startLocalCloud({ dataDir: tmp, things: [THING], inMemory: true });
		cloud.owners.auth.createOwner('alice@example.com', 'alice-password');
		data = new IoTDataPlaneClient({ region: LOCAL_REGION, endpoint: cloud.endpoints.iotData, credentials: { ...LOCAL_CREDENTIALS } });
		const credentials = readCredentials(cloud.pki.paths.thing(THING).dir);
		const log = memoryLog();
		const storage = createMemoryStorage();
		// 20 ms per simulated minute: the home is cleaned in about a second
		const missionPorts = scaledPorts({ clock: hostClock, timers: hostTimers, storage, log, random: hostRandom }, 20);
		robot = createRobot(
			hostPorts(storage, log),
			{
				thing: THING,
				endpoint: { host: '127.0.0.1', port: cloud.broker.port, tls: { ...credentials, serverName: 'localhost' } },
				link: { backoff: { baseMs: 100, capMs: 500 } },
				upload: {
					crypto: hostCrypto,
					deviceKey: createHostDeviceKey(credentials.key),
					http: createHttpPort(),
					map: (job) => simulatedMap({ seed: 11, areaM2: job.areaM2, width: 320, height: 200 }),
				},
				commands: { rooms: ROOMS },
				pairing: { crypto: hostCrypto },
			},
			missionPorts,
		);
		sim = new CleaningSimulator(robot.missions, { timers: missionPorts.timers, random: hostRandom, log });
		robot.commands!.bind(simCommandActions(sim, log));
		robot.start();
		konsole = await startConsole({ cloud, robots: [{ thing: THING }] });
		browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless=new', '--no-sandbox', '--disable-gpu'] });
		page = await browser.newPage();
		await page.setViewport({ width: 1200, height: 1100 });
		page.on('pageerror', (e) => pageErrors.push(String(e)));
		// one URL for both views: the operator's (with its session token), then its link to the owner's
		await page.goto(konsole.url);
		await page.waitForSelector('#to-owner');
		page.on('request', (r) => {
			if (new URL(konsole.url).origin === new URL(r.url()).origin) ownerRequests.push({ url: r.url(), token: 'x-console-token' in r.headers() });
		});
		await Promise.all([page.waitForNavigation(), page.click('#to-owner')]);
		assert.equal(page.url(), konsole.ownerUrl);
		await page.waitForSelector('body[data-ready="true"]');
		await mkdir(SHOTS, { recursive: true });
	});
	after(async () => {
		await browser?.close();
		sim?.stop();
		robot?.stop();
		await konsole?.close();
		data?.destroy();
		await cloud?.close();
		await rm(tmp, { recursive: true, force: true });
	});

	it('signs in (a wrong password is told), claims the robot with the code it shows (a wrong code is told)', async () => {
		await page.type('#email', 'alice@example.com');
		await page.type('#password', 'not-her-password');
		await page.click('#login button');
		await page.waitForFunction(() => (globalThis as any).document.getElementById('login-status').textContent.includes('Wrong email or password'));
		await page.$eval('#password', (e) => ((e as unknown as { value: string }).value = ''));
		await page.type('#password', 'alice-password');
		await page.click('#login button');
		await page.waitForSelector('body[data-signed-in="true"]');
		assert.match(await text('#robots'), /No robots yet/);

		for (let i = 0; robot.link.state.value !== 'connected'; i++) {
			assert.ok(i < 200, 'robot never connected');
			await new Promise((r) => setTimeout(r, 25));
		}
		const shown = robot.beginPairing();
		assert.ok(shown.ok);
		await page.type('#claim-thing', THING);
		await page.type('#claim-code', 'WRONG234');
		await page.click('#claim button');
		await page.waitForFunction(() => (globalThis as any).document.getElementById('claim-status').textContent.includes("doesn't match"));
		// the digest reaches the shadow once the robot's update is delivered
		for (let i = 0; ; i++) {
			const doc = await data.send(new GetThingShadowCommand({ thingName: THING, shadowName: 'pairing' })).catch(() => undefined);
			if (doc) break;
			assert.ok(i < 200, 'the pairing digest never reached the shadow');
			await new Promise((r) => setTimeout(r, 25));
		}
		await page.$eval('#claim-code', (e) => ((e as unknown as { value: string }).value = ''));
		await page.type('#claim-code', shown.value.code);
		await page.click('#claim button');
		await page.waitForSelector(`button.robot.chosen[data-thing="${THING}"]`);
		assert.match(await text('#claim-status'), /is yours now/);
	});

	it("offers the robot's own rooms (reported on its status shadow), not a list of the app's", async () => {
		await page.waitForSelector('#clean-rooms input');
		const offered = await page.$$eval('#clean-rooms input', (xs) => xs.map((x) => (x as unknown as { value: string }).value));
		assert.deepEqual(offered, ROOMS);
	});

	it('clean now with two rooms: the command followed to "Cleaning started.", then the mission card with its outcome, area, duration and map', async () => {
		for (const room of ['kitchen', 'hall']) await page.click(`#clean-rooms input[value="${room}"]`);
		await page.click('#clean');
		await page.waitForSelector('body[data-command-done]');
		assert.equal(await page.$eval('body', (b) => (b as unknown as { dataset: { commandDone: string } }).dataset.commandDone), 'SUCCEEDED');
		assert.equal(await text('#command-status'), 'Cleaning started.');
		await page.waitForSelector('.mission[data-outcome="finished"], .mission[data-outcome="failed"]', { timeout: 30_000 });
		const facts = await text('.mission .facts');
		assert.match(facts, /m² cleaned/);
		assert.match(facts, /min/);
		assert.match(facts, /started from the app/);
		await page.waitForSelector('.mission canvas[data-drawn="true"]', { timeout: 30_000 });
		const size = await page.$eval('.mission canvas', (c) => [(c as unknown as { width: number }).width, (c as unknown as { height: number }).height]);
		assert.deepEqual(size, [320, 200]);
		await page.screenshot({ path: path.join(SHOTS, 'owner-app-mission.png'), fullPage: true });
	});

	it('a refused command is told in plain words', async () => {
		await page.$eval('body', (b) => void delete (b as unknown as { dataset: Record<string, string> }).dataset.commandDone);
		await page.click('#do-resume');
		await page.waitForSelector('body[data-command-done]');
		assert.equal(await text('#command-status'), "The robot isn't paused.");
	});

	it("the week: a cleaning time added with day, time, mode and room pickers, saved to the robot's schedule", async () => {
		await page.click('#add-time');
		await page.click('.entry[data-entry="0"] .days label:nth-child(6) input'); // Sat
		await page.select('.entry[data-entry="0"] select.mode', 'mop');
		await page.click('.entry[data-entry="0"] .rooms label:nth-child(1) input'); // kitchen
		await page.click('#save-week');
		await page.waitForFunction(() => (globalThis as any).document.getElementById('week-status').textContent.includes('Saved'));
		assert.match(await text('#week'), /09:30 Mop · Kitchen/);
		const doc = JSON.parse(new TextDecoder().decode((await data.send(new GetThingShadowCommand({ thingName: THING, shadowName: 'schedule' }))).payload)) as {
			state: { desired?: { schedule: unknown } };
		};
		const desired = doc.state.desired?.schedule as { entries: { days: string[]; mode: string; rooms: string[]; start: string }[] } | undefined;
		// the robot may already have applied it (desired cleared): then its own schedule has it
		const entry = desired?.entries[0] ?? robot.schedule.value.entries[0];
		assert.deepEqual([entry?.days, entry?.start, entry?.mode, entry?.rooms], [['mon', 'tue', 'wed', 'thu', 'fri', 'sat'], '09:30', 'mop', ['kitchen']]);
		await page.screenshot({ path: path.join(SHOTS, 'owner-app-week.png'), fullPage: true });
		assert.deepEqual(pageErrors, []);
	});

	it("the owner's view used the owner API only: of the console it fetched its page, bundle and config, never /api/ nor with the session token; its link leads back to the operator's view, still live", async () => {
		const fromOwner = ownerRequests.slice(ownerRequests.findIndex((r) => new URL(r.url).pathname === '/owner/'));
		assert.ok(fromOwner.length >= 3, JSON.stringify(ownerRequests));
		for (const r of fromOwner) {
			assert.match(new URL(r.url).pathname, /^\/owner\/(app\.js|config\.json)?$/, r.url);
			assert.equal(r.token, false, r.url);
		}
		// the console's answers to the owner's view carry its security headers too
		const res = await fetch(konsole.ownerUrl);
		assert.equal(res.headers.get('x-frame-options'), 'DENY');
		assert.equal(res.headers.get('content-security-policy'), "frame-ancestors 'none'");
		await Promise.all([page.waitForNavigation(), page.click('#to-operator')]);
		await page.waitForFunction(() => /live/.test((globalThis as any).document.getElementById('live-status').textContent));
		assert.deepEqual(pageErrors, []);
	});
});
