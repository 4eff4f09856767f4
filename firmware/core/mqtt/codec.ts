/*
 * MQTT 3.1.1 codec: packets to bytes and back, and nothing else (no socket, no
 * clock, no session). Like coreMQTT's serializer: `packetSize` first, then
 * `encodeInto` a buffer the caller owns; `decode` reads one packet from the front
 * of whatever bytes arrived and says how many it used, or that it needs more, or
 * which rule the bytes break. Rule ids cite the OASIS MQTT 3.1.1 standard.
 */
import { PACKET, type Packet, type Publish, type QoS } from './packet';
import { utf8Decode, utf8Length, utf8Write } from '../util/utf8';

/** Largest Remaining Length four bytes can carry [MQTT-2.2.3]. */
export const MAX_REMAINING_LENGTH = 268_435_455;

export type Decoded = { readonly kind: 'more' } | { readonly kind: 'packet'; readonly packet: Packet; readonly used: number } | { readonly kind: 'bad'; readonly rule: string; readonly message: string };

// ---- encoding -------------------------------------------------------------

function stringSize(s: string, what: string): number {
	let n: number;
	try {
		n = utf8Length(s);
	} catch (e) {
		// utf8Length cannot know which argument it measures [MQTT-1.5.3-1]
		throw new RangeError('"' + what + '" ' + (e as Error).message + ' [MQTT-1.5.3-1]');
	}
	if (n > 0xffff) throw new RangeError('"' + what + '" expected <= 65535 bytes, got ' + n);
	if (s.indexOf('\u0000') >= 0) throw new RangeError('"' + what + '" must not contain U+0000 [MQTT-1.5.3-2]');
	return 2 + n;
}

function checkPacketId(id: number | undefined): number {
	if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > 0xffff) throw new RangeError('"packetId" expected an integer 1..65535, got ' + id);
	return id;
}

function checkQos(q: number, what: string): QoS {
	if (q !== 0 && q !== 1 && q !== 2) throw new RangeError('"' + what + '" expected 0, 1 or 2, got ' + q);
	return q;
}

function checkTopicName(topic: string, what = 'topic'): void {
	if (typeof topic !== 'string' || topic.length === 0) throw new RangeError('"' + what + '" expected a non-empty string [MQTT-4.7.3-1]');
	if (topic.indexOf('+') >= 0 || topic.indexOf('#') >= 0) throw new RangeError('"' + what + '" must not contain wildcards, got "' + topic + '" [MQTT-3.3.2-2]');
}

/** Remaining Length of a packet: everything after the fixed header. Checks the packet on the way. */
function remainingLength(p: Packet): number {
	switch (p.type) {
		case 'connect': {
			if (!Number.isInteger(p.keepAlive) || p.keepAlive < 0 || p.keepAlive > 0xffff) throw new RangeError('"keepAlive" expected 0..65535 seconds, got ' + p.keepAlive);
			if (p.clientId === '' && !p.cleanSession) throw new RangeError('"clientId" must not be empty when "cleanSession" is false [MQTT-3.1.3-7]');
			if (p.password !== undefined && p.username === undefined) throw new RangeError('"password" needs "username" [MQTT-3.1.2-22]');
			let n = 10 + stringSize(p.clientId, 'clientId');
			if (p.will) {
				checkTopicName(p.will.topic, 'will.topic');
				checkQos(p.will.qos, 'will.qos');
				n += stringSize(p.will.topic, 'will.topic') + 2 + p.will.payload.length;
				if (p.will.payload.length > 0xffff) throw new RangeError('"will.payload" expected <= 65535 bytes');
			}
			if (p.username !== undefined) n += stringSize(p.username, 'username');
			if (p.password !== undefined) {
				if (p.password.length > 0xffff) throw new RangeError('"password" expected <= 65535 bytes');
				n += 2 + p.password.length;
			}
			return n;
		}
		case 'connack':
			if (!Number.isInteger(p.returnCode) || p.returnCode < 0 || p.returnCode > 255) throw new RangeError('"returnCode" expected a byte');
			return 2;
		case 'publish': {
			checkTopicName(p.topic);
			checkQos(p.qos, 'qos');
			if (p.qos > 0) checkPacketId(p.packetId);
			else if (p.dup) throw new RangeError('"dup" must be false for QoS 0 [MQTT-3.3.1-2]');
			return stringSize(p.topic, 'topic') + (p.qos > 0 ? 2 : 0) + p.payload.length;
		}
		case 'puback':
		case 'pubrec':
		case 'pubrel':
		case 'pubcomp':
		case 'unsuback':
			checkPacketId(p.packetId);
			return 2;
		case 'subscribe': {
			checkPacketId(p.packetId);
			if (p.subscriptions.length === 0) throw new RangeError('"subscriptions" expected at least one [MQTT-3.8.3-3]');
			let n = 2;
			for (const s of p.subscriptions) {
				if (s.topic.length === 0) throw new RangeError('"topic" filter expected non-empty [MQTT-4.7.3-1]');
				checkQos(s.qos, 'qos');
				n += stringSize(s.topic, 'topic') + 1;
			}
			return n;
		}
		case 'suback': {
			checkPacketId(p.packetId);
			if (p.granted.length === 0) throw new RangeError('"granted" expected at least one code');
			for (const g of p.granted) if (g !== 0 && g !== 1 && g !== 2 && g !== 0x80) throw new RangeError('"granted" code expected 0, 1, 2 or 128, got ' + g);
			return 2 + p.granted.length;
		}
		case 'unsubscribe': {
			checkPacketId(p.packetId);
			if (p.topics.length === 0) throw new RangeError('"topics" expected at least one [MQTT-3.10.3-2]');
			let n = 2;
			for (const t of p.topics) {
				if (t.length === 0) throw new RangeError('"topic" filter expected non-empty [MQTT-4.7.3-1]');
				n += stringSize(t, 'topic');
			}
			return n;
		}
		case 'pingreq':
		case 'pingresp':
		case 'disconnect':
			return 0;
	}
}

function varintSize(n: number): number {
	return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** Total bytes `p` takes on the wire. Throws RangeError/TypeError for a packet that cannot be encoded. */
export function packetSize(p: Packet): number {
	const rl = remainingLength(p);
	if (rl > MAX_REMAINING_LENGTH) throw new RangeError('packet too large: remaining length ' + rl);
	return 1 + varintSize(rl) + rl;
}

function writeString(s: string, out: Uint8Array, at: number): number {
	const end = utf8Write(s, out, at + 2);
	const n = end - at - 2;
	out[at] = n >> 8;
	out[at + 1] = n & 0xff;
	return end;
}

function writeU16(n: number, out: Uint8Array, at: number): number {
	out[at] = n >> 8;
	out[at + 1] = n & 0xff;
	return at + 2;
}

function writeBytes(b: Uint8Array, out: Uint8Array, at: number): number {
	out.set(b, at);
	return at + b.length;
}

/** First byte: packet type and the flags the standard fixes for it [MQTT-2.2.2]. */
function firstByte(p: Packet): number {
	const t = PACKET[p.type] << 4;
	switch (p.type) {
		case 'publish':
			return t | (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0);
		case 'pubrel':
		case 'subscribe':
		case 'unsubscribe':
			return t | 2; // [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1]
		default:
			return t;
	}
}

/**
 * Writes `p` at the start of `out`, which must hold `packetSize(p)` bytes.
 * Returns the number of bytes written.
 */
export function encodeInto(p: Packet, out: Uint8Array): number {
	const rl = remainingLength(p);
	const total = 1 + varintSize(rl) + rl;
	if (out.length < total) throw new RangeError('"out" expected >= ' + total + ' bytes, got ' + out.length);
	let at = 0;
	out[at++] = firstByte(p);
	let x = rl;
	do {
		let b = x % 128;
		x = Math.floor(x / 128);
		if (x > 0) b |= 0x80;
		out[at++] = b;
	} while (x > 0);
	switch (p.type) {
		case 'connect': {
			at = writeString('MQTT', out, at);
			out[at++] = 4; // protocol level 3.1.1 [MQTT-3.1.2-2]
			let flags = p.cleanSession ? 0x02 : 0;
			if (p.will) flags |= 0x04 | (p.will.qos << 3) | (p.will.retain ? 0x20 : 0);
			if (p.password !== undefined) flags |= 0x40;
			if (p.username !== undefined) flags |= 0x80;
			out[at++] = flags;
			at = writeU16(p.keepAlive, out, at);
			at = writeString(p.clientId, out, at);
			if (p.will) {
				at = writeString(p.will.topic, out, at);
				at = writeU16(p.will.payload.length, out, at);
				at = writeBytes(p.will.payload, out, at);
			}
			if (p.username !== undefined) at = writeString(p.username, out, at);
			if (p.password !== undefined) {
				at = writeU16(p.password.length, out, at);
				at = writeBytes(p.password, out, at);
			}
			break;
		}
		case 'connack':
			out[at++] = p.sessionPresent ? 1 : 0;
			out[at++] = p.returnCode;
			break;
		case 'publish':
			at = writeString(p.topic, out, at);
			if (p.qos > 0) at = writeU16(p.packetId!, out, at);
			at = writeBytes(p.payload, out, at);
			break;
		case 'puback':
		case 'pubrec':
		case 'pubrel':
		case 'pubcomp':
		case 'unsuback':
			at = writeU16(p.packetId, out, at);
			break;
		case 'subscribe':
			at = writeU16(p.packetId, out, at);
			for (const s of p.subscriptions) {
				at = writeString(s.topic, out, at);
				out[at++] = s.qos;
			}
			break;
		case 'suback':
			at = writeU16(p.packetId, out, at);
			for (const g of p.granted) out[at++] = g;
			break;
		case 'unsubscribe':
			at = writeU16(p.packetId, out, at);
			for (const t of p.topics) at = writeString(t, out, at);
			break;
		case 'pingreq':
		case 'pingresp':
		case 'disconnect':
			break;
	}
	return at;
}

/** Convenience for callers that do not keep a buffer: allocates exactly. */
export function encode(p: Packet): Uint8Array {
	const out = new Uint8Array(packetSize(p));
	encodeInto(p, out);
	return out;
}

// ---- decoding -------------------------------------------------------------

const TYPES = Object.freeze([undefined, 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', undefined] as const);

class Bad {
	constructor(
		readonly rule: string,
		readonly message: string,
	) {}
}

/** A cursor over one packet's variable header and payload; every read is bounds-checked. */
class Reader {
	constructor(
		private readonly b: Uint8Array,
		public at: number,
		private readonly end: number,
	) {}
	left(): number {
		return this.end - this.at;
	}
	u8(what: string): number {
		if (this.at >= this.end) throw new Bad('MQTT-2.2.3', what + ' runs past the remaining length');
		return this.b[this.at++]!;
	}
	u16(what: string): number {
		return (this.u8(what) << 8) | this.u8(what);
	}
	bytes(n: number, what: string): Uint8Array {
		if (this.at + n > this.end) throw new Bad('MQTT-2.2.3', what + ' runs past the remaining length');
		// a copy: the caller's buffer is reused for the next bytes from the socket
		const out = this.b.slice(this.at, this.at + n);
		this.at += n;
		return out;
	}
	string(what: string): string {
		const n = this.u16(what + ' length');
		if (this.at + n > this.end) throw new Bad('MQTT-2.2.3', what + ' runs past the remaining length');
		const s = utf8Decode(this.b, this.at, this.at + n, true);
		if (s === undefined) {
			// a 0x00 byte is always U+0000, which has its own rule [MQTT-1.5.3-2]
			if (this.b.subarray(this.at, this.at + n).indexOf(0) >= 0) throw new Bad('MQTT-1.5.3-2', what + ' contains U+0000');
			throw new Bad('MQTT-1.5.3-1', what + ' is not well-formed UTF-8');
		}
		this.at += n;
		return s;
	}
	packetId(): number {
		const id = this.u16('packet identifier');
		if (id === 0) throw new Bad('MQTT-2.3.1-1', 'packet identifier 0');
		return id;
	}
	done(what: string): void {
		if (this.at !== this.end) throw new Bad('MQTT-2.2.3', what + ' has ' + (this.end - this.at) + ' bytes past its content');
	}
}

function qosOf(bits: number, rule: string): QoS {
	if (bits === 3) throw new Bad(rule, 'QoS 3 is reserved');
	return bits as QoS;
}

function body(type: number, flags: number, r: Reader): Packet {
	const name = TYPES[type];
	if (name === undefined) throw new Bad('MQTT-2.2.1', 'reserved packet type ' + type);
	if (name !== 'publish') {
		const want = name === 'pubrel' || name === 'subscribe' || name === 'unsubscribe' ? 2 : 0;
		if (flags !== want) throw new Bad('MQTT-2.2.2-2', name + ' with invalid fixed-header flags ' + flags);
	}
	switch (name) {
		case 'connect': {
			const protocol = r.string('protocol name');
			const level = r.u8('protocol level');
			if (protocol !== 'MQTT' || level !== 4) throw new Bad('MQTT-3.1.2-2', 'protocol ' + protocol + ' level ' + level + ' is not MQTT 3.1.1');
			const f = r.u8('connect flags');
			if (f & 1) throw new Bad('MQTT-3.1.2-3', 'connect flags reserved bit set');
			const keepAlive = r.u16('keep alive');
			const clientId = r.string('client identifier');
			const hasWill = (f & 0x04) !== 0;
			const willQos = qosOf((f >> 3) & 3, 'MQTT-3.1.2-14');
			const willRetain = (f & 0x20) !== 0;
			if (!hasWill && (willQos !== 0 || willRetain)) throw new Bad('MQTT-3.1.2-11', 'will QoS or retain without will flag');
			let will;
			if (hasWill) {
				const topic = r.string('will topic');
				// the will becomes a PUBLISH: its topic is a topic name [MQTT-4.7.3-1] [MQTT-4.7.1-1]
				if (topic.length === 0) throw new Bad('MQTT-4.7.3-1', 'empty will topic');
				if (topic.indexOf('+') >= 0 || topic.indexOf('#') >= 0) throw new Bad('MQTT-4.7.1-1', 'wildcard in will topic "' + topic + '"');
				const payload = r.bytes(r.u16('will message length'), 'will message');
				will = { topic, payload, qos: willQos, retain: willRetain };
			}
			const username = f & 0x80 ? r.string('user name') : undefined;
			if (f & 0x40 && username === undefined) throw new Bad('MQTT-3.1.2-22', 'password without user name');
			const password = f & 0x40 ? r.bytes(r.u16('password length'), 'password') : undefined;
			r.done('CONNECT');
			return {
				type: 'connect',
				clientId,
				cleanSession: (f & 0x02) !== 0,
				keepAlive,
				...(will ? { will } : {}),
				...(username !== undefined ? { username } : {}),
				...(password ? { password } : {}),
			};
		}
		case 'connack': {
			const ack = r.u8('acknowledge flags');
			if (ack & 0xfe) throw new Bad('MQTT-3.2.2-1', 'connack reserved flags set');
			const returnCode = r.u8('return code');
			if (returnCode > 5) throw new Bad('MQTT-3.2.2-6', 'unknown connack return code ' + returnCode);
			if (returnCode !== 0 && ack) throw new Bad('MQTT-3.2.2-4', 'session present with a refused connection');
			r.done('CONNACK');
			return { type: 'connack', sessionPresent: ack === 1, returnCode };
		}
		case 'publish': {
			const qos = qosOf((flags >> 1) & 3, 'MQTT-3.3.1-4');
			const dup = (flags & 8) !== 0;
			if (qos === 0 && dup) throw new Bad('MQTT-3.3.1-2', 'DUP set on a QoS 0 PUBLISH');
			const topic = r.string('topic name');
			if (topic.length === 0) throw new Bad('MQTT-4.7.3-1', 'empty topic name');
			if (topic.indexOf('+') >= 0 || topic.indexOf('#') >= 0) throw new Bad('MQTT-3.3.2-2', 'wildcard in topic name "' + topic + '"');
			const packetId = qos > 0 ? r.packetId() : undefined;
			const payload = r.bytes(r.left(), 'payload');
			const p: Publish = { type: 'publish', topic, payload, qos, retain: (flags & 1) !== 0, dup, ...(packetId ? { packetId } : {}) };
			return p;
		}
		case 'puback':
		case 'pubrec':
		case 'pubrel':
		case 'pubcomp':
		case 'unsuback': {
			const packetId = r.packetId();
			r.done(name.toUpperCase());
			return { type: name, packetId };
		}
		case 'subscribe': {
			const packetId = r.packetId();
			const subscriptions = [];
			while (r.left() > 0) {
				const topic = r.string('topic filter');
				if (topic.length === 0) throw new Bad('MQTT-4.7.3-1', 'empty topic filter');
				const q = r.u8('requested QoS');
				if (q > 2) throw new Bad('MQTT-3.8.3-4', 'requested QoS byte ' + q);
				subscriptions.push({ topic, qos: q as QoS });
			}
			if (subscriptions.length === 0) throw new Bad('MQTT-3.8.3-3', 'SUBSCRIBE without a topic filter');
			return { type: 'subscribe', packetId, subscriptions };
		}
		case 'suback': {
			const packetId = r.packetId();
			const granted = [];
			while (r.left() > 0) {
				const g = r.u8('return code');
				if (g > 2 && g !== 0x80) throw new Bad('MQTT-3.9.3-2', 'SUBACK return code ' + g);
				granted.push(g);
			}
			if (granted.length === 0) throw new Bad('MQTT-3.9.3-1', 'SUBACK without a return code');
			return { type: 'suback', packetId, granted };
		}
		case 'unsubscribe': {
			const packetId = r.packetId();
			const topics = [];
			while (r.left() > 0) {
				const topic = r.string('topic filter');
				if (topic.length === 0) throw new Bad('MQTT-4.7.3-1', 'empty topic filter');
				topics.push(topic);
			}
			if (topics.length === 0) throw new Bad('MQTT-3.10.3-2', 'UNSUBSCRIBE without a topic filter');
			return { type: 'unsubscribe', packetId, topics };
		}
		case 'pingreq':
		case 'pingresp':
		case 'disconnect':
			r.done(name.toUpperCase());
			return { type: name };
	}
}

/**
 * Reads one packet from the front of `b`. Never throws for bad bytes: a stream
 * that breaks a rule gives `bad` and the caller closes the connection [MQTT-4.8.0-1].
 * `maxSize` bounds the whole packet so a hostile length cannot make us buffer
 * without limit: the verdict comes from the fixed header alone.
 */
export function decode(b: Uint8Array, maxSize: number = MAX_REMAINING_LENGTH + 5): Decoded {
	if (b.length < 2) return { kind: 'more' };
	let rl = 0;
	let mul = 1;
	let at = 1;
	for (;;) {
		if (at >= b.length) return { kind: 'more' };
		const byte = b[at++]!;
		rl += (byte & 0x7f) * mul;
		if ((byte & 0x80) === 0) break;
		if (at === 5) return { kind: 'bad', rule: 'MQTT-2.2.3', message: 'remaining length longer than 4 bytes' };
		mul *= 128;
	}
	const total = at + rl;
	if (total > maxSize) return { kind: 'bad', rule: 'size', message: 'packet of ' + total + ' bytes exceeds the limit of ' + maxSize };
	if (b.length < total) return { kind: 'more' };
	try {
		const packet = body(b[0]! >> 4, b[0]! & 0x0f, new Reader(b, at, total));
		return { kind: 'packet', packet, used: total };
	} catch (e) {
		if (e instanceof Bad) return { kind: 'bad', rule: e.rule, message: e.message };
		throw e;
	}
}
