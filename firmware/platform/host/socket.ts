/*
 * Socket port over node:tls (or node:net without TLS material). Pinned to TLS 1.2
 * so the simulator negotiates what the device's stack can: Moddable's client
 * speaks 1.2 at most. Keeps the last TLS session per endpoint and offers it on
 * the next connect, as the device's stack does with its session-id cache.
 */
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import type { Socket, SocketEvents, SocketOptions, SocketPort } from '../../ports';

/** How long a closed socket may take to send what was written before it, before it is cut. */
const END_GRACE_MS = 2000;

function pemCert(der: Uint8Array): string {
	return new X509Certificate(der).toString();
}

export function createSocketPort(): SocketPort {
	const sessions = new Map<string, Buffer>();
	return {
		open(options: SocketOptions, events: SocketEvents): Socket {
			let closedByUs = false;
			let done = false;
			/** Connected (TLS: handshake done) and not yet closed. */
			let open = false;
			const finish = (error?: string) => {
				if (done) return;
				done = true;
				events.closed(closedByUs ? undefined : error);
			};
			let s: net.Socket;
			const t = options.tls;
			// a session belongs to the identity it was made with: resuming it under a renewed
			// certificate would skip client authentication and the broker would still see the old one
			const sessionKey =
				options.host +
				':' +
				options.port +
				(t
					? ':' +
						createHash('sha256')
							.update(t.certificates[0] ?? new Uint8Array(0))
							.digest('hex')
					: '');
			if (t) {
				const ts = tls.connect({
					host: options.host,
					port: options.port,
					servername: t.serverName ?? options.host,
					minVersion: 'TLSv1.2',
					maxVersion: 'TLSv1.2',
					ca: pemCert(t.ca),
					cert: t.certificates.map(pemCert).join(''),
					key: createPrivateKey({ key: Buffer.from(t.key), format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }),
					...(t.alpn ? { ALPNProtocols: [...t.alpn] } : {}),
					...(sessions.has(sessionKey) ? { session: sessions.get(sessionKey)! } : {}),
				});
				ts.on('session', (session: Buffer) => sessions.set(sessionKey, session));
				ts.once('secureConnect', () => {
					open = true;
					if (!done) events.connected();
				});
				s = ts;
			} else {
				s = net.connect({ host: options.host, port: options.port });
				s.once('connect', () => {
					open = true;
					if (!done) events.connected();
				});
			}
			s.setNoDelay(true);
			s.on('data', (b: Buffer) => {
				if (!done) events.data(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
			});
			s.on('error', (e: Error) => finish(e.message));
			s.on('close', () => finish('connection closed'));
			return {
				write(bytes: Uint8Array) {
					// Node keeps the array until it is flushed; the caller may reuse it once write returns (ports.ts)
					if (!done && !s.destroyed) s.write(Buffer.from(bytes));
				},
				close() {
					closedByUs = true;
					// what was written goes out first (the link's DISCONNECT right before a stop), then
					// TLS close_notify and FIN; a peer that does not read is cut after END_GRACE_MS.
					// Before the handshake is done there is nothing to send: cut at once.
					if (open && !s.destroyed) {
						const cut = setTimeout(() => s.destroy(), END_GRACE_MS);
						cut.unref();
						s.once('close', () => clearTimeout(cut));
						s.end();
					} else s.destroy();
					finish();
				},
			};
		},
	};
}
