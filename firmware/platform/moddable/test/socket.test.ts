/*
 * The socket adapter (../socket.ts) inside XS over the fake `securesocket` and `timer`
 * (fakes/securesocket.ts, fakes/timer.ts): the TLS material as securesocket takes it, writes
 * that never ask for more than securesocket says fits and leave on a turn of their own (never
 * on the caller's stack), reads within the readable callback,
 * the ways a connection ends, and never a native close inside the socket's own callback.
 */
import * as assert from '../../../core/testing/assert';
import type { Socket, SocketEvents, SocketOptions } from '../../../ports';
import { createSocketPort } from '../socket';
import { loop } from './fakes/loop';
import { LIN_ROOM, sockets } from './fakes/securesocket';
import sessionCache from './fakes/ssl-cache';

const TLS = { ca: Uint8Array.of(1, 2, 3), certificates: [Uint8Array.of(4, 5)], key: Uint8Array.of(6, 7, 8) };
const OPTIONS: SocketOptions = { host: 'broker.example', port: 8883, tls: TLS };

interface Seen {
	connected: number;
	data: Uint8Array[];
	closed: (string | undefined)[];
}

function open(options: SocketOptions = OPTIONS, hooks: Partial<SocketEvents> = {}): { socket: Socket; seen: Seen } {
	const seen: Seen = { connected: 0, data: [], closed: [] };
	const socket = createSocketPort().open(options, {
		connected: () => {
			seen.connected++;
			hooks.connected?.();
		},
		data: (b) => {
			seen.data.push(b.slice());
			hooks.data?.(b);
		},
		closed: (e) => {
			seen.closed.push(e);
			hooks.closed?.(e);
		},
	});
	return { socket, seen };
}

const concat = (parts: Uint8Array[]): Uint8Array => {
	const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
	let at = 0;
	for (const p of parts) {
		out.set(p, at);
		at += p.length;
	}
	return out;
};
const pattern = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

describe('moddable socket adapter over securesocket', () => {
	beforeEach(() => {
		loop.reset();
		sockets.reset();
	});
	afterEach(() => {
		assert.deepEqual(sockets.violations, []);
	});

	it('hands securesocket its TLS material as whole ArrayBuffers, TLS 1.2, SNI from the host', () => {
		open({ ...OPTIONS, tls: { ...TLS, alpn: ['x-amzn-mqtt-ca'] } });
		const d = sockets.last.dict;
		assert.equal(d.host, 'broker.example');
		assert.equal(d.port, 8883);
		const secure = d.secure as Record<string, unknown>;
		assert.equal(secure.protocolVersion, 0x0303);
		assert.equal(secure.serverName, 'broker.example');
		assert.ok(secure.certificate instanceof ArrayBuffer, 'certificate is an ArrayBuffer, not a view');
		assert.deepEqual([...new Uint8Array(secure.certificate as ArrayBuffer)], [1, 2, 3]);
		const certs = secure.clientCertificates as unknown[];
		assert.ok(certs[0] instanceof ArrayBuffer);
		assert.deepEqual([...new Uint8Array(certs[0] as ArrayBuffer)], [4, 5]);
		assert.ok(secure.clientKey instanceof ArrayBuffer);
		assert.deepEqual(secure.protocolList, ['x-amzn-mqtt-ca']);
	});

	it("drops the SDK's cached TLS session when the client certificate changed (a renewal), keeps it for the same one", () => {
		open();
		// the handshake saved its session (session_419.js saves by server name)
		sessionCache.saveSession('broker.example', Uint8Array.of(9).buffer, Uint8Array.of(8).buffer);
		const deletes = sessionCache.deletes;
		open();
		assert.ok(sessionCache.getByHost('broker.example'), 'the same certificate: the session stays to be resumed');
		assert.equal(sessionCache.deletes, deletes);
		open({ ...OPTIONS, tls: { ...TLS, certificates: [Uint8Array.of(4, 6)] } });
		assert.equal(sessionCache.getByHost('broker.example'), undefined, 'another certificate: no session to resume, a full handshake shows it');
		assert.equal(sessionCache.deletes, deletes + 1);
	});

	it('passes a view of a larger buffer as exactly its own bytes', () => {
		const big = Uint8Array.of(9, 9, 1, 2, 3, 9);
		open({ ...OPTIONS, tls: { ...TLS, ca: big.subarray(2, 5) } });
		const ca = (sockets.last.dict.secure as Record<string, unknown>).certificate as ArrayBuffer;
		assert.deepEqual([...new Uint8Array(ca)], [1, 2, 3]);
	});

	it('uses tls.serverName over the host (connecting by address)', () => {
		open({ host: '127.0.0.1', port: 8883, tls: { ...TLS, serverName: 'localhost' } });
		assert.equal((sockets.last.dict.secure as Record<string, unknown>).serverName, 'localhost');
	});

	it('refuses plain TCP through `closed` on the next turn, never a throw', () => {
		const { seen } = open({ host: 'broker.example', port: 1883 });
		assert.equal(sockets.all.length, 0);
		assert.deepEqual(seen.closed, []);
		loop.turn();
		assert.equal(seen.closed.length, 1);
		assert.ok(/plain TCP is not offered/.test(seen.closed[0] ?? ''), seen.closed[0]);
	});

	it('reports a constructor throw (a key securesocket cannot parse) through `closed` on the next turn', () => {
		sockets.failNextConstruct = 'PKCS8: RSA only';
		const { seen } = open();
		assert.deepEqual(seen.closed, []);
		loop.turn();
		assert.deepEqual(seen.closed, ['securesocket: PKCS8: RSA only']);
	});

	it('queues writes until the handshake, then sends them in order', () => {
		const { socket, seen } = open();
		socket.write(Uint8Array.of(1, 2));
		socket.write(Uint8Array.of(3));
		assert.equal(sockets.last.records.length, 0);
		sockets.last.handshake();
		assert.equal(seen.connected, 1);
		loop.turn();
		assert.deepEqual([...sockets.last.written], [1, 2, 3]);
	});

	it('copies what it is given: the caller may reuse its buffer at once', () => {
		const { socket } = open();
		const buf = Uint8Array.of(1, 2, 3);
		socket.write(buf);
		buf.fill(0);
		sockets.last.handshake();
		loop.turn();
		assert.deepEqual([...sockets.last.written], [1, 2, 3]);
	});

	it("connected: a write is copied and leaves on the next turn, not on the caller's stack: the buffer may be reused at once", () => {
		// the link encodes every write into one reused buffer
		const { socket } = open();
		const s = sockets.last;
		s.handshake();
		const buf = pattern(LIN_ROOM * 2);
		const expected = buf.slice();
		socket.write(buf);
		assert.equal(s.written.length, 0, 'nothing written within the call');
		buf.fill(0);
		loop.turn();
		assert.equal(s.written.length, LIN_ROOM - 128, 'the first record went out on the turn');
		for (let i = 0; i < 10 && s.written.length < expected.length; i++) s.writable(LIN_ROOM);
		assert.deepEqual(s.written, expected);
	});

	it('never writes more than securesocket says fits, at most 2048 per record, and sends the rest on writable', () => {
		const { socket, seen } = open();
		const s = sockets.last;
		s.handshake();
		const payload = pattern(10_000);
		socket.write(payload);
		loop.turn();
		// lin: 1024 bytes of room, 896 after the 128 of TLS overhead securesocket keeps back
		assert.equal(s.records.length, 1);
		assert.equal(s.records[0]!.length, LIN_ROOM - 128);
		for (let i = 0; i < 50 && s.written.length < payload.length; i++) s.writable(i % 2 ? LIN_ROOM : 8192);
		assert.deepEqual(s.written, payload);
		assert.ok(
			s.records.every((r) => r.length <= 2048),
			'every record at most 2048 bytes',
		);
		assert.ok(
			s.records.some((r) => r.length === 2048),
			'a large room is used up to the record cap',
		);
		assert.deepEqual(seen.closed, []);
	});

	it('waits when the room is under the TLS overhead (write() answers 0)', () => {
		const { socket, seen } = open();
		const s = sockets.last;
		s.handshake();
		s.room = 100;
		socket.write(pattern(10));
		loop.turn();
		assert.equal(s.records.length, 0);
		s.writable(100); // not over 128: securesocket says nothing
		assert.equal(s.records.length, 0);
		s.writable(200);
		assert.deepEqual(s.written, pattern(10));
		assert.deepEqual(seen.closed, []);
	});

	it('reads each readable message inside its callback, in order, across 1024-byte messages', () => {
		const { seen } = open();
		sockets.last.handshake();
		const payload = pattern(3000);
		sockets.last.receive(payload);
		assert.equal(seen.data.length, 3);
		assert.deepEqual(concat(seen.data), payload);
	});

	it('a write the native socket refuses (the peer is gone) closes with the reason, never a throw out of the timer', () => {
		const { socket, seen } = open();
		const s = sockets.last;
		s.handshake();
		s.failWrite = 'write failed';
		socket.write(Uint8Array.of(1, 2));
		loop.turn();
		assert.deepEqual(seen.closed, ['socket write: write failed']);
		socket.write(Uint8Array.of(3));
		loop.turn();
		assert.deepEqual(seen.closed, ['socket write: write failed'], 'once');
	});

	it('a handshake failure closes with the reason', () => {
		const { seen } = open();
		sockets.last.drop(-2);
		assert.deepEqual(seen.closed, ['connect or TLS handshake failed (securesocket -2 error)']);
		assert.equal(seen.connected, 0);
	});

	it('a connection lost after connecting says so, once', () => {
		const { socket, seen } = open();
		sockets.last.handshake();
		sockets.last.drop(-1);
		socket.close();
		loop.advance(10);
		assert.deepEqual(seen.closed, ['connection lost (securesocket -1 disconnected)']);
	});

	it('close() from inside the data callback reports closed at once and closes the native socket on the next turn', () => {
		let socket: Socket | undefined;
		const opened = open(OPTIONS, { data: () => socket!.close() });
		socket = opened.socket;
		const s = sockets.last;
		s.handshake();
		s.receive(pattern(10));
		assert.deepEqual(opened.seen.closed, [undefined]);
		assert.equal(s.state, 'open', 'not closed inside its own callback');
		loop.turn();
		assert.equal(s.state, 'closed');
	});

	it("a throw from the link inside a callback closes once with the reason, not as securesocket's generic -2", () => {
		const { seen } = open(OPTIONS, {
			data: () => {
				throw new Error('bad frame');
			},
		});
		sockets.last.handshake();
		sockets.last.receive(pattern(4));
		loop.turn();
		assert.deepEqual(seen.closed, ['socket callback: bad frame']);
		assert.equal(sockets.last.state, 'closed');
	});

	it('after close nothing more is written or reported', () => {
		const { socket, seen } = open();
		const s = sockets.last;
		s.handshake();
		socket.close();
		socket.write(Uint8Array.of(1));
		s.receive(Uint8Array.of(2)); // the native socket is still open until the next turn
		s.writable();
		loop.turn();
		assert.equal(s.records.length, 0);
		assert.deepEqual(seen.data, []);
		assert.deepEqual(seen.closed, [undefined]);
	});
});
