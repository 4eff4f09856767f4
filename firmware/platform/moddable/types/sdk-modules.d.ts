/*
 * The Moddable SDK modules the device build imports, declared by the project so that
 * `npm run typecheck` checks firmware/main.ts and every file under firmware/platform/moddable
 * (lin and esp32 files) on a machine without the SDK (tsconfig.device.json). Only what we call,
 * written from the SDK's sources (8.2.3, paths under $MODDABLE) and its typings. Narrower than
 * the SDK's typings where those say `any`: code that passes here and against the SDK's own
 * typings (tools/typecheck-sdk.ts, where MODDABLE is set) is right for both.
 *
 * Modules the SDK's typings leave out entirely (hmac, modular, mont, pkcs1_5, pkcs8, ecdsa,
 * x509, ota, and crypt's ciphers) are declared next to the code that uses them
 * (../moddable-crypto.d.ts, ../firmware-modules.d.ts), since mcconfig's build needs them too.
 * These here are not seen by mcconfig's build (it maps the names to $MODDABLE/typings).
 */

declare module 'mc/config' {
	/** The manifest's "config" object plus mcconfig name=value arguments (build/tmp/mc.config.js); `file.root` on lin and esp32. */
	const config: { readonly file?: { readonly root?: string } } & Readonly<Record<string, unknown>>;
	export default config;
}

declare module 'timer' {
	/** modules/base/timer/timer.js, modTimer.c: callbacks run on the main loop, never inside the caller. */
	export default class Timer {
		private constructor();
		private brand: boolean;
		/** One-shot after `delay` ms (0: next turn); with `repeat`, then every `repeat` ms. */
		static set(callback: (timer: Timer) => void, delay?: number, repeat?: number): Timer;
		static repeat(callback: (timer: Timer) => void, interval: number): Timer;
		/** Clearing a timer that already fired or was cleared is allowed (modTimer.c). */
		static clear(timer: Timer | undefined): void;
	}
}

declare module 'time' {
	/** modules/base/time/time.js */
	const Time: {
		/** Sets the wall clock, seconds since the epoch (a no-op on lin: Date.now() is the host's). */
		set(seconds: number): void;
		/** Milliseconds since an arbitrary origin; may be 32 bits and wrap (ESP32). */
		readonly ticks: number;
	};
	export default Time;
}

declare module 'preference' {
	/**
	 * modules/files/preference: esp32/modPreference.c (NVS: domain and key at most 15
	 * characters, `set` erases the old value and then throws "nvs set fail" when the new one
	 * does not fit; "nvs_open fail" on a bad domain), lin/preference.js (a JSON file, never throws).
	 */
	const Preference: {
		set(domain: string, key: string, value: string | boolean | number | ArrayBuffer): void;
		get(domain: string, key: string): string | boolean | number | ArrayBuffer | undefined;
		delete(domain: string, key: string): void;
		keys(domain: string): string[];
	};
	export default Preference;
}

declare module 'securesocket' {
	/**
	 * modules/crypt/securesocket/securesocket.js and modsecuresocket.c. The socket reports
	 * through `callback` (set after construction): 1 handshake done, 2 readable (value: plain
	 * bytes, at most 1024 per message; read them inside the callback), 3 writable (value: free
	 * room minus 128), negative: gone (-1 disconnected, -2 error), after which it closes itself.
	 */
	export default class SecureSocket {
		/** `dict`: host, port and `secure` (the TLS session's options); throws when the key or certificates do not parse. */
		constructor(dict: Record<string, unknown>);
		callback: (message: number, value?: number) => void;
		/** The current readable message's bytes (all of them, or up to `until`); undefined when none are left. */
		read(type: typeof ArrayBuffer, until?: number): ArrayBuffer | undefined;
		/** No argument: bytes one call may write now. With data: one TLS record; throws "can't write all data" when it does not fit. */
		write(): number;
		write(...data: (ArrayBuffer | ArrayBufferView | string)[]): void;
		close(): void;
	}
}

declare module 'sntp' {
	/**
	 * modules/network/sntp/sntp.js: resolves `host`, asks UDP port 123 every 5 s, 5 times, then
	 * reports `error`; the callback may return the next host to try. Closes itself after `time`.
	 */
	export default class SNTP {
		static readonly time: 1;
		static readonly retry: 2;
		static readonly error: -1;
		constructor(options: { host: string }, callback: (message: number, value?: number | string) => string | undefined | void);
		close(): void;
	}
}

declare module 'http' {
	/**
	 * modules/network/http/http.js, the client. Messages to `callback` (the values http.js
	 * uses; the SDK's 8.2.3 typings say -1 for error and 3 for responseFragment):
	 * 0 requestFragment (value: room; return the next body piece, undefined ends the body),
	 * 1 status, 2 header (name, value), 3 headersComplete, 4 responseFragment (value: bytes
	 * available; read them), 5 responseComplete, -2 error (also a close before the end).
	 */
	export class Request {
		constructor(options: {
			host?: string;
			address?: string;
			port?: number;
			path?: string;
			method?: string;
			/** Alternating names and values. */
			headers?: (string | number)[];
			/** true: the body is pulled with requestFragment messages. */
			body?: boolean | string | ArrayBuffer;
			response?: typeof String | typeof ArrayBuffer;
			/** SecureSocket for https, with `secure` as its TLS options. */
			Socket?: unknown;
			secure?: Record<string, unknown>;
		});
		callback: (message: number, value?: unknown, etc?: unknown) => unknown;
		read(type: typeof ArrayBuffer, until?: number): ArrayBuffer | undefined;
		close(): void;
	}
}

declare module 'file' {
	/** modules/files/file (lin: stdio under config.file.root; esp32: SPIFFS or LittleFS). */
	export class File {
		constructor(path: string, write?: boolean);
		read(type: typeof String, bytes?: number): string;
		read(type: typeof ArrayBuffer, bytes?: number): ArrayBuffer;
		write(value: ArrayBuffer | string, ...more: (ArrayBuffer | string)[]): void;
		close(): void;
		readonly length: number;
		position: number;
		static delete(path: string): boolean;
		static exists(path: string): boolean;
		/** `to` is a name in the same directory, not a path. */
		static rename(from: string, to: string): boolean;
	}
}

declare module 'flash' {
	/** modules/files/flash (esp32: a partition by name, e.g. "nextota"). */
	export default class Flash {
		constructor(partition: string);
		read(offset: number, byteLength: number): ArrayBuffer;
		readonly byteLength: number;
	}
}

declare module 'Resource' {
	/** A resource of the image (modules/files/resource/Resource.js over Resource.c): read-only host memory; a missing one is a URIError. */
	interface ResourceData {
		readonly byteLength: number;
		slice(begin: number, end?: number): ArrayBuffer;
	}
	const Resource: {
		new (path: string): ResourceData;
		exists(path: string): boolean;
	};
	export default Resource;
}

declare module 'modules' {
	/** modules/base/modules/modules.js, modules.c: a module of the image by its manifest name, loaded now (xsAwaitImport); throws when the image has none by that name. */
	export default class Modules {
		private constructor();
		static importNow(name: string, namespace: true): unknown;
		static has(name: string): boolean;
	}
}

declare module 'instrumentation' {
	/** modules/base/instrumentation/instrumentation.js, modInstrumentation.c: counters by index; `map` names one ("System Free Memory", "XS Chunk Heap Used"...), undefined for a name the build lacks. */
	export default class Instrumentation {
		private constructor();
		static get(what: number): number | undefined;
		/** Only the counter names the SDK knows (its typings take this union too, so a typo fails here, not on the board). */
		static map(
			name:
				| 'Pixels Drawn'
				| 'Frames Drawn'
				| 'Network Bytes Read'
				| 'Network Bytes Written'
				| 'Network Sockets'
				| 'Timers'
				| 'Files'
				| 'Turns'
				| 'CPU 0'
				| 'CPU 1'
				| 'System Free Memory'
				| 'XS Slot Heap Used'
				| 'XS Chunk Heap Used'
				| 'XS Keys Used'
				| 'XS Garbage Collection Count'
				| 'XS Modules Loaded'
				| 'XS Stack Used'
				| 'XS Promises Settled',
		): number | undefined;
		static name(index: number): string | undefined;
	}
}

declare module 'net' {
	/** modules/network/net/net.js: `get('RSSI')` is a number on ESP32 (esp/modNet.c), undefined where the platform has none (lin). */
	export default class Net {
		private constructor();
		static get(property: string, ...args: unknown[]): unknown;
	}
}

declare module 'crypt' {
	/** modules/crypt/digest/crypt.js (Digest; the ciphers are in ../moddable-crypto.d.ts). */
	export class Digest {
		constructor(type: 'SHA1' | 'SHA256' | 'SHA384' | 'SHA512');
		/** Reads any buffer (xsmcGetBufferReadable); the SDK's typings say ArrayBuffer or string. */
		write(data: ArrayBuffer | string): void;
		close(): ArrayBuffer;
	}
}

declare module 'embedded:io/serial' {
	/** ECMA-419 serial, modules/io/serial/esp32. */
	export default class Serial {
		constructor(options: { port: number; receive: number; transmit: number; baud: number; format?: 'number' | 'buffer'; onReadable?: (this: Serial, bytes: number) => void; onWritable?: (this: Serial, bytes: number) => void });
		read(byteLength: number): ArrayBuffer | undefined;
		write(value: ArrayBuffer | ArrayBufferView): void;
		close(): void;
	}
}

declare module 'embedded:io/socket/tcp' {
	/** ECMA-419 TCP socket, modules/io/socket/lin/tcp. */
	export default class TCP {
		constructor(options: { from: TCP; format?: 'number' | 'buffer'; onReadable?: (this: TCP, bytes: number) => void; onWritable?: (this: TCP, bytes: number) => void; onError?: (this: TCP) => void });
		read(byteLength?: number): number | ArrayBuffer;
		write(value: ArrayBuffer | ArrayBufferView): void;
		close(): void;
	}
}

declare module 'embedded:io/socket/listener' {
	/** ECMA-419 listener, modules/io/socket/lin/listener: binds every interface. */
	import type TCP from 'embedded:io/socket/tcp';
	export default class Listener {
		constructor(options: { port?: number; onReadable?: (this: Listener, requests: number) => void });
		read(): TCP | undefined;
		readonly port: number;
	}
}

/* The SDK's modules/network/wifi (wifi.js), as network-esp32.ts uses it (Moddable SDK 8.2.3); moved here from network/wifi.d.ts so that tools/typecheck-sdk.ts checks its use against the SDK's own typings. */
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
