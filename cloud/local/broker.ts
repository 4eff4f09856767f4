// The local MQTT 3.1.1 broker: aedes behind node:tls with mutual TLS against the dev CA, and
// per-thing authorization equivalent to the AWS IoT policy (see thing-policy.ts).
//
// What AWS IoT does, and so what this does:
// - the client identity is the certificate subject CN (the thing name); a CONNECT whose client
//   id differs is refused with CONNACK 5 "not authorized";
// - with `admit` (the local cloud passes its IoT registry's): a certificate that is not
//   registered and ACTIVE, or not attached to the thing, is refused at CONNECT (CONNACK 5);
//   `disconnectCertificate` ends a live session when its certificate is revoked;
// - a packet whose fixed header announces more than MAX_PACKET_BYTES, or a topic that is not
//   UTF-8 or holds U+0000, closes the connection before aedes buffers or parses it (mqtt-gate.ts);
// - a SUBSCRIBE to a filter outside the thing's topics gets SUBACK failure 0x80;
// - a PUBLISH outside the thing's topics (or over the 128 KB payload limit) is dropped and the
//   client is disconnected.
// In-process services (shadow, jobs, rules) use `publish` and `subscribe`, which bypass the policy.

import type { AddressInfo, Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client } from 'aedes';
import { certificateId } from './rules/index';
import { silentLog, type LogFn } from './log';
import { attachPresence } from './presence';
import { gateConnection, type GatedConnection } from './mqtt-gate';
import { mayConnect, mayPublish, maySubscribe, operatorMayPublish, operatorMaySubscribe } from './thing-policy';

/** AWS IoT message payload limit. */
export const MAX_PAYLOAD_BYTES = 128 * 1024;
/** Default bounds of the received-publish record. */
export const RECORD_LIMIT = 10_000;
export const RECORD_BYTES_LIMIT = 64 * 1024 * 1024;

export type QoS = 0 | 1 | 2;

export interface BrokerOptions {
	/** 0 (default) picks a free port. */
	port?: number;
	host?: string;
	/** PEM of the CA (or CAs) that device certificates must chain to. */
	ca: string | Uint8Array | readonly (string | Uint8Array)[];
	/** PEM of the broker certificate and key (RSA: the device speaks only RSA/ECDHE_RSA). */
	cert: string | Uint8Array;
	key: string | Uint8Array;
	log?: LogFn;
	/** Bounds of `record`: entries kept and payload bytes kept. */
	recordLimit?: number;
	recordBytesLimit?: number;
	/** Certificate CNs with the operator policy (thing-policy.ts) instead of a thing's. */
	operators?: readonly string[];
	/**
	 * Asked at every CONNECT with the certificate id (SHA-256 hex of its DER), the thing (its CN)
	 * and whether it is an operator: the IoT registry's `admits`. Without it every certificate
	 * that chains to `ca` connects (the broker alone, in its own tests).
	 */
	admit?: (certificateId: string, thing: string, operator: boolean) => { ok: true } | { ok: false; reason: string };
}

/** A PUBLISH as the broker received it from a device, before routing. */
export interface ReceivedPublish {
	readonly at: number;
	readonly clientId: string;
	readonly thing: string;
	readonly topic: string;
	readonly payload: Uint8Array;
	readonly qos: QoS;
	readonly dup: boolean;
	readonly retain: boolean;
	readonly messageId: number | undefined;
	/** false when the policy refused it (it was dropped and the client disconnected). */
	readonly allowed: boolean;
}

export interface PublishRecord {
	/** Oldest first; optionally only one thing's, or one topic's. */
	entries(filter?: { thing?: string; topic?: string }): ReceivedPublish[];
	readonly size: number;
	clear(): void;
}

export interface BrokerMessage {
	readonly topic: string;
	readonly payload: Uint8Array;
	readonly qos: QoS;
	readonly retain: boolean;
}

export type MessageHandler = (message: BrokerMessage) => void | Promise<void>;

/** A device's PUBLISH after the policy allowed it, with who sent it: what the rules engine sees. */
export interface DevicePublish extends BrokerMessage {
	readonly clientId: string;
	readonly thing: string;
	/** DER of the client certificate the device connected with (AWS: `principal()` names it). */
	readonly certificate: Uint8Array;
}

export interface Broker {
	readonly host: string;
	readonly port: number;
	readonly record: PublishRecord;
	/** Publishes as the cloud itself: no policy applies. */
	publish(topic: string, payload: Uint8Array | string, qos?: QoS, options?: { retain?: boolean }): Promise<void>;
	/** Subscribes in-process to any filter; resolves to an unsubscribe function. */
	subscribe(filter: string, handler: MessageHandler): Promise<() => Promise<void>>;
	/** Every allowed device PUBLISH, Basic Ingest ones included; resolves nothing, returns an off switch. */
	onDevicePublish(handler: (message: DevicePublish) => void): () => void;
	/** Things with a live MQTT session on this broker. */
	connectedThings(): string[];
	/** Closes every live session of this certificate (revoked, deactivated); resolves how many. */
	disconnectCertificate(certificateId: string, reason: string): number;
	/** Closes the listener and every socket; the port is free when this resolves. */
	close(): Promise<void>;
}

export async function startBroker(options: BrokerOptions): Promise<Broker> {
	checkOptions(options);
	const port = options.port ?? 0;
	const host = options.host ?? '127.0.0.1';
	const log = options.log ?? silentLog;
	const record = new ReceivedLog(options.recordLimit ?? RECORD_LIMIT, options.recordBytesLimit ?? RECORD_BYTES_LIMIT);
	const sessions: Sessions = { things: new WeakMap(), certificateIds: new WeakMap(), operators: new Set(options.operators ?? []) };

	const aedes = await Aedes.createBroker(policyHooks(options, sessions, record, log));
	logLifecycle(aedes, sessions, log);
	const devicePublishHandlers = forwardDevicePublishes(aedes, sessions, log);
	const { server, sockets } = createTlsServer(options, aedes, log);
	await listen(server, aedes, port, host);
	const bound = (server.address() as AddressInfo).port;
	server.on('error', (err) => log({ level: 'error', event: 'broker.server.error', error: err.message }));
	log({ level: 'info', event: 'broker.listen', host, port: bound });
	return brokerHandle({ host, port: bound, record, aedes, server, sockets, sessions, devicePublishHandlers, log });
}

/** Who each connected client is: its thing (certificate CN) and certificate id, and the operator CNs. */
interface Sessions {
	readonly things: WeakMap<Client, string>;
	readonly certificateIds: WeakMap<Client, string>;
	readonly operators: ReadonlySet<string>;
}

/** Bad options get a clear error before anything starts. */
function checkOptions(options: BrokerOptions): void {
	for (const name of ['ca', 'cert', 'key'] as const) {
		const v = options[name];
		const all = Array.isArray(v) ? v : [v];
		if (all.length === 0 || all.some((x) => typeof x !== 'string' && !(x instanceof Uint8Array))) {
			throw new TypeError(`"${name}" expected PEM as a string or Uint8Array, got ${typeof v}`);
		}
	}
	const port = options.port ?? 0;
	if (!Number.isInteger(port) || port < 0 || port > 65535) {
		throw new RangeError('"port" expected an integer 0-65535, got ' + port);
	}
}

/** The aedes hooks that apply the AWS IoT policy at CONNECT, PUBLISH and SUBSCRIBE. */
function policyHooks(options: BrokerOptions, sessions: Sessions, record: ReceivedLog, log: LogFn): Parameters<typeof Aedes.createBroker>[0] {
	const { things, certificateIds, operators } = sessions;
	return {
		authenticate(client, _username, _password, done) {
			const thing = peerThing(client);
			if (thing === undefined || !mayConnect(thing, client.id)) {
				log({ level: 'warn', event: 'broker.connect.refused', thing, clientId: client.id, reason: 'client id must equal certificate CN' });
				// AWS answers a policy failure on iot:Connect with "not authorized"
				const err = Object.assign(new Error('not authorized'), { returnCode: 5 }) as AuthenticateError;
				return done(err, false);
			}
			const certificate = certificateId(peerCertificate(client));
			const admitted = options.admit?.(certificate, thing, operators.has(thing)) ?? { ok: true };
			if (!admitted.ok) {
				log({ level: 'warn', event: 'broker.connect.refused', thing, clientId: client.id, certificateId: certificate, reason: admitted.reason });
				const err = Object.assign(new Error('not authorized'), { returnCode: 5 }) as AuthenticateError;
				return done(err, false);
			}
			things.set(client, thing);
			certificateIds.set(client, certificate);
			done(null, true);
		},
		authorizePublish(client, packet, done) {
			const thing = client ? things.get(client) : undefined;
			const payload = toBytes(packet.payload);
			const allowed = thing !== undefined && (operators.has(thing) ? operatorMayPublish(packet.topic) : mayPublish(thing, packet.topic)) && payload.byteLength <= MAX_PAYLOAD_BYTES;
			record.add({
				at: Date.now(),
				clientId: client?.id ?? '',
				thing: thing ?? '',
				topic: packet.topic,
				payload: payload.slice(),
				qos: packet.qos,
				dup: packet.dup === true,
				retain: packet.retain === true,
				messageId: packet.messageId,
				allowed,
			});
			if (allowed) return done(null);
			log({ level: 'warn', event: 'broker.publish.refused', thing, topic: packet.topic, bytes: payload.byteLength });
			// the error makes aedes drop the packet and close the connection, as AWS IoT does
			done(new Error(`publish to ${packet.topic} not authorized for ${thing}`));
		},
		authorizeSubscribe(client, sub, done) {
			const thing = things.get(client);
			if (thing !== undefined && (operators.has(thing) ? operatorMaySubscribe(sub.topic) : maySubscribe(thing, sub.topic))) {
				log({ level: 'info', event: 'broker.subscribe', thing, filter: sub.topic, qos: sub.qos });
				return done(null, sub);
			}
			log({ level: 'warn', event: 'broker.subscribe.refused', thing, filter: sub.topic });
			done(null, null); // SUBACK 0x80 for this filter [MQTT-3.9.3]
		},
	};
}

/** Structured log lines for connects, disconnects and errors, and AWS IoT's lifecycle events. */
function logLifecycle(aedes: Aedes, sessions: Sessions, log: LogFn): void {
	const { things } = sessions;
	aedes.on('clientReady', (client) => log({ level: 'info', event: 'broker.connect', thing: things.get(client), clean: client.clean }));
	aedes.on('clientDisconnect', (client) => log({ level: 'info', event: 'broker.disconnect', thing: things.get(client) }));
	aedes.on('clientError', (client, err) => log({ level: 'info', event: 'broker.client.error', thing: things.get(client), error: err.message }));
	aedes.on('connectionError', (_client, err) => log({ level: 'info', event: 'broker.connection.error', error: err.message }));
	(aedes as unknown as NodeJS.EventEmitter).on('error', (err: Error) => log({ level: 'error', event: 'broker.error', error: err.message }));
	// AWS IoT's lifecycle events ($aws/events/presence/connected|disconnected/<clientId>), as the broker itself
	attachPresence(aedes, { log, certificate: (c: Client) => peerCertificate(c), ipAddress: (c: Client) => tlsOf(c).remoteAddress ?? '' });
}

/** Hands every allowed device PUBLISH to the handlers in the returned set (the rules engine). */
function forwardDevicePublishes(aedes: Aedes, sessions: Sessions, log: LogFn): Set<(message: DevicePublish) => void> {
	const { things } = sessions;
	const devicePublishHandlers = new Set<(message: DevicePublish) => void>();
	aedes.on('publish', (packet, client) => {
		const thing = client ? things.get(client) : undefined;
		if (!client || thing === undefined || devicePublishHandlers.size === 0) return;
		const message: DevicePublish = {
			topic: packet.topic,
			payload: toBytes(packet.payload),
			qos: packet.qos,
			retain: packet.retain === true,
			clientId: client.id,
			thing,
			certificate: peerCertificate(client),
		};
		for (const h of devicePublishHandlers) {
			try {
				h(message);
			} catch (err) {
				log({ level: 'error', event: 'broker.device_publish.handler_error', thing, topic: packet.topic, error: String(err) });
			}
		}
	});
	return devicePublishHandlers;
}

/** The mutual-TLS listener that hands each authorized socket, gated, to aedes. */
function createTlsServer(options: BrokerOptions, aedes: Aedes, log: LogFn): { server: ReturnType<typeof createServer>; sockets: Set<Socket> } {
	const sockets = new Set<Socket>();
	const server = createServer(
		{
			ca: Array.isArray(options.ca) ? options.ca.map(pem) : pem(options.ca as string | Uint8Array),
			cert: pem(options.cert),
			key: pem(options.key),
			requestCert: true,
			rejectUnauthorized: true,
			// the device speaks TLS 1.2 only; Node clients may use 1.3
			minVersion: 'TLSv1.2',
		},
		(socket) => {
			// CONNACK and SUBACK go out back to back for a client that pipelines; with Nagle on, the
			// second waits for the client's delayed ACK of the first (~40 ms a connection)
			socket.setNoDelay(true);
			aedes.handle(
				gateConnection(socket, (refusal) =>
					log({
						level: 'warn',
						event: 'broker.packet.refused',
						remote: socket.remoteAddress,
						thing: socket.authorized ? socket.getPeerCertificate().subject?.CN : undefined,
						...refusal,
					}),
				),
			);
		},
	);
	server.on('connection', (socket: Socket) => {
		sockets.add(socket);
		socket.once('close', () => sockets.delete(socket));
	});
	// TLS session-ID resumption for a reconnecting client: Node's server keeps no session of its
	// own (it answers session IDs only through these events; Node clients resume with tickets), and
	// Moddable's TLS client resumes by session ID only (no tickets). Bounded: oldest dropped. A
	// resumed session carries the client certificate it was made with; CONNECT still checks it.
	const tlsSessions = new Map<string, Buffer>();
	server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
		tlsSessions.set(id.toString('hex'), data);
		if (tlsSessions.size > 1024) tlsSessions.delete(tlsSessions.keys().next().value!);
		done();
	});
	server.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => done(null, tlsSessions.get(id.toString('hex')) ?? null));
	server.on('tlsClientError', (err, socket) => {
		// the reason is on the socket (Node verifies the client certificate after the handshake and
		// then only hangs up: `err` says "socket hang up"): CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE...
		log({
			level: 'warn',
			event: 'broker.tls.refused',
			remote: socket.remoteAddress,
			reason: (socket as TLSSocket).authorizationError,
			code: (err as { code?: string }).code,
			error: err.message,
		});
	});
	return { server, sockets };
}

/** Listens; on failure closes aedes and rethrows. */
async function listen(server: ReturnType<typeof createServer>, aedes: Aedes, port: number, host: string): Promise<void> {
	try {
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(port, host, () => {
				server.off('error', reject);
				resolve();
			});
		});
	} catch (err) {
		await new Promise<void>((resolve) => aedes.close(() => resolve()));
		throw err;
	}
}

interface Running {
	readonly host: string;
	readonly port: number;
	readonly record: ReceivedLog;
	readonly aedes: Aedes;
	readonly server: ReturnType<typeof createServer>;
	readonly sockets: Set<Socket>;
	readonly sessions: Sessions;
	readonly devicePublishHandlers: Set<(message: DevicePublish) => void>;
	readonly log: LogFn;
}

/** The Broker interface over the running parts. */
function brokerHandle(running: Running): Broker {
	const { host, record, aedes, server, sockets, devicePublishHandlers, log } = running;
	const bound = running.port;
	const { things, certificateIds } = running.sessions;
	let closing: Promise<void> | undefined;
	return {
		host,
		port: bound,
		record,
		publish(topic, payload, qos = 0, opts = {}) {
			return new Promise<void>((resolve, reject) => {
				aedes.publish(
					{
						cmd: 'publish',
						topic,
						payload: typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
						qos,
						retain: opts.retain === true,
						dup: false,
					},
					(err) => (err ? reject(err) : resolve()),
				);
			});
		},
		subscribe(filter, handler) {
			// aedes routes its own $SYS/ heartbeats too; a filter such as '#' must not see them
			const wantsSys = filter.startsWith('$SYS');
			const deliver = (packet: AedesPublishPacket, cb: () => void): void => {
				cb();
				if (!wantsSys && packet.topic.startsWith('$SYS/')) return;
				const message: BrokerMessage = {
					topic: packet.topic,
					payload: toBytes(packet.payload),
					qos: packet.qos,
					retain: packet.retain === true,
				};
				Promise.resolve()
					.then(() => handler(message))
					.catch((err: unknown) => log({ level: 'error', event: 'broker.handler.error', filter, topic: packet.topic, error: String(err) }));
			};
			return new Promise((resolve) => {
				aedes.subscribe(filter, deliver, () => resolve(() => new Promise<void>((done) => aedes.unsubscribe(filter, deliver, () => done()))));
			});
		},
		onDevicePublish(handler) {
			devicePublishHandlers.add(handler);
			return () => void devicePublishHandlers.delete(handler);
		},
		connectedThings() {
			const out: string[] = [];
			for (const client of Object.values((aedes as unknown as { clients: Record<string, Client> }).clients)) {
				const thing = things.get(client);
				if (thing !== undefined && client.connected) out.push(thing);
			}
			return out;
		},
		disconnectCertificate(certificate, reason) {
			let n = 0;
			for (const client of Object.values((aedes as unknown as { clients: Record<string, Client> }).clients)) {
				if (certificateIds.get(client) !== certificate) continue;
				log({ level: 'warn', event: 'broker.disconnect.certificate', thing: things.get(client), certificateId: certificate, reason });
				client.close();
				n++;
			}
			return n;
		},
		close() {
			closing ??= (async () => {
				const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
				await new Promise<void>((resolve) => aedes.close(() => resolve()));
				// sockets still in the TLS handshake, or not yet handed to aedes
				for (const socket of sockets) socket.destroy();
				await serverClosed;
				log({ level: 'info', event: 'broker.close', port: bound });
			})();
			return closing;
		},
	};
}

/** The TLS socket under a client's gated connection. */
function tlsOf(client: Client): TLSSocket {
	return (client.conn as unknown as GatedConnection).tls;
}

/** DER of the client certificate the connection was made with. */
function peerCertificate(client: Client): Uint8Array {
	// null once the socket is gone (a connect storm closes some mid-CONNECT): no certificate, not a TypeError
	return new Uint8Array(tlsOf(client).getPeerCertificate()?.raw ?? []);
}

/** The subject CN of the verified client certificate: the thing name. */
function peerThing(client: Client): string | undefined {
	const conn = tlsOf(client);
	if (typeof conn.getPeerCertificate !== 'function' || !conn.authorized) return undefined;
	const cn: unknown = conn.getPeerCertificate()?.subject?.CN;
	return typeof cn === 'string' ? cn : undefined; // several CNs (an array) identify no one thing
}

function toBytes(payload: string | Buffer | Uint8Array): Uint8Array {
	return typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
}

function pem(v: string | Uint8Array): string {
	return typeof v === 'string' ? v : new TextDecoder().decode(v);
}

/** Bounded by count and by payload bytes; the oldest entries go first. */
class ReceivedLog implements PublishRecord {
	#entries: ReceivedPublish[] = [];
	#bytes = 0;
	constructor(
		readonly limit: number,
		readonly bytesLimit: number,
	) {}
	add(e: ReceivedPublish): void {
		this.#entries.push(e);
		this.#bytes += e.payload.byteLength;
		while (this.#entries.length > this.limit || (this.#bytes > this.bytesLimit && this.#entries.length > 1)) {
			this.#bytes -= this.#entries.shift()?.payload.byteLength ?? 0;
		}
	}
	entries(filter: { thing?: string; topic?: string } = {}): ReceivedPublish[] {
		return this.#entries.filter((e) => (filter.thing === undefined || e.thing === filter.thing) && (filter.topic === undefined || e.topic === filter.topic));
	}
	get size(): number {
		return this.#entries.length;
	}
	clear(): void {
		this.#entries = [];
		this.#bytes = 0;
	}
}
