/*
 * MQTT 3.1.1 control packets as plain values. The codec (codec.ts) turns them into
 * bytes and back; the session (session.ts) decides when to send which.
 */

export const PACKET = Object.freeze({
	connect: 1,
	connack: 2,
	publish: 3,
	puback: 4,
	pubrec: 5,
	pubrel: 6,
	pubcomp: 7,
	subscribe: 8,
	suback: 9,
	unsubscribe: 10,
	unsuback: 11,
	pingreq: 12,
	pingresp: 13,
	disconnect: 14,
} as const);

export type QoS = 0 | 1 | 2;

/** CONNACK return codes [MQTT-3.2.2.3]; 0 accepted. */
export const CONNACK_REASON = Object.freeze(['accepted', 'unacceptable protocol version', 'identifier rejected', 'server unavailable', 'bad user name or password', 'not authorized'] as const);

/** SUBACK return code for a refused subscription [MQTT-3.9.3]. */
export const SUBACK_FAILURE = 0x80;

export interface Will {
	readonly topic: string;
	readonly payload: Uint8Array;
	readonly qos: QoS;
	readonly retain: boolean;
}

export interface Connect {
	readonly type: 'connect';
	readonly clientId: string;
	readonly cleanSession: boolean;
	/** Seconds; 0 turns keep-alive off. */
	readonly keepAlive: number;
	readonly username?: string;
	readonly password?: Uint8Array;
	readonly will?: Will;
}

export interface Connack {
	readonly type: 'connack';
	readonly sessionPresent: boolean;
	readonly returnCode: number;
}

export interface Publish {
	readonly type: 'publish';
	readonly topic: string;
	readonly payload: Uint8Array;
	readonly qos: QoS;
	readonly retain: boolean;
	readonly dup: boolean;
	/** Present exactly when qos > 0 [MQTT-2.3.1-5]. */
	readonly packetId?: number;
}

export interface Ack<T extends 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'unsuback'> {
	readonly type: T;
	readonly packetId: number;
}

export interface Subscription {
	readonly topic: string;
	readonly qos: QoS;
}

export interface Subscribe {
	readonly type: 'subscribe';
	readonly packetId: number;
	readonly subscriptions: readonly Subscription[];
}

export interface Suback {
	readonly type: 'suback';
	readonly packetId: number;
	/** Granted QoS per requested filter, in order, or SUBACK_FAILURE. */
	readonly granted: readonly number[];
}

export interface Unsubscribe {
	readonly type: 'unsubscribe';
	readonly packetId: number;
	readonly topics: readonly string[];
}

export interface Bare<T extends 'pingreq' | 'pingresp' | 'disconnect'> {
	readonly type: T;
}

export type Packet = Connect | Connack | Publish | Ack<'puback'> | Ack<'pubrec'> | Ack<'pubrel'> | Ack<'pubcomp'> | Subscribe | Suback | Unsubscribe | Ack<'unsuback'> | Bare<'pingreq'> | Bare<'pingresp'> | Bare<'disconnect'>;

export type PacketType = Packet['type'];
