/*
 * Device test build (test/device/manifest.json; in scenarios/ because the repo tsconfig leaves that folder to mcconfig): the production wiring of
 * firmware/main.ts plus one scenario, chosen by mc/config `scenario` (an mcconfig
 * `scenario=NAME` argument; only mc/config is rebuilt between scenarios).
 * A scenario with `robot: true` gets the whole robot of firmware/main.ts (createRobot:
 * link, schedule shadow, runner, missions); the link scenarios get a bare Link, so
 * that no shadow traffic shares their outbox. With `missionMsPerMin` the robot's missions
 * run on a scaled clock (mission-clock.ts), as the host simulator's do.
 * Verdict on its own line: PASS, or FAIL: reason (see run-headless.sh).
 */
import config from 'mc/config';
import Time from 'time';
import Timer from 'timer';
import { Link, type LinkOptions } from '../../../firmware/core/link/link';
import { createRobot, type Robot } from '../../../firmware/core/robot/robot';
import { createModdablePorts, loadCredentials } from '../../../firmware/platform/moddable/platform';
import { moddableOta } from '../../../firmware/platform/moddable/firmware';
import { createModdableHttpPort } from '../../../firmware/platform/moddable/http';
import { createModdableDeviceKey, moddableCrypto } from '../../../firmware/platform/moddable/crypto';
import { generatedMap } from './map-upload';
import type { LogFields, LogLevel } from '../../../firmware/ports';
import { SCENARIOS, type Scenario } from './index';
import { scaledMissionPorts } from './mission-clock';

const startedAt = Time.ticks;
let finished = false;

function finish(ok: boolean, why = ''): void {
	if (finished) return;
	finished = true;
	trace(ok ? 'PASS\n' : 'FAIL: ' + why + '\n');
}

function run(): void {
	const name = String(config.scenario ?? '');
	const scenario: Scenario | undefined = SCENARIOS[name];
	if (!scenario) return finish(false, 'unknown scenario ' + JSON.stringify(name) + ' (known: ' + Object.keys(SCENARIOS).join(', ') + ')');
	const thing = String(config.thing ?? '');
	const port = Number(config.port);
	if (!thing || !(port > 0)) return finish(false, 'config needs thing=NAME and port=N');
	const credentials = loadCredentials(scenario.credentials);
	if (typeof credentials === 'string') return finish(false, credentials);

	const base = createModdablePorts({ domain: 'robot', logLevel: 'info' });
	// the log also goes to the scenario (it may wait for an event such as sync.desired_rejected)
	const logListeners: ((event: string, fields?: LogFields) => void)[] = [];
	const ports = {
		...base,
		log: {
			log(level: LogLevel, event: string, fields?: LogFields) {
				base.log.log(level, event, fields);
				for (const l of logListeners) l(event, fields);
			},
		},
	};
	const endpoint = { host: String(config.host), port, tls: { ...credentials, serverName: String(config.serverName) } };
	const tuning: Partial<Omit<LinkOptions, 'endpoint' | 'clientId'>> = { keepAlive: 30, connectTimeoutMs: 8_000, backoff: { baseMs: 500, capMs: 2_000 } };
	let robot: Robot | undefined;
	let link: Link;
	const missionPorts = scaledMissionPorts(ports, scenario.missionMsPerMin ?? 60_000);
	if (scenario.robot) {
		// as firmware/main.ts: on lin a reboot is the end of this run, and the runner starts the app again
		const ota = scenario.ota
			? moddableOta({
					http: createModdableHttpPort(),
					log: ports.log,
					storage: ports.storage,
					onReboot: () => {
						robot?.stop();
						trace('step ' + JSON.stringify({ event: 'reboot' }) + '\n');
						finish(true);
					},
				})
			: undefined;
		if (typeof ota === 'string') return finish(false, ota);
		const mapBytes = scenario.mapBytes;
		const upload = mapBytes
			? { crypto: moddableCrypto, deviceKey: createModdableDeviceKey(credentials.key), http: createModdableHttpPort(), map: (job: { missionId: string }) => generatedMap(job.missionId, mapBytes, () => {}) }
			: undefined;
		robot = createRobot(ports, { thing, endpoint, link: tuning, shadowTimeoutMs: 5_000, ...(ota ? { ota } : {}), ...(upload ? { upload } : {}) }, missionPorts);
		link = robot.link;
	} else {
		link = new Link(ports, { ...tuning, clientId: thing, endpoint });
	}
	Timer.set(() => finish(false, 'scenario ' + name + ' timed out after ' + scenario.timeoutMs + ' ms'), scenario.timeoutMs);
	scenario.run({
		link,
		robot,
		ports,
		missionPorts,
		onLog: (l) => void logListeners.push(l),
		thing,
		startedAt,
		step(event, fields) {
			trace('step ' + JSON.stringify({ event, ...fields }) + '\n');
		},
		metric(fields) {
			trace('device-metric ' + JSON.stringify({ scenario: name, ...fields }) + '\n');
		},
		pass: () => finish(true),
		fail: (why) => finish(false, why),
	});
}

try {
	run();
} catch (e) {
	finish(false, 'threw: ' + String((e as Error)?.message ?? e));
}
