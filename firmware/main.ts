/*
 * The device entry, the only one, for every build (manifest.json at the repo root; the
 * device test build, test/device, includes it unchanged): reads the configuration the image
 * carries and where the robot's data lives, and starts the robot (platform/moddable/start.ts
 * assembles it). Module names in the manifest mirror repository paths, so the relative
 * imports below resolve the same way for tsc and for XS.
 *
 * Data, never in the image (issues #14, #19): the credentials in Preference "cred" and the
 * endpoint, Wi-Fi network and registration URL in Preference "net" (core/robot/onboarding.ts),
 * written by `npm run provision` (docs/device.md).
 *
 * mc/config (manifest "config"):
 *   mqtt.thing        optional: a build for one robot must be given that robot's certificate
 *   clock.sntp        SNTP servers (an array, or a comma-separated string). Not "config.sntp":
 *                     that one belongs to the SDK's ESP32 setup/network, which this firmware
 *                     does not use; it stays empty.
 *   link.outbox       { maxMessages, maxBytes }: the esp32 section lowers it to what NVS holds
 *   robot             { mapBytes, retryMs, missions: { msPerMin } }: map size, how often a
 *                     missing record is read again, the cleaning model's clock
 *   firmware          { version, selfTestMs } (platform/moddable/firmware.ts)
 *   testcmd           test builds only (mcconfig `testcmd=1`, or { port } on lin, { uart, baud }
 *                     on esp32): the test-control commands, with a jumpable wall clock; their
 *                     modules (platform/moddable/testkit.ts) are in the test build's manifest only
 *   test              test builds only: overrides of the above as an object or a JSON string
 *                     (mcconfig `test={...}`): link timings, shadowTimeoutMs, robot, sntp
 */
import config from 'mc/config';
import { createModdablePorts, loadCredentials } from './platform/moddable/platform';
import { readEndpoint, readRegistrationUrl, writeEndpoint } from './platform/moddable/onboarding';
import { startNetwork } from './platform/moddable/network/network';
import { createModdableHealth } from './platform/moddable/health';
import { startRobot, type StartConfig } from './platform/moddable/start';
import type { TransportOptions } from './platform/moddable/testcmd/testcmd';

type Settings = Record<string, unknown>;

function object(v: unknown, what: string): Settings {
	if (v === undefined || v === null || v === '') return {};
	if (typeof v === 'string') {
		try {
			return object(JSON.parse(v), what);
		} catch {
			throw new TypeError('config.' + what + ' expected a JSON object, got ' + v);
		}
	}
	if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError('config.' + what + ' expected an object');
	return v as Settings;
}

function testcmdOptions(v: unknown): TransportOptions | undefined {
	if (v === undefined || v === null || v === '' || v === false || v === 0 || v === '0') return undefined;
	return typeof v === 'object' ? (v as TransportOptions) : {};
}

function hosts(v: unknown): string[] {
	const list = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : [];
	return list.map((x) => String(x).trim()).filter((x) => x.length > 0);
}

function read(): StartConfig {
	const c = config as Settings;
	const testcmd = testcmdOptions(c.testcmd);
	// test overrides only where test control is on: a release image ignores them
	const test = testcmd ? object(c.test, 'test') : {};
	const robot = { ...object(c.robot, 'robot'), ...object(test.robot, 'test.robot') };
	const missions = object(robot.missions, 'robot.missions');
	const outbox = object(object(c.link, 'link').outbox, 'link.outbox');
	const thing = String(object(c.mqtt, 'mqtt').thing ?? '');
	return {
		...(thing ? { thing } : {}),
		sntp: hosts(test.sntp ?? object(c.clock, 'clock').sntp),
		...(Object.keys(outbox).length ? { outbox } : {}),
		...(test.link ? { link: object(test.link, 'test.link') } : {}),
		...(test.shadowTimeoutMs ? { shadowTimeoutMs: Number(test.shadowTimeoutMs) } : {}),
		missions: {
			msPerMin: Number(missions.msPerMin ?? 60_000),
			...(missions.seed !== undefined ? { seed: Number(missions.seed) } : {}),
			...(missions.stuckRate !== undefined ? { stuckRate: Number(missions.stuckRate) } : {}),
		},
		mapBytes: Number(robot.mapBytes ?? 0),
		retryMs: Number(robot.retryMs ?? 30_000),
		...(test.registration ? { registration: object(test.registration, 'test.registration') } : {}),
		...(testcmd ? { testcmd } : {}),
	};
}

/**
 * config.storage.budget (a test build's config.test.storage.budget first): bytes, in NVS
 * terms, the robot's Preference domain may take; past it a write answers `full` before the
 * SDK erases anything (platform/moddable/storage.ts). The esp32 section sets the partition's share.
 */
function storageBudget(): { storageBudget?: number } {
	const c = config as Settings;
	const test = testcmdOptions(c.testcmd) ? object(c.test, 'test') : {};
	const b = object(test.storage, 'test.storage').budget ?? object(c.storage, 'storage').budget;
	return b === undefined ? {} : { storageBudget: Number(b) };
}

const budget = storageBudget();
const platform = createModdablePorts(budget);
// the storage figures need the domain's size: only where a budget bounds it (esp32); the reset
// reason needs a native binding (esp_reset_reason) that is not built, so it says 'unknown'
const health = createModdableHealth({
	resetReason: 'unknown',
	...(budget.storageBudget !== undefined ? { storage: () => ({ used: platform.storage.used(), total: budget.storageBudget! }) } : {}),
});
startRobot(read(), {
	platform,
	credentials: () => loadCredentials(),
	onboarding: { endpoint: readEndpoint, setEndpoint: writeEndpoint, registrationUrl: readRegistrationUrl },
	startNetwork,
	health,
});
