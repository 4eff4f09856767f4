// The checks the broker makes on raw MQTT frames before aedes parses them, as AWS IoT does:
// - a packet whose fixed header announces more than the limit closes the connection at the
//   header, before its body is buffered (mqtt-packet would buffer whatever length is announced);
// - a topic (PUBLISH) or topic filter (SUBSCRIBE, UNSUBSCRIBE) that is not well-formed UTF-8 or
//   holds U+0000 closes the connection [MQTT-1.5.3-1] [MQTT-1.5.3-2]; mqtt-packet decodes with
//   replacement characters, so the bytes must be looked at before it does.
// `scanFrames` is the pure part (bytes in, frames or a refusal out); `gateConnection` puts it
// between a socket and aedes. Memory: at most one frame under the limit is held.

import { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

/** AWS IoT: 128 KB payload; a PUBLISH also carries its topic (AWS: 256 bytes at most) and packet id. */
export const MAX_PACKET_BYTES = 128 * 1024 + 2 + 256 + 2;

export type Refusal =
	| { readonly rule: 'packet-size'; readonly announced: number; readonly limit: number }
	| { readonly rule: 'MQTT-1.5.3-1' | 'MQTT-1.5.3-2'; readonly packet: 'publish' | 'subscribe' | 'unsubscribe' }
	| { readonly rule: 'MQTT-2.2.3'; readonly detail: string };

export type Scan = { readonly kind: 'frames'; readonly frames: Uint8Array[]; readonly rest: Uint8Array } | { readonly kind: 'bad'; readonly refusal: Refusal };

const PUBLISH = 3;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Splits `bytes` (what was held plus what arrived) into whole frames; the caller keeps `rest`. */
export function scanFrames(bytes: Uint8Array, limit = MAX_PACKET_BYTES): Scan {
	const frames: Uint8Array[] = [];
	let at = 0;
	for (;;) {
		if (bytes.length - at < 2) break;
		// remaining length: 1-4 bytes, 7 bits each [MQTT-2.2.3]
		let length = 0;
		let i = 0;
		let complete = false;
		for (; i < 4 && at + 1 + i < bytes.length; i++) {
			const b = bytes[at + 1 + i]!;
			length += (b & 0x7f) * 128 ** i;
			if ((b & 0x80) === 0) {
				complete = true;
				break;
			}
		}
		if (!complete) {
			if (i === 4) return { kind: 'bad', refusal: { rule: 'MQTT-2.2.3', detail: 'remaining length over 4 bytes' } };
			break; // the header itself is not all here yet
		}
		if (length > limit) return { kind: 'bad', refusal: { rule: 'packet-size', announced: length, limit } };
		const start = at + 2 + i;
		if (bytes.length - start < length) break;
		const frame = bytes.subarray(at, start + length);
		const refusal = checkTopics(bytes[at]! >> 4, bytes.subarray(start, start + length));
		if (refusal) return { kind: 'bad', refusal };
		frames.push(frame);
		at = start + length;
	}
	return { kind: 'frames', frames, rest: bytes.subarray(at) };
}

/** The topics of a PUBLISH, SUBSCRIBE or UNSUBSCRIBE body; malformed lengths are left to aedes. */
function checkTopics(type: number, body: Uint8Array): Refusal | undefined {
	const packet = type === PUBLISH ? 'publish' : type === SUBSCRIBE ? 'subscribe' : type === UNSUBSCRIBE ? 'unsubscribe' : undefined;
	if (!packet) return undefined;
	const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
	let at = packet === 'publish' ? 0 : 2; // SUBSCRIBE and UNSUBSCRIBE start with the packet id
	do {
		if (at + 2 > body.length) return undefined;
		const n = view.getUint16(at);
		if (at + 2 + n > body.length) return undefined;
		const refusal = checkString(body.subarray(at + 2, at + 2 + n), packet);
		if (refusal) return refusal;
		at += 2 + n + (packet === 'subscribe' ? 1 : 0);
	} while (packet !== 'publish' && at < body.length);
	return undefined;
}

function checkString(bytes: Uint8Array, packet: 'publish' | 'subscribe' | 'unsubscribe'): Refusal | undefined {
	let text: string;
	try {
		text = utf8.decode(bytes);
	} catch {
		return { rule: 'MQTT-1.5.3-1', packet };
	}
	if (text.includes('\u0000')) return { rule: 'MQTT-1.5.3-2', packet };
	return undefined;
}

/** A connection that is the TLS socket once its frames passed `scanFrames`: what aedes is handed. */
export interface GatedConnection extends Duplex {
	readonly tls: TLSSocket;
}

/** Puts the gate between `socket` and its reader; a refusal destroys the socket after `onRefuse`. */
export function gateConnection(socket: TLSSocket, onRefuse: (refusal: Refusal) => void, limit = MAX_PACKET_BYTES): GatedConnection {
	let held: Uint8Array = new Uint8Array(0);
	const gate = new Duplex({
		read() {
			socket.resume();
		},
		write(chunk: Buffer, _encoding, callback) {
			socket.write(chunk, callback);
		},
		// aedes corks around a reply of several pieces: one socket write, so one TLS record
		writev(chunks: { chunk: Buffer }[], callback) {
			socket.write(Buffer.concat(chunks.map((c) => c.chunk)), callback);
		},
		final(callback) {
			socket.end();
			callback();
		},
		destroy(err, callback) {
			socket.destroy();
			callback(err);
		},
	}) as GatedConnection;
	Object.defineProperty(gate, 'tls', { value: socket });
	socket.on('data', (chunk: Buffer) => {
		const all = held.length === 0 ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) : concat(held, chunk);
		const scan = scanFrames(all, limit);
		if (scan.kind === 'bad') {
			held = new Uint8Array(0);
			onRefuse(scan.refusal);
			socket.destroy();
			gate.destroy();
			return;
		}
		held = scan.rest.slice(); // a copy: the chunk's buffer may be reused
		const whole = all.length - scan.rest.length;
		if (whole > 0 && !gate.push(Buffer.from(all.subarray(0, whole)))) socket.pause();
	});
	socket.on('end', () => gate.push(null));
	socket.on('close', () => gate.destroy());
	socket.on('error', (err) => gate.destroy(err));
	return gate;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
	const out = new Uint8Array(a.length + b.length);
	out.set(a);
	out.set(b, a.length);
	return out;
}
