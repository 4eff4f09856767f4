/*
 * Fake of the SDK's `net` (modules/network/net), `get` only: what the test says the platform
 * answers. On lin `Net.get("RSSI")` is undefined (seen on 8.2.3, tools/sdk-facts.ts); on ESP32 a
 * negative dBm number (esp/modNet.c: the station's AP record).
 */
const props = new Map<string, unknown>();

export const netFake = {
	set(prop: string, v: unknown): void {
		props.set(prop, v);
	},
	reset(): void {
		props.clear();
	},
};

export default class Net {
	static get(prop: string): unknown {
		return props.get(prop);
	}
}
