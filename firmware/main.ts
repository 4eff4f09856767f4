/*
 * Device entry (production build, manifest.json at the repo root): wires the Moddable
 * platform into the core's Link and keeps it connected. Module names in the manifest
 * mirror repository paths ("firmware/main", "firmware/core/link/link", ...), so the
 * relative imports below resolve the same way for tsc and for XS.
 *
 * Endpoint and thing name come from mc/config (manifest "config.mqtt"); credentials
 * from Preference (written by factory provisioning), see platform/moddable/platform.ts.
 */
import config from 'mc/config';
import { Link } from './core/link/link';
import { createModdablePorts, loadCredentials } from './platform/moddable/platform';

const ports = createModdablePorts();
const mqtt = (config.mqtt ?? {}) as { host?: string; port?: number | string; serverName?: string; thing?: string };
const credentials = loadCredentials();

if (typeof credentials === 'string') {
	ports.log.log('error', 'main.no_credentials', { message: credentials });
} else if (!mqtt.host || !mqtt.thing) {
	ports.log.log('error', 'main.no_endpoint', { message: 'config.mqtt.host and config.mqtt.thing are required' });
} else {
	const link = new Link(ports, {
		clientId: mqtt.thing,
		endpoint: {
			host: mqtt.host,
			port: Number(mqtt.port ?? 8883),
			tls: { ...credentials, ...(mqtt.serverName ? { serverName: mqtt.serverName } : {}) },
		},
	});
	link.start();
}
