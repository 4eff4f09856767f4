/*
 * Socket port over Moddable's `securesocket` (TLS 1.2 client, modules/crypt/ssl).
 *
 * securesocket callback messages: 1 connected (handshake done), 2 readable (value =
 * plaintext bytes available), 3 writable (value = bytes that fit now), negative =
 * the socket is gone (-1 disconnected, -2 error: a TLS alert, a failed certificate
 * check or a reset all arrive as -2; the SDK keeps the exception to itself).
 *
 * Writes: securesocket.write() throws "can't write all data" when one call needs
 * more than the plain socket's free transmit space minus 128 bytes of estimated TLS
 * overhead (on lin the transmit buffer is 1024 bytes, so about 896 per call), and
 * each call becomes one TLS record. So bytes are queued, and written in chunks of
 * at most what `write()` (no arguments) says fits, capped at MAX_RECORD; the rest
 * goes out on the next `writable` message. Order is kept.
 *
 * A write leaves on a turn of its own (issue #20): it is copied into the queue (the caller may
 * reuse its buffer once write returns, ports.ts) and flushed from a 0 ms timer, one per burst.
 * So TLS's record code never runs on top of the caller's stack: the link answers a message
 * from inside securesocket's readable callback, and its publish used to encrypt and write
 * there too, TLS read and TLS write on one XS stack, past the ESP32's stock 512 slots.
 *
 * Close: what is queued and fits is written first, `closed` is reported at once, the native
 * close runs on the next turn (see finish()).
 *
 * Session resumption (issue #25): the SDK's TLS client keeps one session (ssl/cache), keyed by
 * server name only, and resumes it on the next connect to that name; a resumed session carries
 * the client certificate it was made with. After a renewal (core/renew) the robot would go on
 * showing the broker its old certificate (seen on the lin runtime: the connect after the switch
 * resumed and the broker's connect event named the old certificate). So the cached session is
 * dropped when the client certificate differs from the one of the last connect: the first
 * connect with a new certificate makes a full handshake, later ones resume with it.
 */
/// <reference path="./tls-modules.d.ts" />
import SecureSocket from 'securesocket';
import sessionCache from 'ssl/cache';
import Timer from 'timer';
import type { Socket, SocketEvents, SocketOptions, SocketPort } from '../../ports';

/** Largest plaintext per TLS record we write: bounds the record buffers, well under 16 KB. */
const MAX_RECORD = 2048;

/** The client certificate of the last TLS connect: the one the SDK's cached session (if any) carries. */
let lastClientCertificate: Uint8Array | undefined;

/** Drops the SDK's cached session when `leaf` is not the certificate it was made with. */
function forgetSessionOfOtherCertificate(leaf: Uint8Array | undefined): void {
	const last = lastClientCertificate;
	lastClientCertificate = leaf;
	if (!last || !leaf) return;
	if (last.length === leaf.length && last.every((b, i) => b === leaf[i])) return;
	sessionCache.deleteSessionID();
}

interface SecureSocketLike {
	callback: (message: number, value?: number) => void;
	read(type: typeof ArrayBuffer): ArrayBuffer;
	/** With no argument: how many bytes one call may write now. */
	write(): number;
	write(...data: (ArrayBuffer | Uint8Array)[]): void;
	close(): void;
}

function buf(bytes: Uint8Array): ArrayBuffer {
	// a copy with exactly these bytes: securesocket keeps ArrayBuffers, not views
	return bytes.slice().buffer as ArrayBuffer;
}

export function createSocketPort(): SocketPort {
	return {
		open(options: SocketOptions, events: SocketEvents): Socket {
			let sock: SecureSocketLike | undefined;
			let connected = false;
			let done = false;
			const queue: Uint8Array[] = [];
			let flushTimer: unknown;

			const finish = (error?: string) => {
				if (done) return;
				// our own close: what fits goes out before it (the link's DISCONNECT on a stop)
				if (error === undefined) flush();
				done = true;
				queue.length = 0;
				const s = sock;
				sock = undefined;
				// Closed on the next turn, never inside a socket callback: closing the lin socket from
				// its own readable callback (the link drops the connection on a bad frame it just read)
				// frees it under the native caller, and mcsim dies with SIGSEGV.
				if (s)
					Timer.set(() => {
						try {
							s.close();
						} catch {
							// already closed by securesocket itself
						}
					}, 0);
				events.closed(error);
			};

			/** Writes what fits of `bytes` now, in records of at most MAX_RECORD; returns the rest. */
			const writeNow = (bytes: Uint8Array): Uint8Array => {
				while (!done && connected && sock && bytes.length) {
					const room = Math.min(sock.write(), MAX_RECORD);
					if (room <= 0) break; // the rest goes on the next `writable`
					sock.write(bytes.length <= room ? bytes : bytes.subarray(0, room));
					bytes = bytes.subarray(Math.min(room, bytes.length));
				}
				return bytes;
			};

			const flush = () => {
				while (queue.length) {
					const rest = writeNow(queue[0]!);
					if (rest.length) {
						queue[0] = rest;
						return;
					}
					queue.shift();
				}
			};

			/** Flushes the queue on the next turn, from the main loop's short stack. */
			const flushLater = () => {
				flushTimer ??= Timer.set(() => {
					flushTimer = undefined;
					try {
						flush();
					} catch (e) {
						// from a timer nothing would catch it and XS aborts: the peer is gone before securesocket said so
						finish('socket write: ' + String((e as Error)?.message ?? e));
					}
				}, 0);
			};

			const t = options.tls;
			const dict: Record<string, unknown> = { host: options.host, port: options.port };
			if (t) {
				forgetSessionOfOtherCertificate(t.certificates[0]);
				const secure: Record<string, unknown> = {
					protocolVersion: 0x0303,
					serverName: t.serverName ?? options.host,
					certificate: buf(t.ca),
					clientCertificates: t.certificates.map(buf),
					clientKey: buf(t.key),
				};
				if (t.alpn) secure.protocolList = [...t.alpn];
				dict.secure = secure;
			}
			try {
				// without TLS material there is no securesocket: the device always speaks TLS
				if (!t) throw new Error('plain TCP is not offered on the device (SocketOptions.tls is required)');
				const s = new SecureSocket(dict) as unknown as SecureSocketLike;
				sock = s;
				s.callback = (message: number, value?: number) => {
					if (done || sock !== s) return;
					try {
						if (message === 1) {
							connected = true;
							events.connected();
							flushLater();
						} else if (message === 2) {
							const bytes = s.read(ArrayBuffer);
							if (bytes && bytes.byteLength) events.data(new Uint8Array(bytes));
						} else if (message === 3) {
							flush();
						} else if (message < 0) {
							finish((connected ? 'connection lost' : 'connect or TLS handshake failed') + ' (securesocket ' + message + (message === -1 ? ' disconnected)' : ' error)'));
						}
					} catch (e) {
						// a throw out of this callback would be swallowed by securesocket as a generic -2
						finish('socket callback: ' + String((e as Error)?.message ?? e));
					}
				};
			} catch (e) {
				// the constructor parses the key and certificates: report through `closed`, never as a throw
				const why = 'securesocket: ' + String((e as Error)?.message ?? e);
				Timer.set(() => finish(why), 0);
			}
			return {
				write(bytes: Uint8Array) {
					if (done || bytes.length === 0) return;
					queue.push(bytes.slice());
					flushLater();
				},
				close() {
					finish();
				},
			};
		},
	};
}
