/*
 * Reply bytes towards an ECMA-419 stream (TCP socket, serial port). Such a stream takes
 * at most what its last onWritable reported (lin TCP throws "would block" past it, the
 * ESP32 UART "output full" past its FIFO), so lines wait here and go out in pieces as
 * room is reported. Bounded: a rig that sends without reading loses replies (logged),
 * the device keeps its memory.
 */
import type { LogPort } from '../../ports';
import { utf8Encode } from '../util/utf8';

export const MAX_QUEUED_BYTES = 8192;

export class Output {
	readonly #write: (bytes: ArrayBuffer) => void;
	readonly #log: LogPort;
	#queue: Uint8Array[] = [];
	#queued = 0;
	/** Bytes the stream said it takes now. */
	#room = 0;

	constructor(write: (bytes: ArrayBuffer) => void, log: LogPort) {
		this.#write = write;
		this.#log = log;
	}

	send(line: string): void {
		const bytes = utf8Encode(line + '\n');
		if (this.#queued + bytes.length > MAX_QUEUED_BYTES) {
			this.#log.log('warn', 'testcmd.reply_dropped', { bytes: bytes.length, queued: this.#queued });
			return;
		}
		this.#queue.push(bytes);
		this.#queued += bytes.length;
		this.#flush();
	}

	/** The stream's onWritable: it takes `room` bytes now. */
	writable(room: number): void {
		this.#room = room;
		this.#flush();
	}

	#flush(): void {
		while (this.#room > 0 && this.#queue.length > 0) {
			const head = this.#queue[0]!;
			const n = Math.min(this.#room, head.length);
			// slice: an ArrayBuffer of exactly n bytes (the ESP32 serial takes only ArrayBuffers)
			this.#write(head.slice(0, n).buffer);
			this.#room -= n;
			this.#queued -= n;
			if (n === head.length) this.#queue.shift();
			else this.#queue[0] = head.subarray(n);
		}
	}
}
