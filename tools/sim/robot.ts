/*
 * One simulated robot as its own process: the firmware core on the host platform,
 * with file storage (so a kill -9 is a power loss), the cleaning model driving
 * missions, and one JSON log line per event on stdout. What the rig, the fault
 * tests and `npm start` spawn.
 *
 *   npx tsx tools/sim/robot.ts --thing robot-1 --credentials DIR --data DIR \
 *     --host 127.0.0.1 --port 8883 [--missions N] [--gap-ms MS] [--ms-per-min MS]
 *
 * --missions N   start N missions back to back (button trigger), then idle
 * --ms-per-min   real milliseconds per simulated minute for missions (default 60000)
 * --code-signing-cert FILE  run the OTA agent (DER certificate from `tools/ota keygen`);
 *                firmware slots are files in DATA/slots, a reboot restarts the robot in
 *                this process over the same storage and slots
 * --firmware X.Y.Z  the factory image's version (default 1.0.0)
 * --firmware-source URL  a URL prefix images may come from (repeatable; default the local
 *                cloud's http://127.0.0.1/firmware/; https elsewhere)
 * --map-bytes N  upload an encrypted simulated map of about N bytes after every mission
 * --registration-url URL  on first boot, register the certificate with the cloud
 *                (firmware/core/registration; remembered in storage, so once)
 * Test control (a test build's channel): one JSON command per line on stdin, one reply
 * line on stdout among the log lines (firmware/core/testcmd/protocol.ts).
 * The process exits 0 on SIGTERM/SIGINT after stopping the link.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createRobot, type Robot } from '../../firmware/core/robot/robot';
import { register } from '../../firmware/core/registration/registration';
import { createTestControl, jumpableClock, jumpingTogether, robotTarget, type TestTarget } from '../../firmware/core/testcmd/control';
import { createTestSession } from '../../firmware/core/testcmd/channel';
import { createHostDeviceKey, hostCrypto } from '../../firmware/platform/host/crypto';
import { createFileSlots, hostCodeSigning } from '../../firmware/platform/host/firmware';
import { createHttpPort } from '../../firmware/platform/host/http';
import { createFileStorage, hostClock, hostPorts, hostRandom, hostTimers, jsonLog, readCredentials } from '../../firmware/platform/host/index';
import { CleaningSimulator, TYPICAL_HOME, HOME_ROOMS, simCommandActions } from '../../firmware/sim/cleaning';
import { scaledPorts } from '../../firmware/sim/clock';
import { simulatedMap, squareFor } from '../../firmware/sim/map';
import { LogRing, ringLog } from '../../firmware/core/log/ring';

const { values } = parseArgs({
	options: {
		thing: { type: 'string' },
		credentials: { type: 'string' },
		data: { type: 'string' },
		host: { type: 'string', default: '127.0.0.1' },
		port: { type: 'string' },
		'server-name': { type: 'string', default: 'localhost' },
		missions: { type: 'string', default: '0' },
		'gap-ms': { type: 'string', default: '100' },
		'ms-per-min': { type: 'string', default: '60000' },
		'log-level': { type: 'string', default: 'info' },
		'code-signing-cert': { type: 'string' },
		// where firmware images may come from (URL prefixes, core/ota/document.ts): the local cloud's firmware bucket by default
		'firmware-source': { type: 'string', multiple: true, default: ['http://127.0.0.1/firmware/'] },
		firmware: { type: 'string', default: '1.0.0' },
		'map-bytes': { type: 'string' },
		'registration-url': { type: 'string' },
	},
});

function need(name: string, v: string | undefined): string {
	if (!v) {
		console.error(`--${name} is required`);
		process.exit(2);
	}
	return v;
}
function int(name: string, v: string, min: number): number {
	const n = Number(v);
	if (!Number.isInteger(n) || n < min) {
		console.error(`--${name} expected an integer >= ${min}, got ${v}`);
		process.exit(2);
	}
	return n;
}

const thing = need('thing', values.thing);
const data = need('data', values.data);
const port = int('port', need('port', values.port), 1);
const missionCount = int('missions', values.missions!, 0);
const gapMs = int('gap-ms', values['gap-ms']!, 0);
const msPerMin = int('ms-per-min', values['ms-per-min']!, 1);
const mapBytes = values['map-bytes'] === undefined ? undefined : int('map-bytes', values['map-bytes'], 64);
const credentials = readCredentials(need('credentials', values.credentials));
fs.mkdirSync(data, { recursive: true });

// the parent went away (its pipe closed): nothing left to tell, stop like a power cut
process.stdout.on('error', () => process.exit(0));
// every line also in the robot's own ring, which it ships on request (core/log/ship.ts, tools/logs.ts)
const ring = new LogRing(hostClock);
const log = ringLog(
	jsonLog((l) => process.stdout.write(l + '\n'), values['log-level'] as 'debug' | 'info', { thing }),
	ring,
);
const storage = createFileStorage(path.join(data, 'storage'));
const linkClock = jumpableClock(hostClock);
const ports = { ...hostPorts(storage, log), clock: linkClock.clock };

// missions run on a clock `60000 / msPerMin` times faster than the link's:
// a one-hour mission takes a minute of real time at msPerMin=1000
const scaled = scaledPorts({ clock: hostClock, timers: hostTimers, storage, log, random: hostRandom }, msPerMin);
const missionClock = jumpableClock(scaled.clock);
const missionPorts = { ...scaled, clock: missionClock.clock };
// the test channel's clock-jump moves both wall clocks by the same real amount (a jump is
// not scaled: an hour back is an hour back on the mission clock too)
const clock = jumpingTogether(linkClock, missionClock);

const firmware = values['code-signing-cert'] === undefined ? undefined : { certificate: new Uint8Array(fs.readFileSync(values['code-signing-cert'])), factory: values.firmware! };
let left = missionCount;
let current: { robot: Robot; sim: CleaningSimulator; target: TestTarget } | undefined;
// the home's floor plan is the robot's own: seeded by its name
const seed = [...thing].reduce((h, ch) => (Math.imul(h, 31) + ch.charCodeAt(0)) | 0, 7);

/** Power-up: a reboot (after a firmware update or a rollback) is this again, over the same storage and slots. */
function boot(): void {
	let rebooting = false;
	const onReboot = () => {
		if (rebooting) return;
		rebooting = true;
		log.log('info', 'sim.reboot', {});
		setTimeout(() => {
			current?.sim.stop();
			current?.robot.stop();
			boot();
		}, 50);
	};
	const robot = createRobot(
		ports,
		{
			thing,
			endpoint: { host: values.host!, port, tls: { ...credentials, serverName: values['server-name']! } },
			link: { backoff: { baseMs: 200, capMs: 3000 }, connectTimeoutMs: 5000, keepAlive: 30 },
			commands: { rooms: HOME_ROOMS },
			logs: { ring },
			// a new certificate for the same key before this one expires (core/renew), as the device does
			renew: { deviceKey: createHostDeviceKey(credentials.key) },
			...(firmware
				? {
						ota: {
							slot: createFileSlots(path.join(data, 'slots'), { factoryVersion: firmware.factory, onReboot }),
							signing: hostCodeSigning,
							http: createHttpPort(),
							certificate: firmware.certificate,
							sources: values['firmware-source']!,
							selfTest: { deadlineMs: 60_000 },
						},
					}
				: {}),
			...(mapBytes
				? {
						upload: {
							crypto: hostCrypto,
							deviceKey: createHostDeviceKey(credentials.key),
							http: createHttpPort(),
							map: (job: { areaM2: number }) => simulatedMap({ seed, areaM2: job.areaM2, ...squareFor(mapBytes) }),
						},
					}
				: {}),
		},
		missionPorts,
	);
	const sim = new CleaningSimulator(robot.missions, { timers: missionPorts.timers, random: hostRandom, log }, TYPICAL_HOME);
	robot.onDue((d) => sim.run('schedule', d.entryId, (d.mode as 'vacuum' | 'mop' | 'both' | undefined) ?? 'vacuum'));
	robot.commands?.bind(simCommandActions(sim, log));
	robot.missions.listen((s, effects) => {
		for (const fx of effects) if (fx.type === 'event' && fx.name === 'started') log.log('info', 'sim.mission_started', { mission: fx.mission });
		if (s.value === 'idle' && effects.some((f) => f.type === 'report') && left > 0) setTimeout(next, gapMs);
	});
	current = { robot, sim, target: robotTarget(robot, { startMission: () => sim.run('button'), clock, firmware: () => robot.ota?.agent.version }) };
	robot.start();
	const version = robot.ota?.agent.version;
	log.log('info', 'sim.boot', {
		missions: missionCount,
		msPerMin,
		pendingReports: robot.missions.pendingReports(),
		outbox: robot.link.outbox.size,
		...(version ? { firmware: version } : {}),
	});
}

function next(): void {
	if (left <= 0 || !current) return;
	left--;
	current.sim.run('button');
}

const control = createTestControl(() => current?.target, log);
const session = createTestSession(control);
process.stdin.on('data', (chunk: Buffer) => {
	for (const reply of session.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) process.stdout.write(reply + '\n');
});

if (values['registration-url']) {
	const url = values['registration-url'];
	// the local cloud's API has a dev-CA certificate; AWS's has a public one
	const local = /^https:\/\/(127\.0\.0\.1|localhost)[:/]/.test(url);
	const r = await register(
		{
			http: createHttpPort(local ? { ca: credentials.ca, serverName: 'localhost' } : {}),
			deviceKey: createHostDeviceKey(credentials.key),
			crypto: hostCrypto,
			clock: clock.clock,
			timers: hostTimers,
			random: hostRandom,
			storage,
			log,
		},
		{ url, thing, certificate: credentials.certificates[0]!, backoff: { baseMs: 200, capMs: 2000 }, maxAttempts: 30 },
	);
	if (!r.ok) {
		log.log('error', 'sim.registration_failed', { ...r.error });
		process.exit(1);
	}
	log.log('info', 'sim.registered', { certificateId: r.value.certificateId, already: r.value.already, attempts: r.value.attempts });
}
boot();
if (missionCount > 0) setTimeout(next, gapMs);

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const)
	process.on(sig, () => {
		if (stopping) return;
		stopping = true;
		current?.sim.stop();
		current?.robot.stop();
		log.log('info', 'sim.stopped', {});
		setTimeout(() => process.exit(0), 50);
	});
