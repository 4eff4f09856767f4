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
	/**
	 * Queues bytes in order. The bytes are the caller's again when write returns (the link
	 * reuses one encode buffer): a port copies what it keeps. Writing to a closed socket
	 * is a no-op (its `closed` already ran or will).
	 */
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
 * What a storage write did. `full`: no room for it; `failed`: the medium refused it
 * (`message` says how). Either way the write did not happen, and the key's OLD value
 * may be gone too: the SDK's Preference.set on ESP32 erases the key before it writes
 * (modules/files/preference/esp32/modPreference.c, ERASE_KEY then nvs_set_blob), so a
 * failed overwrite loses both. A record that must survive a failed write is written
 * two-phase (core/util/record.ts).
 */
export type StorageWrite = { readonly ok: true } | { readonly ok: false; readonly error: 'full' | 'failed'; readonly message: string };

/**
 * Small durable key-value storage (Preference on the device, files on the host).
 * Keys are 1-15 characters of [a-z0-9._-] because ESP32 NVS allows 15; values are bytes.
 * Writes are durable when `write` returns ok: the outbox depends on it. A full or
 * failing medium is a result, never a throw (a bad key is a programmer error and throws).
 */
export interface StoragePort {
	read(key: string): Uint8Array | undefined;
	write(key: string, value: Uint8Array): StorageWrite;
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

// ---- crypto -----------------------------------------------------------------

/** An AES-256-GCM key ready to seal frames; one per data key. */
export interface AeadKey {
	/**
	 * Encrypts `data` into `out` (same length; may be the same array) under a 12-byte
	 * IV and additional data, and returns the 16-byte tag. One call is one GCM message.
	 */
	seal(iv: Uint8Array, aad: Uint8Array, data: Uint8Array, out: Uint8Array): Uint8Array;
	/** Wipes the key material the adapter holds. */
	dispose(): void;
}

/**
 * Primitives the core builds its formats on (OAEP, HKDF, the Encryption SDK
 * message). Moddable: the native `crypt` modules; host: node:crypto; portable:
 * @noble/*. Inputs are never modified unless stated.
 */
export interface CryptoPort {
	aes256gcm(key: Uint8Array): AeadKey;
	sha256(data: Uint8Array): Uint8Array;
	sha512(data: Uint8Array): Uint8Array;
	hmacSha512(key: Uint8Array, data: Uint8Array): Uint8Array;
	/** Cryptographically strong random bytes. */
	random(n: number): Uint8Array;
}

/**
 * The device's own RSA key, as operations only: the private key never leaves
 * the adapter (on the device it stays in the TLS stack's key store).
 */
export interface DeviceKeyPort {
	/** Modulus length in bytes (256 for RSA-2048). */
	readonly modulusBytes: number;
	/** The raw private operation m = c^d mod n on one modulus-length block; padding is the caller's. */
	rsaPrivateRaw(block: Uint8Array): Uint8Array;
	/** RSASSA-PKCS1-v1_5 with SHA-256 over `data`. */
	signSha256(data: Uint8Array): Uint8Array;
}

// ---- HTTP -------------------------------------------------------------------

export interface HttpRequest {
	readonly method: 'GET' | 'PUT' | 'POST';
	/** http:// or https:// (the device trusts only the CAs it is given). */
	readonly url: string;
	readonly headers?: Readonly<Record<string, string>>;
	/**
	 * A streamed body of exactly `length` bytes: the adapter pulls the next chunk
	 * when the socket can take it, so at most one chunk is in memory.
	 */
	readonly body?: { readonly length: number; next(): Uint8Array | undefined };
	/** Streamed response body; when absent the body (up to 64 KB) comes back whole. */
	readonly onData?: (chunk: Uint8Array) => void;
	/** Body bytes sent so far, for progress. */
	readonly onProgress?: (sent: number) => void;
	readonly timeoutMs?: number;
}

export interface HttpResponse {
	readonly status: number;
	/** Header names in lower case. */
	readonly headers: Readonly<Record<string, string>>;
	readonly body: Uint8Array;
}

export interface HttpPort {
	/** Never rejects: a network failure resolves to `{ ok: false }` with the reason. */
	request(req: HttpRequest): Promise<{ ok: true; value: HttpResponse } | { ok: false; error: string }>;
}

// ---- firmware update ----------------------------------------------------------

/** Incremental SHA-256: the image is hashed chunk by chunk, never held whole. */
export interface Sha256Stream {
	update(data: Uint8Array): void;
	/** The digest of everything given; the stream is spent afterwards. */
	digest(): Uint8Array;
}

/** What firmware verification needs beyond CryptoPort (Moddable: the native `crypt` modules). */
export interface CodeSigningPort {
	sha256(): Sha256Stream;
	/**
	 * ECDSA P-256 over a SHA-256 digest (the signer hashed the image): `signature`
	 * DER or raw r||s (64 bytes), checked against the public key of `certificate`
	 * (DER X.509, the code-signing certificate the device was built with).
	 */
	verifyP256Sha256(certificate: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean;
}

/** One firmware image as the bootloader knows it. */
export interface FirmwareInfo {
	readonly version: string;
	/** False from `activate` until `markValid`: a reboot before then rolls back. */
	readonly valid: boolean;
}

/**
 * Two firmware slots (esp_ota on the device, files in a directory on the host).
 * Writes go to the inactive slot only; everything else is the bootloader's business.
 * Failures are values (`error`), never throws.
 */
export interface FirmwareSlotPort {
	/** The image running now. */
	running(): FirmwareInfo;
	/** The image that `rollback` would return to, if there is one. */
	previous(): FirmwareInfo | undefined;
	/** Empties the inactive slot for an image of `size` bytes of `version`. */
	begin(version: string, size: number): { ok: true } | { ok: false; error: string };
	/** Bytes of the inactive slot written so far (durable), and the version they belong to. */
	written(): { readonly version: string; readonly size: number; readonly bytes: number } | undefined;
	/** Writes at `offset` (must equal `written().bytes`: writes are sequential). */
	write(offset: number, bytes: Uint8Array): { ok: true } | { ok: false; error: string };
	/** Reads back `length` bytes of the inactive slot, for verification. */
	read(offset: number, length: number): Uint8Array;
	/** Makes the inactive slot boot next, on probation (`valid: false`). */
	activate(): { ok: true } | { ok: false; error: string };
	/** Restarts the device; on the host the simulator boots the slot chosen. Does not return on a device. */
	reboot(): void;
	/** The running image passed its self-test: keep it. */
	markValid(): void;
	/** The running image failed: boot the previous one again (the caller reboots). */
	rollback(): { ok: true } | { ok: false; error: string };
}

/**
 * The platform's figures for the robot's health report (core/health). A figure the
 * platform does not have is left out, never made up.
 */
export interface HealthFigures {
	/** Heap bytes free now, and the largest block one allocation could get. */
	readonly freeHeap?: number;
	readonly largestFreeBlock?: number;
	/** Wi-Fi signal of the access point, dBm. */
	readonly rssi?: number;
	/** Persistent storage used and its size, bytes. */
	readonly storageUsed?: number;
	readonly storageTotal?: number;
}

export interface HealthPort {
	/** Why the platform last started: power-on, software, watchdog, panic, brownout, deep-sleep, or unknown. */
	readonly resetReason: string;
	read(): HealthFigures;
}
