/*
 * The interfaces the core needs from a platform. The core imports nothing else
 * from outside firmware/core: a platform (Moddable on the device, Node for the
 * simulator and tests) hands these in, and tests hand in fakes.
 *
 * Bytes are Uint8Array everywhere. Every callback-style port reports failure
 * as a value (an `error` string or a typed result), never as a rejected promise:
 * an unhandled rejection aborts the XS VM.
 */

/** TLS material in the device's formats: DER certificates and an unencrypted PKCS#8 DER RSA key. */
export interface TlsCredentials {
	/** Trust anchor for the server chain (DER X.509). The client trusts nothing else. */
	readonly ca: Uint8Array;
	/** Client certificate chain, leaf first (DER X.509). */
	readonly certificates: readonly Uint8Array[];
	/** Client private key, unencrypted PKCS#8 PrivateKeyInfo (DER, RSA). */
	readonly key: Uint8Array;
}

export interface SocketOptions {
	readonly host: string;
	readonly port: number;
	/** Present for TLS (always, on the device). TLS 1.2: the device's stack speaks nothing newer. */
	readonly tls?: TlsCredentials & {
		/** SNI and the name checked against the server certificate; defaults to host. */
		readonly serverName?: string;
		/** ALPN protocols, e.g. ["x-amzn-mqtt-ca"] for MQTT on port 443 of AWS IoT. */
		readonly alpn?: readonly string[];
	};
}

/** Events of one socket. Exactly one `closed` ends its life; nothing follows it. */
export interface SocketEvents {
	/** TCP connected and, for TLS, the handshake done: bytes may be written. */
	connected(): void;
	/** Bytes arrived. The array is only valid during the call: copy what you keep. */
	data(bytes: Uint8Array): void;
	/** The socket is gone. `error` says why when it was not closed by our own `close()`. */
	closed(error?: string): void;
}

export interface Socket {
	/** Queues bytes in order. Writing to a closed socket is a no-op (its `closed` already ran or will). */
	write(bytes: Uint8Array): void;
	/** Closes; `closed` is called once, without an error. */
	close(): void;
}

export interface SocketPort {
	/** Starts connecting; every outcome arrives through `events`, never as a throw. */
	open(options: SocketOptions, events: SocketEvents): Socket;
}

export interface ClockPort {
	/** Wall-clock time in ms since the epoch, or undefined while it is not known (no RTC, no SNTP yet). */
	now(): number | undefined;
	/** Milliseconds from an arbitrary origin; never goes backwards. Used for all timeouts. */
	monotonic(): number;
}

export type TimerHandle = { readonly __timer: unique symbol };

export interface TimerPort {
	set(callback: () => void, ms: number): TimerHandle;
	clear(handle: TimerHandle): void;
}

/**
 * Small durable key-value storage (Preference on the device, files on the host).
 * Keys are 1-15 characters of [a-z0-9._-] because ESP32 NVS allows 15; values are bytes.
 * Writes are durable when `write` returns: the outbox depends on it.
 */
export interface StoragePort {
	read(key: string): Uint8Array | undefined;
	write(key: string, value: Uint8Array): void;
	remove(key: string): void;
	/** All keys present, in no particular order. */
	keys(): string[];
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/** Structured log: an event name and flat fields, one line per call on every platform. */
export interface LogPort {
	log(level: LogLevel, event: string, fields?: LogFields): void;
}

export interface RandomPort {
	/** Uniform in [0, 1). Not for keys: only for jitter and ids. */
	random(): number;
}
