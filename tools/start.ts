/*
 * `npm start`: the local cloud and simulated robots (the firmware's core on the host
 * platform, each robot behind its own link the story can cut), told as a timeline:
 *   boot and connect over mutual TLS, sync the schedule shadow;
 *   go offline, while the owner changes the schedule in the app;
 *   come back, apply the edit, report it;
 *   clean (a one-hour mission on a fast clock) with progress, report it once;
 *   encrypt the mission's map on the robot and upload it; the cloud decrypts it, mapReady;
 *   lose the broker mid-mission, keep cleaning, deliver the report when it is back;
 *   take a signed firmware update through IoT Jobs: download, verify, reboot, self-test, SUCCEEDED.
 * With --aws, one robot against a real AWS IoT endpoint instead (tools/start-aws.ts).
 *
 *   npm start -- [--robots N] [--keep] [--verbose] [--data DIR] [--ms-per-min MS] [--no-console]
 *   npm start -- --aws [--endpoint HOST] --credentials DIR [--region R]
 * (tools/start-args.ts checks them.) The console (console/server.ts) shows it all live in a
 * browser; its URL is printed at the start.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DescribeJobExecutionCommand, IoTClient } from '@aws-sdk/client-iot';
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { S3Client } from '@aws-sdk/client-s3';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createRobot, type Robot } from '../firmware/core/robot/robot';
import { createFileStorage, hostClock, hostPorts, hostRandom, hostTimers, readCredentials } from '../firmware/platform/host/index';
import { CleaningSimulator, HOME_ROOMS, simCommandActions } from '../firmware/sim/cleaning';
import { simulatedMap } from '../firmware/sim/map';
import { createHostDeviceKey, hostCrypto } from '../firmware/platform/host/crypto';
import { createFileSlots, hostCodeSigning } from '../firmware/platform/host/firmware';
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
import { createSigningIdentity, devSigner, localThingArn, publishFirmware } from './ota/ota';
import { startProxy, type Proxy } from '../test/support/proxy';
import { startConsole } from '../console/server';
import { parseStartArgs, type StartOptions } from './start-args';
import { narrate, timeline } from './start-timeline';

let options: StartOptions;
try {
	options = parseStartArgs(process.argv.slice(2), process.env);
} catch (e) {
	console.error(`npm start: ${(e as Error).message}`);
	process.exit(2);
}
const say = timeline(process.stdout.isTTY === true);
if (options.mode === 'aws') {
	const { startAws } = await import('./start-aws');
	await startAws(options, say);
	process.exit(0);
}
const count = options.robots;
const msPerMin = options.msPerMin;
const verbose = options.verbose;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const things = Array.from({ length: count }, (_, i) => 'robot-' + (i + 1));
const cloud = await startLocalCloud({
	dataDir: path.join(options.data, 'local-cloud'),
	things,
	log: (e) => {
		if (verbose || e.level === 'error') say('cloud', e.event, JSON.stringify(e));
	},
});
say('cloud', 'local cloud up', `${cloud.endpoints.mqtt}  shadows ${cloud.endpoints.iotData}  CA ${cloud.endpoints.caPath}`);
const aws = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
const app = new IoTDataPlaneClient({ ...aws, endpoint: cloud.endpoints.iotData });
const ddb = createDocumentClient({ ...aws, endpoint: cloud.endpoints.dynamodb });
const iot = new IoTClient({ ...aws, endpoint: cloud.endpoints.iot });
const s3 = new S3Client({ ...aws, endpoint: cloud.endpoints.s3, forcePathStyle: true });
// the firmware's code-signing identity: the robots trust its certificate, the operator signs with its key
const signing = await createSigningIdentity();
/** The image of a new firmware version (the story's and the console's jobs). */
const firmwareImage = () => new Uint8Array(1_500_000).map((_, i) => (i * 31 + (i >> 9)) & 255);

// missions run on a clock `60000 / msPerMin` times faster than the link's
const scale = 60_000 / msPerMin;

/**
 * A simulated robot and what a person (or the console) can do to it. `robot` and `sim` are
 * new objects after a reboot (a firmware update); the controls always act on the current ones.
 */
interface Sim {
	readonly thing: string;
	readonly proxy: Proxy;
	robot: Robot;
	sim: CleaningSimulator;
	/** Its Wi-Fi goes: live connections drop, new ones are refused. */
	offline(): void;
	online(): void;
	/** "Clean now" in the app; the mission id, or undefined when one is running. */
	mission(): string | undefined;
}

async function makeRobot(thing: string): Promise<Sim> {
	const dir = path.join(options.data, 'robots', thing);
	fs.mkdirSync(dir, { recursive: true });
	const quiet = count > 3 && thing !== 'robot-1';
	const log: LogPort = {
		log(level, event, fields) {
			if (verbose || level === 'error') say(thing, event, JSON.stringify(fields ?? {}));
		},
	};
	const storage = createFileStorage(path.join(dir, 'storage'));
	const proxy = await startProxy({ host: '127.0.0.1', port: cloud.broker.port });
	const credentials = readCredentials(cloud.pki.paths.thing(thing).dir);
	// the home's floor plan is the robot's own: seeded by its name
	const seed = [...thing].reduce((h, ch) => (Math.imul(h, 31) + ch.charCodeAt(0)) | 0, 7);
	const missionPorts = scaledPorts({ clock: hostClock, timers: hostTimers, storage, log, random: hostRandom }, msPerMin);
	let rebooting = false;
	const slot = createFileSlots(path.join(dir, 'slots'), {
		factoryVersion: '1.0.0',
		// a reboot is a new robot over the same storage and slots, as on the board
		onReboot() {
			if (rebooting) return;
			rebooting = true;
			setTimeout(() => {
				s.sim.stop();
				s.robot.stop();
				say(thing, 'reboot');
				boot();
				say(thing, `booted firmware ${s.robot.ota!.agent.version}`, s.robot.ota!.agent.state.value === 'testing' ? 'on probation until its self-test passes' : '');
				s.robot.start();
				rebooting = false;
			}, 50);
		},
	});
	const boot = () => {
		const robot = createRobot(
			hostPorts(storage, log),
			{
				thing,
				endpoint: { host: '127.0.0.1', port: proxy.port, tls: { ...credentials, serverName: 'localhost' } },
				link: { backoff: { baseMs: 250, capMs: 4000 } },
				// a 2 MB occupancy grid (1448 x 1448 cells) per mission, made as it is read
				upload: { crypto: hostCrypto, deviceKey: createHostDeviceKey(credentials.key), http: createHttpPort(), map: (job) => simulatedMap({ seed, areaM2: job.areaM2 }) },
				ota: {
					slot,
					signing: hostCodeSigning,
					http: createHttpPort(),
					certificate: signing.certificateDer,
					sources: [cloud.endpoints.s3 + '/firmware/'],
					selfTest: { deadlineMs: 30_000 },
				},
				// the owner's app: commands through AWS IoT commands, pairing at setup
				commands: { rooms: HOME_ROOMS },
				pairing: { crypto: hostCrypto },
			},
			missionPorts,
		);
		const sim = new CleaningSimulator(robot.missions, { timers: missionPorts.timers, random: hostRandom, log });
		robot.onDue((d) => sim.run('schedule', d.entryId));
		robot.commands!.bind(simCommandActions(sim, log));
		if (!quiet) narrate(robot, say);
		s.robot = robot;
		s.sim = sim;
	};
	const s: Sim = {
		thing,
		proxy,
		robot: undefined as unknown as Robot,
		sim: undefined as unknown as CleaningSimulator,
		offline: () => proxy.cut(),
		online: () => proxy.restore(),
		mission: () => s.sim.run('app'),
	};
	boot();
	return s;
}

const sims = await Promise.all(things.map(makeRobot));
const konsole = options.console
	? await startConsole({
			cloud,
			robots: sims.map((s) => ({ thing: s.thing, offline: () => s.offline(), online: () => s.online(), mission: () => s.mission() })),
			firmware: { signingKeyPem: signing.keyPem, image: firmwareImage },
			log: (level, event, fields) => {
				if (verbose || level === 'error') say('console', event, JSON.stringify(fields ?? {}));
			},
		})
	: undefined;
if (konsole) say('console', `open ${konsole.url}`, "two views: the operator's (the system live, the operator's actions) and the owner's app (/owner/, linked from it); --keep keeps it up");
// the owner's app: the person who owns robot-1 (their password is printed: a local demo account)
const OWNER = { email: 'owner@example.com', password: 'clean-my-home' };
// the same sub on every run: the binding in the kept tables stays the owner's
const ownerSub = createHash('sha256')
	.update(OWNER.email)
	.digest('hex')
	.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5');
cloud.owners.auth.createOwner(OWNER.email, OWNER.password, ownerSub);
// the owner's app is the console's other view (its link "the owner's app", /owner/): one URL for both
if (konsole) say('app', "the owner's app: the console's link \"the owner's app\" (/owner/)", `sign in as ${OWNER.email} / ${OWNER.password}`);
let stopping = false;
async function shutdown(code: number): Promise<never> {
	if (stopping) process.exit(code);
	stopping = true;
	for (const s of sims) {
		s.sim.stop();
		s.robot.stop();
		await s.proxy.close();
	}
	app.destroy();
	ddb.destroy();
	iot.destroy();
	s3.destroy();
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
		if (stopping) return new Promise(() => {}); // Ctrl-C: shutdown() exits; the story stops here
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
		const r = await ddb.send(
			new QueryCommand({
				TableName: TABLES.missions.name,
				KeyConditionExpression: 'thing = :t AND missionId = :m',
				ExpressionAttributeValues: { ':t': thing, ':m': missionId },
				ConsistentRead: true,
			}),
		);
		item = r.Items?.[0];
		return item?.mapReady === true;
	});
	return item!;
}

/** The owner's API as the app calls it, with the owner's ID token. */
async function ownerCall(token: string, method: string, p: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
	const r = await fetch(cloud.endpoints.ownerApi + p, {
		method,
		headers: { authorization: 'Bearer ' + token, ...(body ? { 'content-type': 'application/json' } : {}) },
		...(body ? { body: JSON.stringify(body) } : {}),
	});
	return { status: r.status, body: (await r.json()) as Record<string, any> };
}

/**
 * The owner's part: sign in (the user pool's InitiateAuth), claim the robot with the code it
 * shows, and press "clean now" for two rooms: an AWS IoT command the robot answers. The mission id.
 */
async function ownerCleansNow(s: Sim): Promise<string> {
	const signIn = await fetch(cloud.endpoints.ownerAuth, {
		method: 'POST',
		headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityProviderService.InitiateAuth' },
		body: JSON.stringify({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: cloud.owners.auth.clientId, AuthParameters: { USERNAME: OWNER.email, PASSWORD: OWNER.password } }),
	});
	const token = ((await signIn.json()) as { AuthenticationResult: { IdToken: string } }).AuthenticationResult.IdToken;
	say('app', `${OWNER.email} signed in`, "an RS256 ID token from the user pool; the owner API checks it as API Gateway's JWT authorizer does");
	const mine = await ownerCall(token, 'GET', '/robots');
	if (!mine.body.robots?.some((r: { thing: string }) => r.thing === s.thing)) {
		const shown = s.robot.beginPairing();
		if (!shown.ok) throw new Error('no pairing code: ' + shown.error.code);
		say(s.thing, `shows pairing code ${shown.value.code}`, 'good for 10 minutes; only its SHA-256 digest goes to the cloud (pairing shadow)');
		let claimed = await ownerCall(token, 'POST', '/robots/claim', { thing: s.thing, code: shown.value.code });
		// the digest may still be on its way to the shadow
		for (let i = 0; claimed.status !== 200 && claimed.body.error === 'NoPairingCode' && i < 100; i++) {
			await sleep(50);
			claimed = await ownerCall(token, 'POST', '/robots/claim', { thing: s.thing, code: shown.value.code });
		}
		if (claimed.status !== 200) throw new Error('claim refused: ' + JSON.stringify(claimed.body));
		say('app', `${s.thing} is ${OWNER.email}'s now`, 'bound once (a second claim, a wrong or expired code, another owner: refused)');
	} else say('app', `${s.thing} is already ${OWNER.email}'s (from an earlier run)`);
	say('story', `the owner presses "clean now" for the kitchen and the hall (a one-hour mission on a ${Math.round(scale)}x clock); its map follows the report`);
	const started = await ownerCall(token, 'POST', `/robots/${s.thing}/commands`, { action: 'clean', rooms: ['kitchen', 'hall'] });
	if (started.status !== 202) throw new Error('command refused: ' + JSON.stringify(started.body));
	say('app', `command robot-clean started`, `AWS IoT commands execution ${started.body.executionId}; 2 billed messages: request and answer`);
	let x: Record<string, any> = {};
	await until('the command answered', async () => {
		x = (await ownerCall(token, 'GET', `/robots/${s.thing}/commands/${started.body.executionId}`)).body;
		return !['CREATED', 'IN_PROGRESS'].includes(x.status);
	});
	if (x.status !== 'SUCCEEDED') throw new Error(`the robot answered ${x.status} ${x.reasonCode}: ${x.reason}`);
	say('app', `the app shows: "Cleaning started."`, `execution ${x.status}, reason ${x.reasonCode}, mission ${x.missionId}`);
	return x.missionId as string;
}

/** The next minor version after the running one: a second `npm start` over the same data updates again. */
function nextVersion(v: string): string {
	const [major, minor] = v.split('.').map(Number);
	return `${major}.${minor! + 1}.0`;
}

try {
	const first = sims[0]!;
	const thing = first.thing;
	say('story', `${count} robot${count > 1 ? 's' : ''} boot and connect over mutual TLS 1.2`);
	for (const s of sims) s.robot.start();
	await until('all in sync', () => sims.every((s) => s.robot.schedule.state.value === 'synced'));

	say('story', `${thing} loses its Wi-Fi; the owner edits the schedule in the app meanwhile`);
	first.offline();
	await until('offline', () => first.robot.link.state.value !== 'connected');
	const zone = 'Europe/Berlin';
	const schedule: Schedule = {
		tz: ianaToPosix(zone),
		entries: [{ id: 'weekday-morning', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:30', enabled: true, mode: 'vacuum', rooms: ['kitchen', 'hall'] }],
	};
	await app.send(new UpdateThingShadowCommand({ thingName: thing, shadowName: 'schedule', payload: new TextEncoder().encode(JSON.stringify({ state: { desired: { schedule } } })) }));
	const waiting = await shadow(thing);
	say('app', `schedule written to desired (shadow v${waiting.version})`, `${zone} = ${schedule.tz}; weekdays 09:30, kitchen + hall`);
	say('story', `the edit waits in the shadow; ${thing} keeps its old schedule and would clean on time offline`);
	await sleep(800);

	say('story', `${thing} is back`);
	first.online();
	await until('edit applied and reported', async () => {
		const s = await shadow(thing);
		return s.state.desired?.schedule === undefined && first.robot.schedule.state.value === 'synced' && first.robot.schedule.value.entries.length === 1;
	});
	const next = nextRun(first.robot.schedule.value, Date.now());
	say(thing, 'applied the edit, reported it, cleared desired', next ? `next mission ${new Date(next.utcMs).toISOString()} (${next.entryId})` : '');

	say('story', `the owner sets up the app: ${thing} shows a pairing code, the owner claims it with the code`);
	const id = await ownerCleansNow(first);
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

	const running = first.robot.ota!.agent.version;
	const version = nextVersion(running);
	const image = firmwareImage();
	say('story', `the operator ships firmware ${version} (${running} runs now): signed, uploaded, an IoT Job for ${thing}`);
	const { jobId } = await publishFirmware({ iot, s3, image, version, signer: devSigner(signing.keyPem), things: [thing], thingArn: localThingArn });
	say('operator', `job ${jobId} created`, `a manifest (product, version, size, SHA-256, counter) signed with ECDSA P-256; ${image.length.toLocaleString('en-US')} bytes in s3://firmware; the job document points at both`);
	let status = '';
	await until(
		'the job to end',
		async () => {
			const r = await iot.send(new DescribeJobExecutionCommand({ jobId, thingName: thing }));
			status = r.execution?.status ?? '';
			return ['SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT', 'CANCELED'].includes(status);
		},
		90_000,
	);
	if (status !== 'SUCCEEDED') throw new Error(`the firmware job ended ${status}`);
	say('operator', `job ${jobId}: SUCCEEDED`, `${thing} runs ${first.robot.ota!.agent.version}, marked valid after its self-test`);

	if (!options.keep) await shutdown(0);
	say('story', 'running; Ctrl-C stops');
} catch (e) {
	if (!stopping) {
		say('story', 'FAILED: ' + (e as Error).message);
		await shutdown(1);
	}
}
