/*
 * Section link.roundTrips: client flights and time from TCP connect to SUBACK, our Link against
 * MQTT.js, each with a full TLS handshake and with a resumed session, against the local broker
 * through the counting proxy (test/support/proxy.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import mqtt from 'mqtt';
import { createDevPki } from '../cloud/local/dev-pki';
import { startBroker, type Broker } from '../cloud/local/broker';
import { startProxy, type Proxy } from '../test/support/proxy';
import { Link, type LinkPorts } from '../firmware/core/link/link';
import { createMemoryStorage, hostPorts, memoryLog, readCredentials } from '../firmware/platform/host/index';
import type { TlsCredentials } from '../firmware/ports';
import { benchSection } from './section';
import { median, percentile, round } from './stats';
import { table } from './table';

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	return Promise.race([
		p.finally(() => clearTimeout(timer)),
		new Promise<never>((_, reject) => {
			timer = setTimeout(() => reject(new Error(what + ' timed out after ' + ms + ' ms')), ms);
		}),
	]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ConnectSample {
	flights: number;
	ms: number;
	bytesUp: number;
	bytesDown: number;
	/** the TLS session was resumed (as the client's socket reported it), when known */
	resumed?: boolean;
}

interface RoundTripRow {
	client: string;
	tls: string;
	runs: number;
	flights: number;
	flightsMin: number;
	flightsMax: number;
	medianMs: number;
	p90Ms: number;
	bytesUp: number;
	bytesDown: number;
	resumedRuns?: number;
}

function summarize(client: string, tls: string, samples: ConnectSample[]): RoundTripRow {
	const flights = samples.map((s) => s.flights);
	const ms = samples.map((s) => s.ms);
	const resumed = samples.filter((s) => s.resumed !== undefined);
	return {
		client,
		tls,
		runs: samples.length,
		flights: median(flights),
		flightsMin: Math.min(...flights),
		flightsMax: Math.max(...flights),
		medianMs: round(median(ms), 2),
		p90Ms: round(percentile(ms, 90), 2),
		bytesUp: median(samples.map((s) => s.bytesUp)),
		bytesDown: median(samples.map((s) => s.bytesDown)),
		...(resumed.length ? { resumedRuns: resumed.filter((s) => s.resumed).length } : {}),
	};
}

async function waitGone(broker: Broker, thing: string): Promise<void> {
	for (let i = 0; broker.connectedThings().includes(thing); i++) {
		if (i > 400) throw new Error(thing + ' still connected to the broker after 2 s');
		await sleep(5);
	}
}

async function linkOnce(proxy: Proxy, broker: Broker, ports: LinkPorts, thing: string, creds: TlsCredentials): Promise<ConnectSample> {
	const index = proxy.stats.connections;
	const topic = `robots/${thing}/bench`;
	const link = new Link(ports, {
		clientId: thing,
		endpoint: { host: '127.0.0.1', port: proxy.port, tls: { ...creds, serverName: 'localhost' } },
		keepAlive: 60,
		connectTimeoutMs: 10_000,
	});
	let t0 = 0;
	const subscribed = new Promise<ConnectSample>((resolve, reject) => {
		link.listen({
			subscription(filter, granted) {
				if (filter !== topic) return;
				if (granted === 0x80) return reject(new Error('SUBSCRIBE ' + topic + ' refused'));
				const ms = performance.now() - t0;
				resolve({ flights: proxy.stats.flights[index] ?? NaN, ms, bytesUp: proxy.stats.bytesUp[index] ?? NaN, bytesDown: proxy.stats.bytesDown[index] ?? NaN });
			},
		});
	});
	const r = link.subscribe(topic, () => undefined);
	if (!r.ok) throw new Error('subscribe: ' + JSON.stringify(r.error));
	t0 = performance.now();
	link.start();
	try {
		return await timeout(subscribed, 10_000, 'Link connect+subscribe');
	} finally {
		link.stop();
		await waitGone(broker, thing);
	}
}

async function mqttjsOnce(proxy: Proxy, broker: Broker, thing: string, pems: { ca: string; cert: string; key: string }, session?: Buffer): Promise<ConnectSample & { session?: Buffer }> {
	const index = proxy.stats.connections;
	const topic = `robots/${thing}/bench`;
	const t0 = performance.now();
	const client = mqtt.connect({
		protocol: 'mqtts',
		host: '127.0.0.1',
		port: proxy.port,
		servername: 'localhost',
		ca: pems.ca,
		cert: pems.cert,
		key: pems.key,
		rejectUnauthorized: true,
		minVersion: 'TLSv1.2',
		maxVersion: 'TLSv1.2',
		...(session ? { session } : {}),
		clientId: thing,
		clean: false,
		keepalive: 60,
		reconnectPeriod: 0,
		connectTimeout: 10_000,
	} as mqtt.IClientOptions);
	const errored = new Promise<never>((_, reject) => client.once('error', reject));
	// the idiomatic use: subscribe at once; MQTT.js holds the SUBSCRIBE until CONNACK
	const subscribed = new Promise<ConnectSample & { session?: Buffer }>((resolve, reject) => {
		client.subscribe(topic, { qos: 1 }, (err, granted) => {
			if (err) return reject(err);
			if (!granted?.length || granted[0]!.qos === 0x80) return reject(new Error('SUBSCRIBE ' + topic + ' refused'));
			const ms = performance.now() - t0;
			const stream = client.stream as unknown as TLSSocket;
			resolve({
				flights: proxy.stats.flights[index] ?? NaN,
				ms,
				bytesUp: proxy.stats.bytesUp[index] ?? NaN,
				bytesDown: proxy.stats.bytesDown[index] ?? NaN,
				resumed: typeof stream.isSessionReused === 'function' ? stream.isSessionReused() : undefined,
				session: typeof stream.getSession === 'function' ? stream.getSession() : undefined,
			});
		});
	});
	try {
		return await timeout(Promise.race([subscribed, errored]), 10_000, 'MQTT.js connect+subscribe');
	} finally {
		await new Promise<void>((r) => client.end(true, {}, () => r()));
		await waitGone(broker, thing);
	}
}

async function linkRoundTrips(runs: number): Promise<{ rows: RoundTripRow[]; broker: string; proxy: string }> {
	const dir = mkdtempSync(join(os.tmpdir(), 'bench-pki-'));
	const LINK_THING = 'bench-link';
	const MQTTJS_THING = 'bench-mqttjs';
	let broker: Broker | undefined;
	let proxy: Proxy | undefined;
	try {
		const pki = await createDevPki(dir, { things: [LINK_THING, MQTTJS_THING] });
		broker = await startBroker({ ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem });
		proxy = await startProxy({ host: broker.host, port: broker.port });
		const creds = readCredentials(pki.paths.thing(LINK_THING).dir);
		const dev = pki.things.get(MQTTJS_THING)!;
		const pems = { ca: pki.ca.certPem, cert: dev.certPem, key: dev.keyPem };
		const quiet = () => hostPorts(createMemoryStorage(), memoryLog());

		// warm-up (JIT, broker session creation), not counted
		await linkOnce(proxy, broker, quiet(), LINK_THING, creds);
		await mqttjsOnce(proxy, broker, MQTTJS_THING, pems);

		const rows: RoundTripRow[] = [];
		// our Link, full handshake: a new socket port (so no cached TLS session) per connection
		const fresh: ConnectSample[] = [];
		for (let i = 0; i < runs; i++) fresh.push(await linkOnce(proxy, broker, quiet(), LINK_THING, creds));
		rows.push(summarize('Link (ours)', 'full TLS 1.2 handshake', fresh));

		// our Link, resumption: one socket port kept, as the device keeps its TLS session cache;
		// every connection is a new Link (a reboot-free reconnect would reuse the Link itself)
		const shared = quiet();
		await linkOnce(proxy, broker, shared, LINK_THING, creds); // leaves a session in the port
		const resumed: ConnectSample[] = [];
		for (let i = 0; i < runs; i++) {
			const storage = createMemoryStorage();
			resumed.push(await linkOnce(proxy, broker, { ...shared, storage }, LINK_THING, creds));
		}
		rows.push(summarize('Link (ours)', 'TLS session resumed', resumed));

		const mfresh: (ConnectSample & { session?: Buffer })[] = [];
		for (let i = 0; i < runs; i++) mfresh.push(await mqttjsOnce(proxy, broker, MQTTJS_THING, pems));
		rows.push(summarize('MQTT.js ' + mqttVersion(), 'full TLS 1.2 handshake (its default on every connect)', mfresh));

		let session = mfresh[mfresh.length - 1]?.session;
		const mres: ConnectSample[] = [];
		for (let i = 0; i < runs; i++) {
			const s = await mqttjsOnce(proxy, broker, MQTTJS_THING, pems, session);
			session = s.session ?? session;
			mres.push(s);
		}
		rows.push(summarize('MQTT.js ' + mqttVersion(), 'TLS session passed in by the application', mres));
		return { rows, broker: 'cloud/local/broker.ts (aedes, mutual TLS) on 127.0.0.1', proxy: 'test/support/proxy.ts (no added latency)' };
	} finally {
		await proxy?.close();
		await broker?.close();
		rmSync(dir, { recursive: true, force: true });
	}
}

function mqttVersion(): string {
	try {
		return (mqtt as unknown as { MqttClient?: { VERSION?: string } }).MqttClient?.VERSION ?? '';
	} catch {
		return '';
	}
}

type RoundTrips = Awaited<ReturnType<typeof linkRoundTrips>>;

function roundTripsMarkdown(x: RoundTrips): string[] {
	const md: string[] = [];
	md.push(
		table(
			['client', 'TLS', 'round trips (client flights)', 'median ms', 'p90 ms', 'bytes up', 'bytes down', 'runs'],
			x.rows.map((q) => [
				q.client,
				q.tls + (q.resumedRuns !== undefined ? ` (resumed ${q.resumedRuns}/${q.runs})` : ''),
				q.flightsMin === q.flightsMax ? String(q.flights) : `${q.flights} (${q.flightsMin}..${q.flightsMax})`,
				q.medianMs,
				q.p90Ms,
				q.bytesUp,
				q.bytesDown,
				q.runs,
			]),
		),
		'',
	);
	md.push(
		[
			`Broker: ${x.broker}; between client and broker the counting proxy, ${x.proxy}. Each client connects as its own thing with a dev-PKI device certificate (RSA 2048), TLS 1.2, clean session off, and subscribes QoS 1 to one filter \`robots/{thing}/bench\`.`,
			'- **round trips**: flights of client data counted by the proxy up to the SUBACK (consecutive client reads merge; a new flight starts after the server has spoken). The definition of design.md, "Performance targets".',
			'- **time**: from `link.start()` / `mqtt.connect()` (TCP connect to the proxy on loopback included) to the SUBACK reaching the client, median and 90th percentile; one warm-up connection per client not counted. Loopback, so the time is CPU (RSA handshake) more than latency: on a real network each round trip adds one RTT.',
			'- Link: CONNECT and SUBSCRIBE in the first write, before CONNACK. Resumption: one host socket port (`createSocketPort`) kept across connections, as the device keeps its TLS session cache; each connection is a new Link.',
			'- MQTT.js: `subscribe` called right after `connect`; it holds the SUBSCRIBE until CONNACK. It does not keep TLS sessions; the last row passes `session` (from `getSession()` of the previous connection) in by hand.',
		].join('\n'),
		'',
	);
	const ours = x.rows.find((q) => q.client.startsWith('Link') && q.tls.startsWith('full'));
	const theirs = x.rows.find((q) => q.client.startsWith('MQTT.js') && q.tls.startsWith('full'));
	if (ours && theirs && ours.medianMs > theirs.medianMs + 20)
		md.push(
			"**Note on time:** fewer round trips but more milliseconds here points at Nagle on the broker side: the local broker does not set TCP_NODELAY on accepted sockets, so for a pipelined CONNECT + SUBSCRIBE it writes CONNACK and SUBACK as two small segments and holds the second until the first is acknowledged, which the receiver delays (delayed ACK, ~40 ms on Linux). A client that waits for CONNACK before sending SUBSCRIBE piggybacks that acknowledgement and never sees the stall. `socket.setNoDelay(true)` in the broker's connection handler removes it.",
			'',
		);
	return md;
}

export const linkSection = benchSection({ name: 'link.roundTrips', title: 'TCP connect to SUBACK, mutual TLS', run: (o) => linkRoundTrips(o.runs), markdown: roundTripsMarkdown });
