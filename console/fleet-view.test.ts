/*
 * The console's operator view in a real browser (chromium, puppeteer-core) on the local
 * cloud: four robots (the firmware's composition with health reporting, each with its own
 * platform figures), one of them gone offline and unhealthy. The fleet table sorts and
 * filters (online, firmware, health outliers); the handlers' EMF counters are shown; and a
 * staged rollout with an abort is seen from the page: its rate, one robot notified, then the
 * job CANCELED with the abort's reason and the others never notified.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AddThingToThingGroupCommand, CreateJobCommand, CreateThingGroupCommand, IoTClient } from '@aws-sdk/client-iot';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { createRobot, type Robot } from '../firmware/core/robot/robot';
import type { HealthPort } from '../firmware/ports';
import { createMemoryStorage, hostPorts, memoryLog, readCredentials } from '../firmware/platform/host/index';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { thingGroupArn } from '../cloud/local/jobs/groups';
import { startConsole, type Console } from './server';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHOTS = process.env.SCREENSHOTS === 'docs' ? path.join(ROOT, 'docs') : path.join(ROOT, 'build', 'console-screenshots');

/** Each robot's platform figures and firmware. */
const FLEET: Record<string, { firmware: string; figures: ReturnType<HealthPort['read']>; reset: string }> = {
	'robot-1': { firmware: '1.0.0', figures: { freeHeap: 100_000, largestFreeBlock: 40_000, rssi: -55 }, reset: 'power-on' },
	'robot-2': { firmware: '1.0.0', figures: { freeHeap: 96_000, largestFreeBlock: 38_000, rssi: -61 }, reset: 'power-on' },
	'robot-3': { firmware: '1.1.0', figures: { freeHeap: 99_000, largestFreeBlock: 41_000, rssi: -58 }, reset: 'software' },
	'robot-4': { firmware: '1.1.0', figures: { freeHeap: 20_000, largestFreeBlock: 4_000, rssi: -88 }, reset: 'watchdog' },
};
const THINGS = Object.keys(FLEET);

describe('console operator view: fleet table, metrics, a staged rollout (chromium)', function () {
	this.timeout(90_000);
	let tmp: string;
	let cloud: LocalCloud;
	let konsole: Console;
	let browser: Browser;
	let page: Page;
	let iot: IoTClient;
	const robots: Robot[] = [];

	const rowsShown = () => page.$$eval('tr[data-fleet-row]', (trs) => trs.map((tr) => tr.getAttribute('data-fleet-row')));

	before(async function () {
		tmp = await mkdtemp(path.join(tmpdir(), 'fleet-view-'));
		cloud = await startLocalCloud({ dataDir: tmp, inMemory: true, things: THINGS });
		iot = new IoTClient({ region: LOCAL_REGION, endpoint: cloud.endpoints.iot, credentials: { ...LOCAL_CREDENTIALS } });
		for (const thing of THINGS) {
			const f = FLEET[thing]!;
			const r = createRobot(hostPorts(createMemoryStorage(), memoryLog()), {
				thing,
				endpoint: { host: '127.0.0.1', port: cloud.broker.port, tls: { ...readCredentials(cloud.pki.paths.thing(thing).dir), serverName: 'localhost' } },
				link: { backoff: { baseMs: 100, capMs: 500 } },
				health: { port: { resetReason: f.reset, read: () => f.figures }, firmware: f.firmware },
			});
			r.start();
			robots.push(r);
		}
		konsole = await startConsole({ cloud, robots: THINGS.map((thing) => ({ thing })) });
		browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless=new', '--no-sandbox', '--disable-gpu'] });
		page = await browser.newPage();
		await page.setViewport({ width: 1400, height: 1200 });
		const errors: string[] = [];
		page.on('pageerror', (e) => errors.push(String(e)));
		await page.goto(konsole.url);
		// every robot's health reached its status shadow and the page
		for (let i = 0; ; i++) {
			const heaps = await page.$$eval('tr[data-fleet-row] td:nth-child(5)', (tds) => tds.map((td) => td.textContent));
			if (heaps.length === THINGS.length && heaps.every((t) => t !== '—')) break;
			if (i > 300) throw new Error('health never reached the page: ' + JSON.stringify(heaps));
			await new Promise((r) => setTimeout(r, 100));
		}
		// robot-4 goes away
		robots[3]!.stop();
		await page.waitForSelector('tr[data-fleet-row="robot-4"][data-online="false"]', { timeout: 30_000 });
		assert.deepEqual(errors, []);
	});

	after(async () => {
		await browser?.close();
		for (const r of robots) r.stop();
		await konsole?.close();
		iot?.destroy();
		await cloud?.close();
		await rm(tmp, { recursive: true, force: true });
	});

	it('sorts by a column and filters by online, firmware and health outliers', async () => {
		assert.deepEqual(await rowsShown(), THINGS);
		assert.equal(await page.$eval('tr[data-fleet-row="robot-4"]', (tr) => tr.getAttribute('data-outlier')), 'true');
		assert.match(await page.$eval('tr[data-fleet-row="robot-4"] td:last-child', (td) => td.textContent ?? ''), /low heap.*weak Wi-Fi.*reboot: watchdog/);
		await page.click('th[data-sort="freeHeap"]');
		assert.deepEqual(await rowsShown(), ['robot-4', 'robot-2', 'robot-3', 'robot-1']);
		await page.click('th[data-sort="freeHeap"]');
		assert.deepEqual(await rowsShown(), ['robot-1', 'robot-3', 'robot-2', 'robot-4']);
		await page.select('select[data-filter="online"]', 'online');
		assert.deepEqual(await rowsShown(), ['robot-1', 'robot-3', 'robot-2']);
		await page.select('select[data-filter="firmware"]', '1.1.0');
		assert.deepEqual(await rowsShown(), ['robot-3']);
		await page.select('select[data-filter="online"]', 'all');
		await page.click('input[data-filter="outliers"]');
		assert.deepEqual(await rowsShown(), ['robot-4']);
		assert.match(await page.$eval('[data-fleet-count]', (el) => el.textContent ?? ''), /1 of 4 robots/);
		await mkdir(SHOTS, { recursive: true });
		await page.screenshot({ path: path.join(SHOTS, 'console-fleet.png') as `${string}.png`, fullPage: true });
		await page.click('input[data-filter="outliers"]');
		await page.select('select[data-filter="firmware"]', 'all');
		assert.equal((await rowsShown()).length, 4);
	});

	it("shows the handlers' EMF counters", async () => {
		// every connect and disconnect went through the presence rule and its handler's metric
		await page.waitForSelector('tr[data-metric="PresenceApplied"]', { timeout: 20_000 });
		assert.match(await page.$eval('tr[data-metric="PresenceApplied"]', (tr) => tr.textContent ?? ''), /PresenceApplied\{Service=presence\}\d+/);
	});

	it('a staged rollout seen from the operator view: its rate, one robot notified, aborted with the reason', async () => {
		await iot.send(new CreateThingGroupCommand({ thingGroupName: 'wave-1' }));
		for (const t of THINGS.slice(0, 3)) await iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'wave-1', thingName: t }));
		await iot.send(
			new CreateJobCommand({
				jobId: 'fw-1-2-0-wave-1',
				targets: [thingGroupArn('wave-1')],
				document: JSON.stringify({ operation: 'noop' }),
				jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
				abortConfig: { criteriaList: [{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 50, minNumberOfExecutedThings: 1 }] },
			}),
		);
		await page.waitForSelector('[data-rollout="fw-1-2-0-wave-1"]', { timeout: 20_000 });
		assert.match(await page.$eval('[data-rollout="fw-1-2-0-wave-1"]', (el) => el.textContent ?? ''), /rollout 1\/min: 1 notified/);
		// the one robot notified fails it (as its agent would report a failed self-test)
		const [first] = cloud.jobs.runner.executionsOfJob('fw-1-2-0-wave-1');
		assert.ok(first);
		const started = cloud.jobs.runner.update(first, { status: 'IN_PROGRESS' });
		assert.ok(started.ok);
		assert.ok(cloud.jobs.runner.update(started.execution, { status: 'FAILED' }).ok);
		await page.waitForSelector('[data-job="fw-1-2-0-wave-1"][data-status="CANCELED"]', { timeout: 20_000 });
		assert.match(await page.$eval('[data-comment="fw-1-2-0-wave-1"]', (el) => el.textContent ?? ''), /aborted: FAILED/);
		assert.equal(await page.$$eval('[data-job="fw-1-2-0-wave-1"] tr[data-execution]', (trs) => trs.length), 1, 'the others were never notified');
		await page.screenshot({ path: path.join(SHOTS, 'console-rollout.png') as `${string}.png`, fullPage: true });
	});
});
