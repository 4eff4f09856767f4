/*
 * `npm start -- --aws`: one simulated robot (the same composition as the local story) against
 * a real AWS IoT endpoint with real credentials; no local cloud. The story: connect over
 * mutual TLS, sync the schedule shadow, go offline while the app (the IoT data plane over
 * HTTPS, SigV4 with the SDK's default credentials) edits the schedule, come back and apply
 * it, clean with progress, get the report's PUBACK, upload the map when the stack
 * (cloud/template.yaml) answers the slot request. The broker outage and the firmware
 * update are the local story's: AWS IoT cannot be stopped from here, and a job needs the
 * stack's firmware bucket (`npm run ota -- publish --aws`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { checkIdentity } from '../firmware/core/identity/identity';
import { createRobot } from '../firmware/core/robot/robot';
import type { Schedule } from '../firmware/core/schedule/model';
import { createHostDeviceKey, hostCrypto } from '../firmware/platform/host/crypto';
import { createHttpPort } from '../firmware/platform/host/http';
import { createFileStorage, hostClock, hostPorts, hostRandom, hostTimers, readCredentials } from '../firmware/platform/host/index';
import type { LogPort } from '../firmware/ports';
import { CleaningSimulator } from '../firmware/sim/cleaning';
import { scaledPorts } from '../firmware/sim/clock';
import { simulatedMap, squareFor } from '../firmware/sim/map';
import type { AwsStart, StartOptions } from './start-args';
import { narrate, type Say } from './start-timeline';
import { ianaToPosix } from './tz/iana-to-posix';

export async function startAws(o: AwsStart & StartOptions, say: Say): Promise<void> {
	const credentials = readCredentials(o.credentials);
	const identity = checkIdentity(credentials.certificates[0]!, credentials.key);
	if (!identity.ok) throw new Error(`--credentials: ${identity.error.reason}`);
	const thing = identity.value.thing;
	const dir = path.join(o.data, 'aws', thing);
	fs.mkdirSync(dir, { recursive: true });
	const log: LogPort = { log: (level, event, fields) => void ((o.verbose || level === 'error') && say(thing, event, JSON.stringify(fields ?? {}))) };
	const storage = createFileStorage(path.join(dir, 'storage'));
	const missionPorts = scaledPorts({ clock: hostClock, timers: hostTimers, storage, log, random: hostRandom }, o.msPerMin);
	const robot = createRobot(
		hostPorts(storage, log),
		{
			thing,
			endpoint: { host: o.endpoint, port: 8883, tls: { ...credentials, serverName: o.endpoint } },
			link: { backoff: { baseMs: 1000, capMs: 30_000 } },
			// a small map: this goes over the Internet
			upload: {
				crypto: hostCrypto,
				deviceKey: createHostDeviceKey(credentials.key),
				http: createHttpPort(),
				map: (job) => simulatedMap({ seed: 7, areaM2: job.areaM2, ...squareFor(65_536) }),
			},
		},
		missionPorts,
	);
	const sim = new CleaningSimulator(robot.missions, { timers: missionPorts.timers, random: hostRandom, log });
	robot.onDue((d) => sim.run('schedule', d.entryId));
	narrate(robot, say);
	const app = new IoTDataPlaneClient({ region: o.region, endpoint: `https://${o.endpoint}` });

	let stopping = false;
	const stop = (code: number) => {
		if (stopping) process.exit(code);
		stopping = true;
		sim.stop();
		robot.stop();
		app.destroy();
		say('story', code === 0 ? 'stopped cleanly' : 'stopped with errors');
		process.exit(code);
	};
	process.on('SIGINT', () => stop(0));
	process.on('SIGTERM', () => stop(0));
	const until = async (what: string, cond: () => boolean | Promise<boolean>, ms = 60_000) => {
		const t = Date.now();
		while (!(await cond())) {
			if (Date.now() - t > ms) throw new Error('timed out: ' + what);
			await new Promise((r) => setTimeout(r, 100));
		}
	};
	const desired = async () => {
		const r = await app.send(new GetThingShadowCommand({ thingName: thing, shadowName: 'schedule' }));
		return (JSON.parse(new TextDecoder().decode(r.payload)) as { state: { desired?: unknown } }).state.desired;
	};

	try {
		say('story', `${thing} connects to ${o.endpoint} (AWS IoT Core, ${o.region}) over mutual TLS 1.2`);
		robot.start();
		await until('schedule synced', () => robot.schedule.state.value === 'synced');

		say('story', `${thing} loses its Wi-Fi; the owner edits the schedule in the app meanwhile`);
		robot.link.stop();
		const schedule: Schedule = {
			tz: ianaToPosix('Europe/Berlin'),
			entries: [{ id: 'weekday-morning', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:30', enabled: true, mode: 'vacuum', rooms: ['kitchen', 'hall'] }],
		};
		await app.send(new UpdateThingShadowCommand({ thingName: thing, shadowName: 'schedule', payload: new TextEncoder().encode(JSON.stringify({ state: { desired: { schedule } } })) }));
		say('app', 'schedule written to desired through the IoT data plane (HTTPS, SigV4)');
		say('story', `${thing} is back`);
		robot.link.start();
		await until('edit applied and reported', async () => (await desired()) === undefined && robot.schedule.value.entries.some((e) => e.id === 'weekday-morning'));
		say(thing, 'applied the edit, reported it, cleared desired');

		say('story', 'the owner presses "clean now"');
		const id = sim.run('app');
		await until('report acknowledged', () => robot.missions.state.value === 'idle' && robot.link.outbox.size === 0, 120_000);
		say('story', `mission ${id} reported (Basic Ingest); its map goes when the stack answers the slot request`);
		await until('map uploaded or given up', () => robot.maps?.uploading === undefined && robot.maps?.pending().length === 0, 120_000).catch(() =>
			say('story', 'no map slot came: is the stack (cloud/template.yaml) deployed in this account?'),
		);
		if (!o.keep) stop(0);
		say('story', 'running; Ctrl-C stops');
		await new Promise(() => {});
	} catch (e) {
		say('story', 'FAILED: ' + (e as Error).message);
		stop(1);
	}
}
