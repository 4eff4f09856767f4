/*
 * Fake of ECMA-419 `embedded:io/socket/tcp` as the lin build has it (modules/io/socket/lin/tcp.c),
 * for sockets a listener accepted (`new TCP({from})`), driven by the test. From tcp.c:
 * - A read buffer of 1536 bytes (kBufferSize): onReadable(n) reports ALL bytes waiting, not the
 *   new ones; read() takes them all, read(n) n of them, more than waiting throws "invalid";
 *   nothing waiting: undefined.
 * - Writable: when the kernel takes more, bytesWritable goes back to 1536 and onWritable(1536);
 *   write(buffer) of more than bytesWritable throws "would block"; a write to a closed socket is
 *   traced and ignored.
 * - The peer closing: onError once nothing is left to read (after the last read otherwise).
 * - `new TCP({from})` takes the accepted socket over; `from` is then used up: a second adoption
 *   throws "C: xsGetHostData: invalid host data" (seen on 8.2.3, tools/sdk-facts.ts).
 */
export const TCP_BUFFER = 1536;

export default class TCP {
	#adopted = false;
	#open = true;
	#readable = new Uint8Array(0);
	#writable = 0;
	#error = false;
	readonly written: Uint8Array[] = [];
	readonly options: Record<string, unknown>;
	onReadable: ((this: TCP, n: number) => void) | undefined;
	onWritable: ((this: TCP, n: number) => void) | undefined;
	onError: ((this: TCP) => void) | undefined;

	constructor(options: Record<string, unknown> = {}) {
		this.options = options;
		if (options.from === undefined) return; // what the listener fills (listener.js: read() passes `new TCP`)
		const from = options.from;
		if (!(from instanceof TCP) || from.#adopted || !from.#open) throw new Error('C: xsGetHostData: invalid host data');
		from.#adopted = true;
		from.#open = false;
		this.#readable = from.#readable;
		this.onReadable = options.onReadable as TCP['onReadable'];
		this.onWritable = options.onWritable as TCP['onWritable'];
		this.onError = options.onError as TCP['onError'];
		tcpFake.all.push(this);
	}
	get isOpen(): boolean {
		return this.#open;
	}
	read(n?: number): ArrayBuffer | undefined {
		if (!this.#readable.length) return undefined;
		const count = n === undefined ? this.#readable.length : Math.trunc(n);
		if (count <= 0 || count > this.#readable.length) throw new Error('invalid');
		const out = this.#readable.slice(0, count);
		this.#readable = this.#readable.slice(count);
		if (this.#error && !this.#readable.length) this.onError?.call(this);
		return out.buffer;
	}
	write(data: ArrayBuffer | ArrayBufferView): number | undefined {
		if (!this.#open) return undefined; // "write to closed socket" traced
		const b = data instanceof ArrayBuffer ? new Uint8Array(data.slice(0)) : new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
		if (b.length > this.#writable) throw new Error('would block');
		this.#writable -= b.length;
		this.written.push(b);
		return this.#writable;
	}
	close(): void {
		this.#open = false;
	}

	// ---- the network, as the test plays it ----
	/** Bytes arrived (at most what the 1536-byte buffer still holds). */
	receive(bytes: Uint8Array): void {
		if (!this.#open) return;
		const room = TCP_BUFFER - this.#readable.length;
		const take = bytes.subarray(0, room);
		const next = new Uint8Array(this.#readable.length + take.length);
		next.set(this.#readable);
		next.set(take, this.#readable.length);
		this.#readable = next;
		this.onReadable?.call(this, this.#readable.length);
	}
	/** The kernel took what was written: room is back to 1536. */
	drain(): void {
		if (!this.#open || this.#writable === TCP_BUFFER) return;
		this.#writable = TCP_BUFFER;
		this.onWritable?.call(this, TCP_BUFFER);
	}
	/** The peer closed. */
	hangUp(): void {
		if (!this.#open) return;
		this.#error = true;
		if (!this.#readable.length) this.onError?.call(this);
	}
	get text(): string {
		return this.written.map((b) => String.fromCharCode(...b)).join('');
	}
}

export const tcpFake = {
	all: [] as TCP[],
	reset(): void {
		this.all.length = 0;
	},
};
