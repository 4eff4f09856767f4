/*
 * Fake of the SDK's `securesocket` (modules/crypt/securesocket/securesocket.js and
 * modsecuresocket.c, over modules/network/socket), driven by the test through `sockets`.
 * What it keeps from the SDK:
 * - The constructor throws when the TLS session cannot be made (Session parses the key and
 *   certificates: `PKCS8.parse` "RSA only" for an EC key, ber.js); test: `failNextConstruct`.
 * - `callback` messages: 1 after the handshake; 2 readable with at most 1024 plain bytes per
 *   message (messageHandler caps it), readable through `read(ArrayBuffer)` inside that
 *   callback only (this.data is deleted after it: outside, `read` throws a TypeError, and
 *   with the bytes all read it answers undefined); 3 writable only once handshaken and only
 *   when the plain socket's room is over 128, with value = room - 128; -1 disconnected or
 *   -2 error, after which the socket closes itself and says nothing more.
 * - A throw out of the app's callback is caught by securesocket and becomes -2, then close.
 * - `write()` answers the plain socket's room minus 128 (0 under 128); `write(data...)`
 *   throws "can't write all data" when the data is longer; each call is one TLS record
 *   (29 bytes of AES-GCM overhead taken from the room; the room comes back when the test
 *   says the socket drained, `writable(room)`). After close, `write` throws (this.sock is gone).
 * - Closing the socket from inside its own callback frees the lin socket under its native
 *   caller (mcsim dies with SIGSEGV, seen on 8.2.3): recorded in `violations` and thrown.
 */
import { utf8Encode } from '../../../../core/util/utf8';

/** One TLS record's bytes on top of its plaintext with AES-GCM: header 5, explicit nonce 8, tag 16 (ssl_record.js). */
export const RECORD_OVERHEAD = 29;
/** lin's plain socket transmit buffer (network/socket/lin/modSocket.c). */
export const LIN_ROOM = 1024;

type State = 'connecting' | 'open' | 'closed';

export class FakeSecureSocket {
	readonly dict: Record<string, unknown>;
	callback: ((message: number, value?: number) => void) | undefined;
	state: State = 'connecting';
	/** When set, a write of data throws this (lin modSocket.c: "write failed" once the peer has gone). */
	failWrite: string | undefined;
	/** The plain socket's free transmit room. */
	room = LIN_ROOM;
	/** Plaintext of every write call, one entry per TLS record. */
	readonly records: Uint8Array[] = [];
	#data: { bytes: Uint8Array; position: number } | undefined;
	#depth = 0;

	constructor(dict: Record<string, unknown>) {
		if (sockets.failNextConstruct) {
			const why = sockets.failNextConstruct;
			sockets.failNextConstruct = undefined;
			throw new Error(why);
		}
		if (typeof dict.host !== 'string' || !dict.host) throw new Error('host required'); // socket/lin/modSocket.c: IPv4 name or address
		this.dict = dict;
		sockets.all.push(this);
	}

	// ---- the SDK's surface ----
	read(type: unknown, until?: number): ArrayBuffer | undefined {
		if (type !== ArrayBuffer) throw new Error('fake securesocket: only read(ArrayBuffer) is modelled');
		const d = this.#data;
		if (!d) throw new TypeError('cannot coerce undefined to object'); // this.data deleted outside the readable callback
		let n = d.bytes.length - d.position;
		if (n === 0) return undefined;
		if (until !== undefined && until < n) n = until;
		const out = d.bytes.slice(d.position, d.position + n);
		d.position += n;
		return out.buffer;
	}
	write(...data: unknown[]): number | undefined {
		if (this.state === 'closed') throw new TypeError('cannot coerce undefined to object'); // this.sock deleted by close()
		const available = this.room < 128 ? 0 : this.room - 128;
		if (data.length === 0) return available;
		if (this.failWrite) throw new Error(this.failWrite); // the plain socket's write failed (modSocket.c "write failed": the peer is gone)
		const parts: Uint8Array[] = [];
		for (const d of data) {
			if (typeof d === 'string') parts.push(utf8Encode(d));
			else if (d instanceof ArrayBuffer) parts.push(new Uint8Array(d.slice(0)));
			else if (ArrayBuffer.isView(d)) parts.push(new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)));
			else if (typeof d === 'number') parts.push(Uint8Array.of(d));
			else throw new Error('unsupported type for write');
		}
		const needed = parts.reduce((n, p) => n + p.length, 0);
		if (needed > available) throw new Error("can't write all data");
		const record = new Uint8Array(needed);
		let at = 0;
		for (const p of parts) {
			record.set(p, at);
			at += p.length;
		}
		this.records.push(record);
		this.room -= needed + RECORD_OVERHEAD;
		return undefined;
	}
	close(): void {
		if (this.#depth > 0) {
			const v = 'close() inside its own callback (on lin this frees the socket under its native caller: SIGSEGV)';
			sockets.violations.push(v);
			throw new Error(v);
		}
		this.state = 'closed';
		this.#data = undefined;
	}

	// ---- the network, as the test plays it ----
	/** The TLS handshake completed. */
	handshake(): void {
		this.#expect('connecting');
		this.state = 'open';
		this.#deliver(1);
	}
	/** Plain bytes arrived: delivered in messages of at most 1024 bytes, each readable only during its callback. */
	receive(bytes: Uint8Array): void {
		this.#expect('open');
		for (let at = 0; at < bytes.length && (this.state as State) === 'open'; at += 1024) {
			const piece = bytes.slice(at, at + 1024);
			this.#data = { bytes: piece, position: 0 };
			this.#deliver(2, piece.length);
			this.#data = undefined; // unread bytes are dropped with this.data
		}
	}
	/** The plain socket drained to `room` free bytes. */
	writable(room = LIN_ROOM): void {
		if (this.state === 'closed') return;
		this.room = room;
		if (this.state === 'open' && room > 128) this.#deliver(3, room - 128);
	}
	/** The connection ended: -1 disconnected, -2 error (a TLS alert, a failed certificate check, a reset). */
	drop(message: -1 | -2): void {
		if (this.state === 'closed') return;
		this.#deliver(message);
		if ((this.state as State) !== 'closed') this.close();
	}

	get written(): Uint8Array {
		const n = this.records.reduce((s, r) => s + r.length, 0);
		const out = new Uint8Array(n);
		let at = 0;
		for (const r of this.records) {
			out.set(r, at);
			at += r.length;
		}
		return out;
	}

	#expect(s: State): void {
		if (this.state !== s) throw new Error('fake securesocket: expected ' + s + ', is ' + this.state);
	}
	#deliver(message: number, value?: number): void {
		if (this.state === 'closed' || !this.callback) return;
		this.#depth++;
		let threw = false;
		try {
			this.callback(message, value);
		} catch {
			threw = true; // securesocket.js catches it: closing = Socket.error
		} finally {
			this.#depth--;
		}
		if (threw && message >= 0 && (this.state as State) !== 'closed') {
			this.#data = undefined;
			this.#deliver(-2);
			this.close();
		}
	}
}

export const sockets = {
	all: [] as FakeSecureSocket[],
	violations: [] as string[],
	failNextConstruct: undefined as string | undefined,
	get last(): FakeSecureSocket {
		const s = this.all[this.all.length - 1];
		if (!s) throw new Error('no SecureSocket was made');
		return s;
	},
	reset(): void {
		this.all.length = 0;
		this.violations.length = 0;
		this.failNextConstruct = undefined;
	},
};

export default FakeSecureSocket;
