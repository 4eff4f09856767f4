/*
 * AWS IoT lifecycle events for the local broker: when a client connects or disconnects,
 * AWS publishes `$aws/events/presence/connected/<clientId>` or `.../disconnected/<clientId>`
 * (developer guide, "Lifecycle events"), with these fields:
 *   clientId, timestamp (epoch ms), eventType ('connected' | 'disconnected'),
 *   sessionIdentifier (a UUID per connection), principalIdentifier (for a certificate
 *   connection, the certificate ID), ipAddress (connected only), versionNumber (rises with
 *   every connection of a client id; both events of one connection carry the same number,
 *   so a subscriber can order events that arrive out of order, as AWS says they may),
 *   and on disconnect clientInitiatedDisconnect and disconnectReason.
 * Client ids holding `#` or `+` get no events (AWS's rule). thingName is left out: AWS
 * includes it only for the exclusive-thing feature, which the robots do not use.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { DisconnectReason } from '../lib/lifecycle-events';

export { DISCONNECT_REASONS, type DisconnectReason } from '../lib/lifecycle-events';

export const PRESENCE_CONNECTED = '$aws/events/presence/connected/';
export const PRESENCE_DISCONNECTED = '$aws/events/presence/disconnected/';

export interface ConnectedEvent {
	readonly clientId: string;
	readonly timestamp: number;
	readonly eventType: 'connected';
	readonly sessionIdentifier: string;
	readonly principalIdentifier: string;
	readonly ipAddress: string;
	readonly versionNumber: number;
}

export interface DisconnectedEvent {
	readonly clientId: string;
	readonly timestamp: number;
	readonly eventType: 'disconnected';
	readonly sessionIdentifier: string;
	readonly principalIdentifier: string;
	readonly clientInitiatedDisconnect: boolean;
	readonly disconnectReason: DisconnectReason;
	readonly versionNumber: number;
}

export type PresenceEvent = ConnectedEvent | DisconnectedEvent;

/** One live connection as the broker knows it. */
export interface Session {
	readonly clientId: string;
	readonly principal: string;
	readonly ipAddress: string;
	readonly sessionIdentifier: string;
	readonly versionNumber: number;
}

export interface Presence {
	/** A client got its CONNACK: its session, and the event to publish (undefined for ids AWS gives none). */
	connected(clientId: string, principal: string, ipAddress: string): { session: Session; topic: string; event: ConnectedEvent } | undefined;
	disconnected(session: Session, reason: DisconnectReason): { topic: string; event: DisconnectedEvent };
}

/** Version numbers are kept per client id for the broker's life (AWS keeps them longer; they only need to rise). */
export function createPresence(now: () => number = Date.now): Presence {
	const versions = new Map<string, number>();
	return {
		connected(clientId, principal, ipAddress) {
			if (clientId.includes('#') || clientId.includes('+')) return undefined;
			// a restarted broker starts from the clock, so numbers still rise across restarts
			const versionNumber = Math.max((versions.get(clientId) ?? 0) + 1, now());
			versions.set(clientId, versionNumber);
			const session: Session = { clientId, principal, ipAddress, sessionIdentifier: randomUUID(), versionNumber };
			const event: ConnectedEvent = {
				clientId,
				timestamp: now(),
				eventType: 'connected',
				sessionIdentifier: session.sessionIdentifier,
				principalIdentifier: principal,
				ipAddress,
				versionNumber,
			};
			return { session, topic: PRESENCE_CONNECTED + clientId, event };
		},
		disconnected(session, reason) {
			const event: DisconnectedEvent = {
				clientId: session.clientId,
				timestamp: now(),
				eventType: 'disconnected',
				sessionIdentifier: session.sessionIdentifier,
				principalIdentifier: session.principal,
				clientInitiatedDisconnect: reason === 'CLIENT_INITIATED_DISCONNECT',
				disconnectReason: reason,
				versionNumber: session.versionNumber,
			};
			return { topic: PRESENCE_DISCONNECTED + session.clientId, event };
		},
	};
}

/** The parts of an aedes broker the lifecycle events need (typed here: aedes's own types leave them out). */
interface AedesLike {
	readonly closed: boolean;
	clients: Record<string, unknown>;
	registerClient(client: never): void;
	on(event: 'clientReady' | 'clientDisconnect' | 'keepaliveTimeout', f: (client: AedesClient) => void): unknown;
	on(event: 'clientError', f: (client: AedesClient, err: Error & { code?: string }) => void): unknown;
	publish(packet: { cmd: 'publish'; topic: string; payload: Buffer; qos: 0 | 1; retain: boolean; dup: boolean }, done: (err?: Error) => void): void;
}

interface AedesClient {
	readonly id: string;
	/** Set by aedes when the client sent DISCONNECT (lib/handlers/index.js). */
	readonly _disconnected?: boolean;
}

export interface AttachOptions {
	readonly log: (entry: { level: 'info' | 'warn' | 'error'; event: string; [k: string]: unknown }) => void;
	/** DER of the client certificate of a connected client; the principal is its certificate ID. */
	readonly certificate: (client: never) => Uint8Array;
	readonly ipAddress: (client: never) => string;
	readonly now?: () => number;
}

const SOCKET_ERRORS = /^(ECONNRESET|EPIPE|ETIMEDOUT|ECONNABORTED|EHOSTUNREACH|ENETUNREACH)$/;

/**
 * Publishes the lifecycle events of an aedes broker's clients. Why a client went is
 * noted as it happens (keep-alive timeout, a refused publish, a socket error, another
 * connection with its client id) and read when aedes reports the disconnect.
 */
export function attachPresence(broker: unknown, o: AttachOptions): void {
	const aedes = broker as AedesLike;
	const presence = createPresence(o.now);
	const sessions = new WeakMap<object, Session>();
	const publish = (topic: string, event: PresenceEvent): void =>
		aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(event)), qos: 1, retain: false, dup: false }, (err) => {
			if (err) o.log({ level: 'error', event: 'broker.presence.publish_failed', topic, error: err.message });
		});

	// aedes closes the older client of a client id inside registerClient [MQTT-3.1.4-2]: its reason must be set first
	const register = aedes.registerClient.bind(aedes);
	aedes.registerClient = (client: never) => {
		const old = aedes.clients[(client as AedesClient).id];
		if (old && old !== client) reasons.set(old as object, 'DUPLICATE_CLIENTID');
		register(client);
	};
	aedes.on('clientReady', (client) => {
		// a socket may be gone by now (a connect storm): its certificate and address read as nothing, never a throw inside aedes
		let principal = '';
		let ip = '';
		try {
			const der = o.certificate(client as never);
			if (der.length > 0) principal = createHash('sha256').update(der).digest('hex');
			ip = o.ipAddress(client as never);
		} catch (err) {
			o.log({ level: 'warn', event: 'broker.presence.peer_gone', clientId: client.id, error: String(err) });
		}
		const made = presence.connected(client.id, principal, ip);
		if (!made) return;
		sessions.set(client, made.session);
		publish(made.topic, made.event);
	});
	aedes.on('keepaliveTimeout', (client) => void (reasons.has(client) || reasons.set(client, 'MQTT_KEEP_ALIVE_TIMEOUT')));
	aedes.on('clientError', (client, err) => {
		if (reasons.has(client)) return;
		reasons.set(client, SOCKET_ERRORS.test(err.code ?? '') ? 'CONNECTION_LOST' : /not authorized/.test(err.message) ? 'AUTH_ERROR' : 'CLIENT_ERROR');
	});
	aedes.on('clientDisconnect', (client) => {
		const session = sessions.get(client);
		if (!session) return; // never got its CONNACK: AWS sends no disconnect for it either
		sessions.delete(client);
		const reason = reasons.get(client) ?? (client._disconnected ? 'CLIENT_INITIATED_DISCONNECT' : aedes.closed ? 'SERVER_INITIATED_DISCONNECT' : 'CONNECTION_LOST');
		const made = presence.disconnected(session, reason);
		publish(made.topic, made.event);
	});
}

/** Why a client is being closed, noted before it goes (clients are objects of one broker each, so one map serves all). */
const reasons = new WeakMap<object, DisconnectReason>();

/** For code that closes a client on purpose (a revoked certificate: AUTH_ERROR; DeleteConnection: API_INITIATED_DISCONNECT), before it closes it. */
export function noteDisconnectReason(client: object, reason: DisconnectReason): void {
	reasons.set(client, reason);
}
