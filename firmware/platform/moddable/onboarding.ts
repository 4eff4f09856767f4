/*
 * The robot's onboarding records on Moddable: where it connects (endpoint), its Wi-Fi
 * network and its registration API, read from and written to Preference domain "net" in
 * the format core/robot/onboarding.ts defines (tools/provision writes the same records:
 * NVS on ESP32, the Preference file on lin). Every read says what is missing or refused,
 * so the caller can log it once and read again later.
 */
import Preference from 'preference';
import { utf8Decode } from '../../core/util/utf8';
import { NET_DOMAIN, NET_KEYS, checkRegistrationUrl, checkWifi, parseEndpoint, type Endpoint, type Wifi } from '../../core/robot/onboarding';

/** A record: its value, absent (`undefined`), or a string saying why the stored value is refused. */
export type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly missing: boolean; readonly reason: string };

/** A record's text: provisioning writes NVS blobs of UTF-8 on ESP32 and strings on lin; both read the same. */
function text(key: string): string | undefined {
	const v = Preference.get(NET_DOMAIN, key);
	const s = v instanceof ArrayBuffer ? utf8Decode(new Uint8Array(v)) : v;
	return typeof s === 'string' && s.length > 0 ? s : undefined;
}

export function readEndpoint(): Read<Endpoint> {
	const record = text(NET_KEYS.endpoint);
	if (record === undefined) return { ok: false, missing: true, reason: 'no endpoint record (Preference "net" "endpoint"): provision it (npm run provision -- network) or send the endpoint command' };
	const e = parseEndpoint(record, text(NET_KEYS.server));
	return e.ok ? e : { ok: false, missing: false, reason: e.error };
}

/** Writes the endpoint record after checking it; the parsed endpoint or why it was refused (nothing written then). */
export function writeEndpoint(record: string, server: string | undefined): Read<Endpoint> {
	const e = parseEndpoint(record, server);
	if (!e.ok) return { ok: false, missing: false, reason: e.error };
	Preference.set(NET_DOMAIN, NET_KEYS.endpoint, record);
	if (server === undefined) Preference.delete(NET_DOMAIN, NET_KEYS.server);
	else Preference.set(NET_DOMAIN, NET_KEYS.server, server);
	return e;
}

export function readWifi(): Read<Wifi> {
	const ssid = text(NET_KEYS.ssid);
	if (ssid === undefined) return { ok: false, missing: true, reason: 'no Wi-Fi network (Preference "net" "ssid"): provision it (npm run provision -- network)' };
	const w = checkWifi(ssid, text(NET_KEYS.psk));
	return w.ok ? w : { ok: false, missing: false, reason: w.error };
}

/** The registration API, when this robot is to register on first boot. */
export function readRegistrationUrl(): Read<string> {
	const url = text(NET_KEYS.register);
	if (url === undefined) return { ok: false, missing: true, reason: 'no registration URL' };
	const u = checkRegistrationUrl(url);
	return u.ok ? u : { ok: false, missing: false, reason: u.error };
}
