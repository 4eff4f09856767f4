/*
 * A TCP proxy under a test's control, between a client and a broker: cuts the
 * link (drops live connections and refuses new ones), adds latency, and counts
 * round trips. A round trip is one flight of client data: consecutive reads in the
 * same direction merge, so a TLS handshake plus a pipelined CONNECT counts 3.
 */
import net from 'node:net';

export interface ProxyStats {
	/** Client-to-server flights per connection, in accept order. */
	readonly flights: number[];
	/** When each of those flights began (Date.now() at its first byte), per connection. */
	readonly flightTimes: number[][];
	readonly bytesUp: number[];
	readonly bytesDown: number[];
	connections: number;
}

export interface Proxy {
	readonly port: number;
	readonly stats: ProxyStats;
	/** Drops every live connection; new ones are refused until `restore`. */
	cut(): void;
	restore(): void;
	/** One-way delay added to every chunk in both directions. */
	latency(ms: number): void;
	close(): Promise<void>;
}

/** `host` is where it listens: loopback, or a LAN address when a real board connects through it. */
export async function startProxy(target: { host: string; port: number }, port = 0, host = '127.0.0.1'): Promise<Proxy> {
	const live = new Set<net.Socket>();
	let refusing = false;
	let delay = 0;
	const stats: ProxyStats = { flights: [], flightTimes: [], bytesUp: [], bytesDown: [], connections: 0 };
	const later = (fn: () => void) => (delay > 0 ? setTimeout(fn, delay) : fn());

	const server = net.createServer((client) => {
		if (refusing) {
			client.destroy();
			return;
		}
		const index = stats.connections++;
		stats.flights[index] = 0;
		stats.flightTimes[index] = [];
		stats.bytesUp[index] = 0;
		stats.bytesDown[index] = 0;
		let last: 'up' | 'down' | undefined;
		const upstream = net.connect(target.port, target.host);
		live.add(client);
		live.add(upstream);
		client.setNoDelay(true);
		upstream.setNoDelay(true);
		const end = () => {
			client.destroy();
			upstream.destroy();
			live.delete(client);
			live.delete(upstream);
		};
		client.on('data', (b) => {
			if (last !== 'up') {
				stats.flights[index]!++;
				stats.flightTimes[index]!.push(Date.now());
			}
			last = 'up';
			stats.bytesUp[index]! += b.length;
			later(() => upstream.destroyed || upstream.write(b));
		});
		upstream.on('data', (b) => {
			last = 'down';
			stats.bytesDown[index]! += b.length;
			later(() => client.destroyed || client.write(b));
		});
		client.on('error', end);
		upstream.on('error', end);
		client.on('close', () => later(end));
		upstream.on('close', () => later(end));
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, host, () => resolve());
	});
	return {
		port: (server.address() as net.AddressInfo).port,
		stats,
		cut() {
			refusing = true;
			for (const s of live) s.destroy();
			live.clear();
		},
		restore() {
			refusing = false;
		},
		latency(ms) {
			delay = ms;
		},
		async close() {
			for (const s of live) s.destroy();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}
