/* The SDK's modules/network/wifi (wifi.js), as network-esp32.ts uses it (Moddable SDK 8.2.3). */
declare module 'wifi' {
	export default class WiFi {
		/** Connects with `dictionary` (when given) and calls `onNotify` with gotIP, lostIP, connect, disconnect. */
		constructor(dictionary: { ssid: string; password?: string } | undefined, onNotify: (message: string, value?: unknown) => void);
		close(): void;
		static mode: number;
		/** Connects again with `dictionary`; without one, disconnects. */
		static connect(dictionary?: { ssid: string; password?: string }): void;
		static disconnect(): void;
		static readonly Mode: { readonly none: 0; readonly station: 1; readonly accessPoint: 2 };
		static readonly gotIP: 'gotIP';
		static readonly lostIP: 'lostIP';
		static readonly connected: 'connect';
		static readonly disconnected: 'disconnect';
	}
}
