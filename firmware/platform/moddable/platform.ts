/*
 * The Moddable platform in one place: the ports the core needs, the device's TLS
 * credentials, and the SNTP clock setter.
 *
 * Credentials are never in source. On a device the factory provisioning step writes
 * them to Preference (NVS) domain "cred", keys "ca", "cert", "key" (DER; "key" is an
 * unencrypted PKCS#8 RSA key). A build may instead carry them as resources named
 * `<prefix>ca.der`, `<prefix>cert.der`, `<prefix>key.der` (the lin test build generates
 * them into its build directory at test time); Preference wins when both exist.
 */
import Preference from 'preference';
import Resource from 'Resource';
import { checkIdentity } from '../../core/identity/identity';
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
}

export function createModdablePorts(o: PlatformOptions = {}) {
	return {
		socket: createSocketPort(),
		timers: moddableTimers,
		clock: moddableClock,
		random: moddableRandom,
		storage: createPreferenceStorage(o.domain ?? 'robot'),
		log: traceLog(o.logLevel ?? 'info'),
	};
}

function fromPreference(key: string): Uint8Array | undefined {
	const v = Preference.get('cred', key);
	return v instanceof ArrayBuffer ? new Uint8Array(v) : undefined;
}

function fromResource(name: string): Uint8Array | undefined {
	if (!Resource.exists(name)) return undefined;
	// a Resource is a read-only host buffer in flash: copy into RAM only what TLS keeps
	return new Uint8Array(new Resource(name).slice(0));
}

/** The device's TLS credentials and its thing name (the certificate's CN), or a string saying which part is missing or why they are refused. */
export function loadCredentials(resourcePrefix = ''): (TlsCredentials & { readonly thing: string }) | string {
	const ca = fromPreference('ca') ?? fromResource(resourcePrefix + 'ca.der');
	const cert = fromPreference('cert') ?? fromResource(resourcePrefix + 'cert.der');
	const key = fromPreference('key') ?? fromResource(resourcePrefix + 'key.der');
	const missing = [ca ? '' : 'ca', cert ? '' : 'cert', key ? '' : 'key'].filter((x) => x);
	if (missing.length) return 'no device credentials (' + missing.join(', ') + ') in Preference "cred" or resources "' + resourcePrefix + '*.der"';
	// refuse to start with a key that is not the certificate's (the broker would refuse every handshake)
	const identity = checkIdentity(cert!, key!);
	if (!identity.ok) return 'device credentials: ' + identity.error.code + ': ' + identity.error.reason;
	return { ca: ca!, certificates: [cert!], key: key!, thing: identity.value.thing };
}
