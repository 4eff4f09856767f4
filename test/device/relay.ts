// A TLS relay between the device and the broker, for the malformed-frame scenario: it
// terminates the device's mutual TLS with the broker's own certificate, opens its own
// mutual-TLS connection to the broker as the same thing, and forwards bytes both ways.
// `inject` writes raw bytes to the device inside the TLS stream, which a broker cannot be
// made to do, and stops forwarding on that connection.
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';

export interface RelayOptions {
	port: number;
	host: string;
	upstream: { host: string; port: number };
	/** PEM: CA that signs device certificates (and the broker's), server cert and key, device cert and key. */
	ca: string;
	serverCert: string;
	serverKey: string;
	deviceCert: string;
	deviceKey: string;
}

export interface Relay {
	readonly port: number;
	/** Writes bytes to the newest device connection; false when none is open. */
	inject(bytes: Uint8Array): boolean;
	close(): Promise<void>;
}

export async function startRelay(o: RelayOptions): Promise<Relay> {
	const sockets = new Set<Socket>();
	let newest: { device: tls.TLSSocket; injected: boolean } | undefined;
	const server = tls.createServer({ ca: o.ca, cert: o.serverCert, key: o.serverKey, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (device) => {
		const conn = { device, injected: false };
		newest = conn;
		const up = tls.connect({ host: o.upstream.host, port: o.upstream.port, ca: o.ca, cert: o.deviceCert, key: o.deviceKey, servername: 'localhost' });
		sockets.add(up);
		up.on('data', (b: Buffer) => {
			if (!conn.injected) device.write(b);
		});
		device.on('data', (b: Buffer) => up.write(b));
		const end = () => {
			up.destroy();
			device.destroy();
		};
		up.on('error', end);
		up.on('close', end);
		device.on('error', end);
		device.on('close', end);
	});
	server.on('connection', (s: Socket) => {
		sockets.add(s);
		s.once('close', () => sockets.delete(s));
	});
	server.on('tlsClientError', () => {});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(o.port, o.host, () => resolve());
	});
	return {
		port: (server.address() as AddressInfo).port,
		inject(bytes) {
			if (!newest || newest.device.destroyed) return false;
			newest.injected = true;
			newest.device.write(bytes);
			return true;
		},
		close() {
			for (const s of sockets) s.destroy();
			return new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}
