/*
 * Network start on ESP32, in place of the SDK's setup/network (build/devices/esp32/setup/
 * network.js), which runs before main, waits for an address without a time-out and never
 * reconnects. manifest.json's esp32 section leaves that module out of the image ("~"; checked by
 * tools/check-esp32.ts) and config.ssid stays empty besides; the network is joined here, from the onboarding record (Preference
 * "net": ssid, psk; core/robot/onboarding.ts), without blocking main:
 *
 *   no record: logged once, read again every RECORD_RETRY_MS (the owner's setup may write it);
 *   gotIP: up (the robot starts its link); lostIP or disconnect: down (the link stops), and
 *   the station connects again after a full-jitter backoff (1 s doubling to 60 s), forever.
 *
 * Unbuilt here (no ESP-IDF on this machine): written from the SDK's modules/network/wifi
 * sources (messages gotIP, lostIP, connect, disconnect; WiFi.connect(dictionary) again to retry).
 */
import Timer from 'timer';
import WiFi from 'wifi';
import { backoffDelay } from '../../../core/link/backoff';
import { readWifi } from '../onboarding';
import type { NetworkHandle, NetworkOptions } from './network';

export type { NetworkHandle, NetworkOptions } from './network';

const RECORD_RETRY_MS = 30_000;
const BACKOFF = Object.freeze({ baseMs: 1_000, capMs: 60_000 });

export function startNetwork(o: NetworkOptions): NetworkHandle {
	let up = false;
	let wifi: WiFi | undefined;
	let timer: Timer | undefined;
	let failures = 0;
	let said = '';
	const later = (f: () => void, ms: number) => {
		if (timer) Timer.clear(timer);
		timer = Timer.set(() => {
			timer = undefined;
			f();
		}, ms);
	};
	const down = (why: string) => {
		if (up) {
			up = false;
			o.onChange(false);
		}
		const ms = backoffDelay(BACKOFF, ++failures, Math.random());
		o.log.log('warn', 'network.down', { why, retryMs: ms });
		later(join, ms);
	};
	const join = () => {
		const w = readWifi();
		if (!w.ok) {
			if (said !== w.reason) o.log.log('error', 'network.no_wifi', { message: w.reason });
			said = w.reason;
			return later(join, RECORD_RETRY_MS);
		}
		const dictionary = w.value.password === undefined ? { ssid: w.value.ssid } : { ssid: w.value.ssid, password: w.value.password };
		o.log.log('info', 'network.joining', { ssid: w.value.ssid });
		if (wifi) return WiFi.connect(dictionary);
		WiFi.mode = WiFi.Mode.station;
		wifi = new WiFi(dictionary, (message) => {
			if (message === WiFi.gotIP) {
				failures = 0;
				if (timer) Timer.clear(timer);
				timer = undefined;
				if (!up) {
					up = true;
					o.log.log('info', 'network.up', { via: 'wifi' });
					o.onChange(true);
				}
			} else if (message === WiFi.lostIP || message === WiFi.disconnected) down(message);
		});
	};
	// never from inside main's own start-up
	later(join, 0);
	return {
		get up() {
			return up;
		},
		stop() {
			if (timer) Timer.clear(timer);
			wifi?.close();
			WiFi.disconnect();
		},
	};
}
