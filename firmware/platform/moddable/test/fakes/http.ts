/*
 * Fake of the SDK's HTTP client, `Request` of modules/network/http/http.js, driven by the test.
 * What it keeps from http.js (and from what tools/sdk-facts.ts saw it do on 8.2.3, lin):
 * - new Request(dict) makes its socket at once with `new dict.Socket(dict)` (default a plain
 *   socket), so `dict.secure` reaches securesocket; `request.socket` is that socket.
 * - Connected (test: `connect()`), it writes the request head: method, path, "Connection: close",
 *   the caller's headers, a content-length only for a string/ArrayBuffer body it has none for,
 *   and `Host: <host>` (no port) unless the caller gave a Host header.
 * - A body of `true` is pulled: on each writable event (test: `writable(room)`) the callback gets
 *   message 0 (requestFragment) with socket.write()'s room; what it returns is written; undefined
 *   ends the body (seen: asked twice for a one-piece body, the second answer undefined).
 * - While the body is being sent an answer from the server is not read (state 2): `respond`
 *   then does nothing, and the request ends only when the server closes (test: `fail()`).
 * - The answer: 1 status (a number), 2 header (name lowercased, value) for each, 3
 *   headersComplete, 4 responseFragment (value: bytes available; read them with
 *   `read(ArrayBuffer, n)`, what is left unread is skipped), then 5 responseComplete, after which
 *   http.js closes the request itself. A close by the server before the end: -2 (Request.error;
 *   the 8.2.3 typings say -1), then the request closes itself. Static message numbers as http.js.
 * - Closing the request from inside its own callback is what the adapter must not do (it frees
 *   the lin socket under its caller): recorded in `requests.violations` and thrown.
 */
import type { FakeSecureSocket } from './securesocket';

/** A plain TCP socket as http.js uses it: write() answers the room (socket/lin: a 1024-byte transmit buffer). */
export class FakePlainSocket {
	room = 1024;
	readonly records: Uint8Array[] = [];
	state: 'open' | 'closed' = 'open';
	constructor(readonly dict: Record<string, unknown>) {}
	write(...data: (ArrayBuffer | ArrayBufferView | string)[]): number | undefined {
		if (this.state === 'closed') throw new TypeError('socket closed');
		if (data.length === 0) return this.room;
		for (const d of data) {
			const b = typeof d === 'string' ? Uint8Array.from(d, (c) => c.charCodeAt(0)) : d instanceof ArrayBuffer ? new Uint8Array(d.slice(0)) : new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
			if (b.length > this.room) throw new Error('fake socket: write of ' + b.length + ' with ' + this.room + ' free');
			this.records.push(b);
			this.room -= b.length;
		}
		return undefined;
	}
	close(): void {
		this.state = 'closed';
	}
}

type AnySocket = FakeSecureSocket | FakePlainSocket;

export class Request {
	static readonly requestFragment = 0;
	static readonly status = 1;
	static readonly header = 2;
	static readonly headersComplete = 3;
	static readonly responseFragment = 4;
	static readonly responseComplete = 5;
	static readonly error = -2;

	callback: ((message: number, value?: unknown, etc?: unknown) => unknown) | undefined;
	socket: AnySocket | undefined;
	readonly dict: Record<string, unknown>;
	/** 0 connecting, 2 sending the body, 3 waiting for the answer, 5 reading it, 6 done, 11 closed (http.js states). */
	state = 0;
	/** The request head as written, and the body bytes written after it. */
	head = '';
	readonly body: Uint8Array[] = [];
	#data: { bytes: Uint8Array; position: number } | undefined;
	#depth = 0;

	constructor(dict: Record<string, unknown>) {
		this.dict = { port: 80, method: 'GET', path: '/', ...dict };
		const S = (this.dict.Socket ?? FakePlainSocket) as new (d: Record<string, unknown>) => AnySocket;
		this.socket = new S(this.dict);
		requests.all.push(this);
	}

	read(type: unknown, limit?: number): ArrayBuffer | undefined {
		if (type !== ArrayBuffer) throw new Error('fake http: only read(ArrayBuffer, n) is modelled');
		const d = this.#data;
		if (!d) return undefined;
		let n = d.bytes.length - d.position;
		if (limit !== undefined && limit < n) n = limit;
		if (n <= 0) return undefined;
		const out = d.bytes.slice(d.position, d.position + n);
		d.position += n;
		return out.buffer;
	}
	close(): void {
		if (this.#depth > 0) {
			const v = 'Request.close() inside its own callback (frees the lin socket under its caller)';
			requests.violations.push(v);
			throw new Error(v);
		}
		this.socket?.close();
		this.socket = undefined;
		this.callback = undefined;
		this.state = 11;
		requests.closes++;
	}

	// ---- the network, as the test plays it ----
	/** The socket connected (and, for https, the handshake is done): the head goes out, then the body if there is one. */
	connect(): void {
		if (this.state !== 0) throw new Error('fake http: connect() in state ' + this.state);
		const d = this.dict;
		const headers = (d.headers ?? []) as (string | number)[];
		let head = d.method + ' ' + d.path + ' HTTP/1.1\r\nConnection: close\r\n';
		let host: string | undefined = String(d.host ?? d.address);
		let length = false;
		for (let i = 0; i < headers.length; i += 2) {
			const name = String(headers[i]);
			head += name + ': ' + String(headers[i + 1]) + '\r\n';
			if (name.toLowerCase() === 'content-length') length = true;
			if (name.toLowerCase() === 'host') host = undefined;
		}
		const body = d.body;
		if (body !== undefined && body !== true && !length) head += 'content-length: ' + (body instanceof ArrayBuffer ? body.byteLength : String(body).length) + '\r\n';
		if (host) head += 'Host: ' + host + '\r\n';
		this.head = head + '\r\n';
		this.state = body === undefined ? 3 : 2;
		if (body !== undefined && body !== true) {
			this.body.push(typeof body === 'string' ? Uint8Array.from(body, (c) => c.charCodeAt(0)) : new Uint8Array(body as ArrayBuffer));
			this.state = 3;
		} else if (body === true) this.writable();
	}
	/** The socket can take more (room: its free bytes now): http.js asks for the next body fragment. */
	writable(room?: number): void {
		const s = this.socket;
		if (this.state !== 2 || !s) return;
		if (room !== undefined) s.room = room;
		const fragment = this.#deliver(0, s.write());
		if (this.state !== 2) return; // closed meanwhile
		if (fragment === undefined) {
			this.state = 3;
			return;
		}
		s.write(fragment as ArrayBuffer);
	}
	/** The server answers. Not read while the body is still being sent (http.js's state 2). */
	respond(status: number, headers: Record<string, string>, body: Uint8Array = new Uint8Array(0), fragment = 1024): void {
		if (this.state !== 3) {
			requests.ignored++;
			return;
		}
		this.state = 5;
		if (!this.#deliver(1, status, undefined, true)) return;
		const all: Record<string, string> = { ...headers, 'content-length': String(body.length) };
		for (const [name, value] of Object.entries(all)) if (!this.#deliver(2, name.toLowerCase(), value, true)) return;
		if (!this.#deliver(3, undefined, undefined, true)) return;
		for (let at = 0; at < body.length; at += fragment) {
			const piece = body.slice(at, at + fragment);
			this.#data = { bytes: piece, position: 0 };
			const ok = this.#deliver(4, piece.length, undefined, true);
			this.#data = undefined;
			if (!ok) return;
		}
		this.state = 6;
		this.#deliver(5, undefined, undefined, true);
		if (this.state === 6) this.close();
	}
	/** The server closed (or reset) before the answer ended: -2, then the request closes itself. */
	fail(): void {
		if (this.state >= 6) return;
		this.state = 6;
		this.#deliver(-2);
		if (this.state === 6) this.close();
	}

	get sentBody(): Uint8Array {
		const s = this.socket;
		const parts = [...this.body, ...(s ? s.records : [])];
		const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
		let at = 0;
		for (const p of parts) {
			out.set(p, at);
			at += p.length;
		}
		return out;
	}

	/** Calls the app's callback; answers what it returned, or false (with `alive`) when the request was closed. */
	#deliver(message: number, value?: unknown, etc?: unknown, alive = false): unknown {
		const cb = this.callback;
		if (!cb || this.state === 11) return alive ? false : undefined;
		this.#depth++;
		try {
			const r = cb(message, value, etc);
			return alive ? this.state !== 11 : r;
		} finally {
			this.#depth--;
		}
	}
}

export const requests = {
	all: [] as Request[],
	violations: [] as string[],
	/** Answers http.js did not read (sent while the body was still going out). */
	ignored: 0,
	/** Request.close() calls that went through. */
	closes: 0,
	get last(): Request {
		const r = this.all[this.all.length - 1];
		if (!r) throw new Error('no Request was made');
		return r;
	},
	reset(): void {
		this.all.length = 0;
		this.violations.length = 0;
		this.ignored = 0;
		this.closes = 0;
	},
};
