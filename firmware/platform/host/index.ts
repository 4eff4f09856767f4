/* The host platform assembled: what the simulator and the tests hand to the core. */
import fs from 'node:fs';
import path from 'node:path';
import type { LogPort, StoragePort, TlsCredentials } from '../../ports';
import type { LinkPorts } from '../../core/link/link';
import { checkIdentity } from '../../core/identity/identity';
import { createSocketPort } from './socket';
import { hostClock, hostRandom, hostTimers, jsonLog } from './system';

export { createFileStorage, createMemoryStorage } from './storage';
export { hostClock, hostRandom, hostTimers, jsonLog, memoryLog } from './system';

export function hostPorts(storage: StoragePort, log: LogPort = jsonLog((l) => process.stdout.write(l + '\n'))): LinkPorts {
	return { socket: createSocketPort(), timers: hostTimers, clock: hostClock, random: hostRandom, storage, log };
}

/**
 * Reads a device credentials directory as provisioning writes it: `ca.der`,
 * `cert.der` (leaf), `key.der` (unencrypted PKCS#8, RSA). Throws, so the robot does not
 * start, when the certificate does not parse or the key is not the certificate's.
 */
export function readCredentials(dir: string): TlsCredentials {
	const read = (name: string) => {
		const file = path.join(dir, name);
		if (!fs.existsSync(file)) throw new Error('credentials: ' + file + ' is missing');
		return new Uint8Array(fs.readFileSync(file));
	};
	const credentials = { ca: read('ca.der'), certificates: [read('cert.der')], key: read('key.der') };
	const identity = checkIdentity(credentials.certificates[0]!, credentials.key);
	if (!identity.ok) throw new Error('credentials: ' + dir + ': ' + identity.error.code + ': ' + identity.error.reason);
	return credentials;
}
