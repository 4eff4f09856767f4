/*
 * Device entry (production build, manifest.json at the repo root): wires the Moddable
 * platform into the core's robot (link, schedule shadow, schedule runner, missions)
 * and keeps it connected. Module names in the manifest mirror repository paths
 * ("firmware/main", "firmware/core/robot/robot", ...), so the relative imports below
 * resolve the same way for tsc and for XS.
 *
 * The endpoint comes from mc/config (manifest "config.mqtt"), the thing name from the
 * device certificate's CN (config.mqtt.thing, if set, must match it), SNTP servers from "config.clock.sntp"
 * (an array, or a comma-separated string). Not "config.sntp": that one belongs to the
 * SDK's ESP32 setup/network, which would run its own one-shot SNTP before main; the
 * manifest leaves it empty. The outbox bound may come from "config.link.outbox"
 * ({ maxMessages, maxBytes }): the esp32 section lowers it to what its NVS partition holds.
 * Credentials come from Preference (written by factory provisioning), see
 * platform/moddable/platform.ts.
 *
 * Firmware updates (IoT Jobs) run when the build carries the code-signing certificate
 * (resource code-signing.der) and config.firmware.version: platform/moddable/firmware.ts.
 * A reboot on ESP32 restarts the chip; on lin the app stops its robot and traces
 * `step {"event":"reboot"}` for whoever runs it to start it again over the same files.
 *
 * Test builds (config.testcmd set, e.g. mcconfig `testcmd=1`, or an object with uart/baud
 * (esp32) or port (lin)): the robot answers the test rig's commands (firmware/core/testcmd)
 * on the console UART (esp32) or a TCP port (lin), with a jumpable wall clock and the
 * cleaning model as the mission driver. Production leaves it unset: no port is opened.
 *
 * Clock: the schedule runs from boot on the stored schedule, and waits by itself while
 * the clock is unknown. The link starts only once the clock is known, because the TLS
 * client checks certificate validity against Date.now(): from 1970 every handshake
 * would fail. On lin (and after a soft reset on ESP32) the clock is known at once.
 */
import config from 'mc/config';
import { createRobot } from './core/robot/robot';
import { DEFAULT_OUTBOX, type OutboxLimits } from './core/link/outbox';
import { createModdablePorts, loadCredentials, startSntp } from './platform/moddable/platform';
import { moddableOta } from './platform/moddable/firmware';
import { createModdableHttpPort } from './platform/moddable/http';
import { jumpableClock, robotTarget } from './core/testcmd/control';
import { startTestCommands, type TransportOptions } from './platform/moddable/testcmd/testcmd';
import { CleaningSimulator } from './sim/cleaning';

const testcmd = testcmdOptions(config.testcmd);
const platform = createModdablePorts();
// a test build's clock-jump moves the wall clock the robot reads; the monotonic clock stays
const testClock = testcmd ? jumpableClock(platform.clock) : undefined;
const ports = testClock ? { ...platform, clock: testClock.clock } : platform;
const mqtt = (config.mqtt ?? {}) as { host?: string; port?: number | string; serverName?: string; thing?: string };
const clock = (config.clock ?? {}) as { sntp?: readonly string[] | string };
const outbox = ((config.link ?? {}) as { outbox?: Partial<OutboxLimits> }).outbox;
const credentials = loadCredentials();

function testcmdOptions(v: unknown): TransportOptions | undefined {
	if (v === undefined || v === null || v === '' || v === false || v === 0 || v === '0') return undefined;
	return typeof v === 'object' ? (v as TransportOptions) : {};
}

function sntpHosts(): string[] {
	const h = clock.sntp;
	const list = typeof h === 'string' ? h.split(',') : Array.isArray(h) ? h : [];
	return list.map((x) => String(x).trim()).filter((x) => x.length > 0);
}

if (typeof credentials === 'string') {
	ports.log.log('error', 'main.no_credentials', { message: credentials });
} else if (!mqtt.host) {
	ports.log.log('error', 'main.no_endpoint', { message: 'config.mqtt.host is required' });
} else if (mqtt.thing && mqtt.thing !== credentials.thing) {
	// the thing name is the certificate's CN; a build configured for another robot must not start
	ports.log.log('error', 'main.wrong_thing', { configured: mqtt.thing, certificate: credentials.thing });
} else {
	const { thing, ...tls } = credentials;
	const ota = moddableOta({
		http: createModdableHttpPort({ ca: tls.ca }),
		log: ports.log,
		storage: ports.storage,
		onReboot: () => {
			robot.stop();
			trace('step ' + JSON.stringify({ event: 'reboot' }) + '\n');
		},
	});
	if (typeof ota === 'string') ports.log.log('warn', 'main.no_ota', { message: ota });
	const robot = createRobot(ports, {
		thing,
		endpoint: {
			host: mqtt.host,
			port: Number(mqtt.port ?? 8883),
			tls: { ...tls, ...(mqtt.serverName ? { serverName: mqtt.serverName } : {}) },
		},
		// the Outbox refuses a bound that is not a number >= 1 message / 64 bytes, with the reason
		...(outbox ? { link: { outbox: { ...DEFAULT_OUTBOX, ...outbox } } } : {}),
		...(typeof ota === 'string' ? {} : { ota }),
	});
	if (testcmd && testClock) {
		const sim = new CleaningSimulator(robot.missions, ports);
		const target = robotTarget(robot, { startMission: () => sim.run('button'), clock: testClock, firmware: () => robot.ota?.agent.version });
		startTestCommands({ target: () => target, log: ports.log, transport: testcmd });
	}
	let started = false;
	const startLink = () => {
		if (started) return;
		started = true;
		robot.start();
	};
	const hosts = sntpHosts();
	if (hosts.length) startSntp({ hosts, log: ports.log, onTime: startLink });
	if (ports.clock.now() !== undefined) startLink();
	else if (hosts.length) ports.log.log('warn', 'main.waiting_for_clock', { sntp: hosts.join(',') });
	else ports.log.log('error', 'main.no_clock', { message: 'clock unknown and config.clock.sntp empty: the link cannot check certificates' });
}
