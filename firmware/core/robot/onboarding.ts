/*
 * Where a robot connects is data, like its credentials (issue #19): written by provisioning
 * (tools/provision: the NVS partition on ESP32, the Preference file on lin), changed later by
 * the owner's setup or a test-control command, never named in the image. This is the one
 * record format, read by the firmware and written by the tools:
 *
 *   Preference domain "net" (an NVS namespace on ESP32: names of at most 15 characters), strings:
 *     endpoint  "host" or "host:port" (port 8883 when absent): the AWS IoT data endpoint,
 *               e.g. "abc123-ats.iot.eu-west-1.amazonaws.com"
 *     server    the TLS server name when it is not the host (a local broker behind 127.0.0.1)
 *     ssid      the Wi-Fi network (ESP32); 1-32 bytes
 *     psk       its passphrase, 8-63 characters (absent: an open network)
 *     register  the registration API, https://.../register: a robot with it registers on first boot
 */
import { err, ok, type Result } from '../util/result';
import { pattern } from '../util/pattern';

export const NET_DOMAIN = 'net';
export const NET_KEYS = Object.freeze({ endpoint: 'endpoint', server: 'server', ssid: 'ssid', psk: 'psk', register: 'register' } as const);
export const DEFAULT_MQTT_PORT = 8883;

export interface Endpoint {
	readonly host: string;
	readonly port: number;
	/** TLS server name when it differs from `host`. */
	readonly serverName?: string;
}

export interface Wifi {
	readonly ssid: string;
	/** Absent: an open network. */
	readonly password?: string;
}

const HOST = pattern(() => /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/);

/** An endpoint record ("host" or "host:port", with the server name if any), or why it is refused. */
export function parseEndpoint(record: string, server?: string): Result<Endpoint, string> {
	const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(record);
	if (!m || !HOST.test(m[1]!)) return err(`endpoint expected "host" or "host:port", got ${JSON.stringify(record)}`);
	const port = m[2] === undefined ? DEFAULT_MQTT_PORT : Number(m[2]);
	if (!(port >= 1 && port <= 65535)) return err(`endpoint port expected 1-65535, got ${m[2]}`);
	if (server !== undefined && !HOST.test(server)) return err(`server expected a host name, got ${JSON.stringify(server)}`);
	return ok(server === undefined || server === m[1] ? { host: m[1]!, port } : { host: m[1]!, port, serverName: server });
}

/** The record form of an endpoint (what parseEndpoint reads back). */
export function formatEndpoint(e: Endpoint): string {
	return e.port === DEFAULT_MQTT_PORT ? e.host : e.host + ':' + e.port;
}

/** Wi-Fi credentials as IEEE 802.11 / WPA2 take them, or why not. */
export function checkWifi(ssid: string, password: string | undefined): Result<Wifi, string> {
	const n = utf8Length(ssid);
	if (n < 1 || n > 32) return err(`ssid expected 1-32 bytes, got ${n}`);
	if (password === undefined || password === '') return ok({ ssid });
	if (password.length < 8 || password.length > 63 || !/^[\x20-\x7e]+$/.test(password)) return err('psk expected 8-63 printable ASCII characters (a WPA2 passphrase)');
	return ok({ ssid, password });
}

/** A registration URL the robot may POST to, or why not. */
export function checkRegistrationUrl(url: string): Result<string, string> {
	return /^https:\/\/[^/\s]+\/\S*$/.test(url) ? ok(url) : err(`register expected an https:// URL, got ${JSON.stringify(url)}`);
}

function utf8Length(s: string): number {
	let n = 0;
	for (let i = 0; i < s.length; i++) {
		const c = s.charCodeAt(i);
		n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xdc00 ? (i++, 4) : 3;
	}
	return n;
}
