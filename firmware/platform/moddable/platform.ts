/*
 * The Moddable platform in one place: the ports the core needs, the device's TLS
 * credentials, and the SNTP clock setter.
 *
 * Credentials are data, never in source nor in the image (issue #14): provisioning writes
 * them to Preference domain "cred", keys "ca", "cert", "key" (DER; "key" is an unencrypted
 * PKCS#8 RSA key): an NVS partition image on ESP32, the lin Preference file on the simulator
 * (tools/provision/board.ts makes both). One image thus serves every robot.
 */
import Preference from 'preference';
import { checkIdentity } from '../../core/identity/identity';
import { LogRing, ringLog, type RingOptions } from '../../core/log/ring';
import type { LogLevel, TlsCredentials } from '../../ports';
import { createSocketPort } from './socket';
import { createPreferenceStorage } from './storage';
import { moddableClock, moddableRandom, moddableTimers, traceLog } from './system';

export { createSocketPort } from './socket';
export { createPreferenceStorage } from './storage';
export { moddableClock, moddableRandom, moddableTimers, traceLog } from './system';
export { startSntp, type SntpHandle, type SntpOptions } from './sntp';

export interface PlatformOptions {
	/** Preference domain of the core's storage. */
	readonly domain?: string;
	readonly logLevel?: LogLevel;
	/** Bytes (NVS terms) the storage domain may take: writes past it answer `full` (platform/moddable/storage.ts). */
	readonly storageBudget?: number;
	/** The log ring's bounds (core/log/ring.ts; default 4 KB). */
	readonly logRing?: RingOptions;
}

/**
 * The ports, with every log line also kept in the robot's own ring (`ring`): a release
 * build's `trace` reaches nobody, the ring is what an operator can ask for (core/log/ship.ts).
 */
export function createModdablePorts(o: PlatformOptions = {}) {
	const ring = new LogRing(moddableClock, o.logRing);
	return {
		socket: createSocketPort(),
		timers: moddableTimers,
		clock: moddableClock,
		random: moddableRandom,
		storage: createPreferenceStorage(o.domain ?? 'robot', o.storageBudget !== undefined ? { budget: o.storageBudget } : {}),
		log: ringLog(traceLog(o.logLevel ?? 'info'), ring),
		ring,
	};
}

function fromPreference(domain: string, key: string): Uint8Array | undefined {
	const v = Preference.get(domain, key);
	return v instanceof ArrayBuffer ? new Uint8Array(v) : undefined;
}

/**
 * The device's TLS credentials and its thing name (the certificate's CN) from Preference
 * `domain` (another domain holds another identity, e.g. a test's), or a string saying which
 * part is missing or why they are refused.
 */
export function loadCredentials(domain = 'cred'): (TlsCredentials & { readonly thing: string }) | string {
	const ca = fromPreference(domain, 'ca');
	const cert = fromPreference(domain, 'cert');
	const key = fromPreference(domain, 'key');
	const missing = [ca ? '' : 'ca', cert ? '' : 'cert', key ? '' : 'key'].filter((x) => x);
	if (missing.length) return 'no device credentials (' + missing.join(', ') + ') in Preference "' + domain + '": provision this device (tools/provision, npm run flash)';
	// refuse to start with a key that is not the certificate's (the broker would refuse every handshake)
	const identity = checkIdentity(cert!, key!);
	if (!identity.ok) return 'device credentials: ' + identity.error.code + ': ' + identity.error.reason;
	return { ca: ca!, certificates: [cert!], key: key!, thing: identity.value.thing };
}
