/*
 * Fake of ECMA-419 `embedded:io/serial` as the esp32 build has it (modules/io/serial/esp32/
 * serial.c), from the sources only (no ESP32 here). The UART's FIFOs are 128 bytes:
 * - The constructor throws RangeError "port in use" when a UART driver is already installed on
 *   the port (a debug build's xsbug connection on UART0): test `serialFake.inUse`.
 * - onReadable(n): n bytes in the receive FIFO; read(n) takes them; read() with none: undefined.
 * - write(buffer) of more than the transmit FIFO's free bytes throws "output full"; onWritable(n)
 *   when the FIFO drained (n free).
 */
export const FIFO = 128;

export default class Serial {
	readonly options: Record<string, unknown>;
	#rx = new Uint8Array(0);
	#txFree = FIFO;
	#open = true;
	readonly sent: Uint8Array[] = [];
	constructor(options: Record<string, unknown>) {
		const port = Number(options.port ?? 0);
		if (serialFake.inUse.includes(port)) throw new RangeError('port in use');
		this.options = options;
		serialFake.all.push(this);
	}
	read(n?: number): ArrayBuffer | undefined {
		if (!this.#rx.length) return undefined;
		const count = n === undefined ? this.#rx.length : Math.trunc(n);
		if (count <= 0) throw new Error('invalid');
		const out = this.#rx.slice(0, count);
		this.#rx = this.#rx.slice(count);
		return out.buffer;
	}
	write(data: ArrayBuffer | ArrayBufferView): void {
		const b = data instanceof ArrayBuffer ? new Uint8Array(data.slice(0)) : new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
		if (b.length > this.#txFree) throw new Error('output full');
		this.#txFree -= b.length;
		this.sent.push(b);
	}
	close(): void {
		this.#open = false;
	}
	get isOpen(): boolean {
		return this.#open;
	}

	// ---- the wire, as the test plays it ----
	receive(bytes: Uint8Array): void {
		const take = bytes.subarray(0, FIFO - this.#rx.length);
		const next = new Uint8Array(this.#rx.length + take.length);
		next.set(this.#rx);
		next.set(take, this.#rx.length);
		this.#rx = next;
		(this.options.onReadable as ((this: Serial, n: number) => void) | undefined)?.call(this, this.#rx.length);
	}
	/** The transmit FIFO emptied. */
	drain(): void {
		this.#txFree = FIFO;
		(this.options.onWritable as ((this: Serial, n: number) => void) | undefined)?.call(this, FIFO);
	}
	get text(): string {
		return this.sent.map((b) => String.fromCharCode(...b)).join('');
	}
}

export const serialFake = {
	all: [] as Serial[],
	inUse: [] as number[],
	reset(): void {
		this.all.length = 0;
		this.inUse = [];
	},
};
