/*
 * `npm start`: the local cloud and simulated robots (the firmware's core on the
 * host platform, each robot behind its own link the story can cut), told as a
 * timeline:
 *   boot and connect over mutual TLS, sync the schedule shadow;
 *   go offline, while the owner changes the schedule in the app;
 *   come back, apply the edit, report it;
 *   clean (a one-hour mission on a fast clock) with progress, report it once;
 *   encrypt the mission's map on the robot and upload it; the cloud decrypts it, mapReady;
 *   lose the broker mid-mission, keep cleaning, deliver the report when it is back.
 *
 *   npm start -- [--robots N] [--keep] [--verbose] [--data DIR] [--ms-per-min MS] [--no-console]
 *
 * The console (console/server.ts) shows it all live in a browser; its URL is printed at the start.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createRobot, type Robot } from '../firmware/core/robot/robot';
import { createFileStorage, hostClock, hostPorts, hostRandom, hostTimers, readCredentials } from '../firmware/platform/host/index';
import { CleaningSimulator } from '../firmware/sim/cleaning';
import { simulatedMap } from '../firmware/sim/map';
import { createHostDeviceKey, hostCrypto } from '../firmware/platform/host/crypto';
import { createHttpPort } from '../firmware/platform/host/http';
import type { LogPort } from '../firmware/ports';
import { scaledPorts } from '../firmware/sim/clock';
import type { Schedule } from '../firmware/core/schedule/model';
import { nextRun } from '../firmware/core/schedule/next';
import { startLocalCloud } from '../cloud/local/index';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { createDocumentClient } from '../cloud/lib/aws';
import { TABLES } from '../cloud/tables';
import { ianaToPosix } from './tz/iana-to-posix';
import { startProxy, type Proxy } from '../test/support/proxy';
import { startConsole } from '../console/server';

const { values } = parseArgs({
	options: {
		robots: { type: 'string', default: '1' },
		keep: { type: 'boolean', default: false },
		data: { type: 'string', default: '.data' },
		verbose: { type: 'boolean', default: false },
		'ms-per-min': { type: 'string', default: '40' },
		'no-console': { type: 'boolean', default: false },
	},
});
function int(name: string, v: string, min: number, max: number): number {
	const n = Number(v);
	if (!Number.isInteger(n) || n < min || n > max) {
		console.error(`--${name} expected ${min}..${max}, got ${v}`);
		process.exit(2);
	}
	return n;
}
const count = int('robots', values.robots!, 1, 1000);
const msPerMin = int('ms-per-min', values['ms-per-min']!, 1, 60_000);

const t0 = performance.now();
const tty = process.stdout.isTTY;
const color = tty ? (c: number, s: string) => `\x1b[${c}m${s}\x1b[0m` : (_c: number, s: string) => s;
function say(who: string, what: string, detail = ''): void {
	const t = ((performance.now() - t0) / 1000).toFixed(2).padStart(6);
	console.log(`${color(90, t + 's')}  ${who.padEnd(9)} ${what}${detail ? '  ' + color(90, detail) : ''}`);
}
function bar(fraction: number, width = 24): string {
	const n = Math.round(Math.max(0, Math.min(1, fraction)) * width);
	return '[' + '#'.repeat(n) + '.'.repeat(width - n) + ']';
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const things = Array.from({ length: count }, (_, i) => 'robot-' + (i + 1));
const cloud = await startLocalCloud({
	dataDir: path.join(values.data!, 'local-cloud'),
	things,
	log: (e) => {
		if (values.verbose || e.level === 'error') say('cloud', e.event, JSON.stringify(e));
	},
});
say('cloud', 'local cloud up', `${cloud.endpoints.mqtt}  shadows ${cloud.endpoints.iotData}  CA ${cloud.endpoints.caPath}`);
const aws = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
const app = new IoTDataPlaneClient({ ...aws, endpoint: cloud.endpoints.iotData });
const ddb = createDocumentClient({ ...aws, endpoint: cloud.endpoints.dynamodb });

// missions run on a clock `60000 / msPerMin` times faster than the link's
const scale = 60_000 / msPerMin;

interface Sim {
	thing: string;
	robot: Robot;
	sim: CleaningSimulator;
	proxy: Proxy;
}

async function makeRobot(thing: string): Promise<Sim> {
	const dir = path.join(values.data!, 'robots', thing);
	fs.mkdirSync(dir, { recursive: true });
	const quiet = count > 3 && thing !== 'robot-1';
	const log: LogPort = {
		log(level, event, fields) {
			if (values.verbose || level === 'error') say(thing, event, JSON.stringify(fields ?? {}));
		},
	};
	const storage = createFileStorage(path.join(dir, 'storage'));
	const proxy = await startProxy({ host: '127.0.0.1', port: cloud.broker.port });
	const credentials = readCredentials(cloud.pki.paths.thing(thing).dir);
	// the home's floor plan is the robot's own: seeded by its name
	const seed = [...thing].reduce((h, ch) => (Math.imul(h, 31) + ch.charCodeAt(0)) | 0, 7);
	const missionPorts = scaledPorts({ clock: hostClock, timers: hostTimers, storage, log, random: hostRandom }, msPerMin);
	const robot = createRobot(
		hostPorts(storage, log),
		{
			thing,
			endpoint: { host: '127.0.0.1', port: proxy.port, tls: { ...credentials, serverName: 'localhost' } },
			link: { backoff: { baseMs: 250, capMs: 4000 } },
			// a 2 MB occupancy grid (1448 x 1448 cells) per mission, made as it is read
			upload: { crypto: hostCrypto, deviceKey: createHostDeviceKey(credentials.key), http: createHttpPort(), map: (job) => simulatedMap({ seed, areaM2: job.areaM2 }) },
		},
		missionPorts,
	);
	const sim = new CleaningSimulator(robot.missions, { timers: missionPorts.timers, random: hostRandom, log });
	robot.onDue((d) => sim.run('schedule', d.entryId));
	if (!quiet) {
		robot.link.listen({
			state: (s) => say(thing, 'link ' + s.value, s.value === 'connected' ? `session present: ${s.sessionPresent ? 'yes' : 'no'}` : s.value === 'waiting' ? `attempt ${s.attempt}: ${s.reason}` : ''),
			delivered: (seq, topic) => topic.includes('/report') && say(thing, 'report acknowledged by the broker (PUBACK)', `outbox #${seq}`),
		});
		let lastState = '';
		robot.schedule.listen((s) => {
			if (s.value === lastState) return;
			lastState = s.value;
			if (s.value === 'synced') say(thing, 'schedule in sync with its shadow', `${s.owned.value.entries.length} entries, tz ${s.owned.value.tz}`);
		});
		let lastBar = -1;
		robot.missions.listen((s, effects) => {
			for (const fx of effects) {
				if (fx.type !== 'event') continue;
				if (fx.name === 'started') say(thing, `mission ${fx.mission} started`, `trigger ${fx.data.trigger}, battery ${fx.data.battery}%`);
				if (fx.name === 'progress' && s.value === 'running') {
					const f = Number(fx.data.areaM2) / 65;
					const step = Math.floor(f * 4);
					if (step !== lastBar) {
						lastBar = step;
						say(thing, `cleaning ${bar(f)} ${fx.data.areaM2} m²`, `battery ${fx.data.battery}%`);
					}
				}
				if (fx.name === 'error') say(thing, `mission error ${fx.data.code}`, fx.data.fatal ? 'fatal: heading home' : 'cleared, cleaning on');
				if (fx.name === 'docked') {
					lastBar = -1;
					say(thing, `mission ${fx.mission} ${fx.data.outcome}, docked`, `${fx.data.areaM2} m² in ${Math.round(Number(fx.data.durationS) / 60)} min`);
				}
			}
		});
		let quarter = 0;
		robot.maps?.listen({
			started(m, bytes) {
				quarter = 0;
				say(thing, `map of ${m}: encrypting on the robot (Encryption SDK, AES-256-GCM) into a presigned S3 PUT`, `${bytes.toLocaleString('en-US')} bytes, 1448 x 1448 occupancy grid`);
			},
			progress(_m, sent, total) {
				const q = Math.floor((sent / total) * 4);
				if (q <= quarter) return;
				quarter = q;
				say(thing, `map upload ${bar(sent / total)} ${q * 25}%`, `${sent.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} bytes`);
			},
			uploaded: (m, bytes, ms) => say(thing, `map of ${m} uploaded`, `${bytes.toLocaleString('en-US')} bytes in ${Math.round(ms)} ms`),
			failed: (m, e, retry) => say(thing, `map of ${m} ${retry ? 'waits for the network' : 'given up'}`, e.code),
		});
	}
	return { thing, robot, sim, proxy };
}

const sims = await Promise.all(things.map(makeRobot));
const konsole = values['no-console']
	? undefined
	: await startConsole({
			cloud,
			robots: sims.map((s) => ({ thing: s.thing, offline: () => s.proxy.cut(), online: () => s.proxy.restore(), mission: () => s.sim.run('app') })),
			log: (level, event, fields) => {
				if (values.verbose || level === 'error') say('console', event, JSON.stringify(fields ?? {}));
			},
		});
if (konsole) say('console', `open ${konsole.url}`, 'the system live, with the app\'s and the operator\'s actions; --keep keeps it up');
let stopping = false;
async function shutdown(code: number): Promise<never> {
	stopping = true;
	for (const s of sims) {
		s.sim.stop();
		s.robot.stop();
		await s.proxy.close();
	}
	app.destroy();
	await konsole?.close();
	await cloud.close();
	say('story', code === 0 ? 'stopped cleanly' : 'stopped with errors');
	process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
	const t = Date.now();
	while (!(await cond())) {
		if (stopping) return;
		if (Date.now() - t > ms) throw new Error('timed out: ' + what);
		await sleep(25);
	}
}
async function shadow(thing: string) {
	const r = await app.send(new GetThingShadowCommand({ thingName: thing, shadowName: 'schedule' }));
	return JSON.parse(new TextDecoder().decode(r.payload)) as { state: { desired?: { schedule?: unknown }; reported?: { schedule?: unknown } }; version: number };
}

/** The mission row once map-ingest has set mapReady. */
async function mapReady(thing: string, missionId: string): Promise<Record<string, unknown>> {
	let item: Record<string, unknown> | undefined;
	await until('map of ' + missionId + ' ready', async () => {
		const r = await ddb.send(new QueryCommand({ TableName: TABLES.missions.name, KeyConditionExpression: 'thing = :t AND missionId = :m', ExpressionAttributeValues: { ':t': thing, ':m': missionId }, ConsistentRead: true }));
		item = r.Items?.[0];
		return item?.mapReady === true;
	});
	return item!;
}

try {
	const first = sims[0]!;
	const thing = first.thing;
	say('story', `${count} robot${count > 1 ? 's' : ''} boot and connect over mutual TLS 1.2`);
	for (const s of sims) s.robot.start();
	await until('all in sync', () => sims.every((s) => s.robot.schedule.state.value === 'synced'));

	say('story', `${thing} loses its Wi-Fi; the owner edits the schedule in the app meanwhile`);
	first.proxy.cut();
	await until('offline', () => first.robot.link.state.value !== 'connected');
	const zone = 'Europe/Berlin';
	const schedule: Schedule = { tz: ianaToPosix(zone), entries: [{ id: 'weekday-morning', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:30', enabled: true, mode: 'vacuum', rooms: ['kitchen', 'hall'] }] };
	await app.send(new UpdateThingShadowCommand({ thingName: thing, shadowName: 'schedule', payload: new TextEncoder().encode(JSON.stringify({ state: { desired: { schedule } } })) }));
	const waiting = await shadow(thing);
	say('app', `schedule written to desired (shadow v${waiting.version})`, `${zone} = ${schedule.tz}; weekdays 09:30, kitchen + hall`);
	say('story', `the edit waits in the shadow; ${thing} keeps its old schedule and would clean on time offline`);
	await sleep(800);

	say('story', `${thing} is back`);
	first.proxy.restore();
	await until('edit applied and reported', async () => {
		const s = await shadow(thing);
		return s.state.desired === undefined && first.robot.schedule.state.value === 'synced' && first.robot.schedule.value.entries.length === 1;
	});
	const next = nextRun(first.robot.schedule.value, Date.now());
	say(thing, 'applied the edit, reported it, cleared desired', next ? `next mission ${new Date(next.utcMs).toISOString()} (${next.entryId})` : '');

	say('story', `the owner presses "clean now" (a one-hour mission on a ${Math.round(scale)}x clock); its map follows the report`);
	const id = first.sim.run('app');
	await until('mission done', () => first.robot.missions.state.value === 'idle' && first.robot.link.outbox.size === 0, 60_000);
	await cloud.rules.idle();
	const row = await ddb.send(new QueryCommand({ TableName: TABLES.missions.name, KeyConditionExpression: 'thing = :t AND missionId = :m', ExpressionAttributeValues: { ':t': thing, ':m': id } }));
	const item = row.Items?.[0];
	say('cloud', `mission report stored once in DynamoDB (${TABLES.missions.name})`, item ? `${item.missionId}: ${item.outcome}, ${item.areaM2} m², ${item.durationS} s, battery ${item.battery.start}→${item.battery.end}%` : 'MISSING');
	if (!item) throw new Error('the mission report did not reach the table');
	const mapped = await mapReady(thing, id!);
	say('cloud', 'map decrypted by map-ingest (stock Encryption SDK, KMS key), mapReady', `${mapped.missionId}: ${Number(mapped.mapBytes).toLocaleString('en-US')} bytes at s3://maps/${mapped.mapKey}`);

	say('story', 'mid-mission the broker goes down; the robot keeps cleaning and keeps its report on storage');
	const id2 = first.sim.run('button');
	await sleep(300);
	await cloud.stopBroker();
	await until('mission done offline', () => first.robot.missions.state.value === 'idle', 60_000);
	say(thing, `report of ${id2} waits in the durable outbox`, `${first.robot.link.outbox.size} message(s), ${first.robot.link.outbox.bytes} bytes`);
	await cloud.startBroker();
	say('story', 'the broker is back');
	await until('delivered', () => first.robot.link.outbox.size === 0, 30_000);
	await cloud.rules.idle();
	// its map waited on storage too, and goes once the robot is back
	await mapReady(thing, id2!);
	await until('no map owed', () => first.robot.maps?.pending().length === 0 && first.robot.maps.uploading === undefined, 30_000);
	const all = await ddb.send(new QueryCommand({ TableName: TABLES.missions.name, KeyConditionExpression: 'thing = :t', ExpressionAttributeValues: { ':t': thing } }));
	say('cloud', `${thing} has ${all.Items?.length ?? 0} mission reports in the table, one per mission`, (all.Items ?? []).map((i) => i.missionId + (i.mapReady ? ' (map)' : '')).join(' '));

	if (!values.keep) await shutdown(0);
	say('story', 'running; Ctrl-C stops');
} catch (e) {
	say('story', 'FAILED: ' + (e as Error).message);
	await shutdown(1);
}
