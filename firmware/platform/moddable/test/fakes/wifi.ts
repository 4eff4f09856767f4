/*
 * Fake of the SDK's `wifi` for the esp32 station (modules/network/wifi/wifi.js over esp32/
 * wifi.c), from the sources only (no ESP32 here; lin's wifi is a simulator): `new WiFi(dictionary,
 * onNotify)` connects with the dictionary when given (wifi.js build(): WiFi.connect) and reports
 * through onNotify("connect" | "gotIP" | "lostIP" | "disconnect"); the static `connect(dictionary)`
 * joins again, `connect()` without one (and `disconnect()`) leaves; `mode` is a static property;
 * close() ends the notifications. The test plays the access point with `wifiFake.notify`.
 */
type Notify = (message: string, value?: unknown) => void;

export default class WiFi {
	static readonly Mode = Object.freeze({ none: 0, station: 1, accessPoint: 2 } as const);
	static readonly gotIP = 'gotIP';
	static readonly lostIP = 'lostIP';
	static readonly connected = 'connect';
	static readonly disconnected = 'disconnect';
	static mode = 0;
	#onNotify: Notify | undefined;
	constructor(dictionary: { ssid: string; password?: string } | undefined, onNotify?: Notify) {
		if (dictionary) WiFi.connect(dictionary);
		this.#onNotify = onNotify;
		wifiFake.instances.push(this);
	}
	close(): void {
		this.#onNotify = undefined;
		wifiFake.closed++;
	}
	static connect(dictionary?: { ssid: string; password?: string }): void {
		wifiFake.connects.push(dictionary ? { ...dictionary, mode: WiFi.mode } : 'disconnect');
	}
	static disconnect(): void {
		WiFi.connect();
	}
	/** For the fake: deliver a station event to every open WiFi object. */
	notify(message: string): void {
		this.#onNotify?.(message);
	}
}

export const wifiFake = {
	instances: [] as WiFi[],
	/** Every WiFi.connect: the dictionary (with the mode at that moment) or 'disconnect'. */
	connects: [] as ({ ssid: string; password?: string; mode: number } | 'disconnect')[],
	closed: 0,
	notify(message: string): void {
		for (const w of this.instances) w.notify(message);
	},
	reset(): void {
		this.instances.length = 0;
		this.connects.length = 0;
		this.closed = 0;
		WiFi.mode = 0;
	},
};
