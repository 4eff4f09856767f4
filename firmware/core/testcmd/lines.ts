/*
 * Line framing for the test-control channel: a serial console (or a process's stdin)
 * delivers bytes in arbitrary pieces; commands and replies are one JSON object per
 * line. The reader keeps at most one line (`MAX_LINE_BYTES`): a longer one is
 * reported once as `overlong` and skipped up to its newline, so a stuck sender or
 * noise on the wire cannot grow memory on the device.
 */
import { utf8Decode } from '../util/utf8';

/** A command is a few dozen bytes; a status reply a few hundred. */
export const MAX_LINE_BYTES = 1024;

export type LineEvent = { readonly kind: 'line'; readonly text: string } | { readonly kind: 'overlong'; readonly bytes: number } | { readonly kind: 'bad-utf8' };

export class LineReader {
	readonly #buffer: Uint8Array;
	#length = 0;
	/** Bytes of an overlong line seen so far; undefined while not inside one. */
	#skipping: number | undefined;

	constructor(maxBytes = MAX_LINE_BYTES) {
		if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError('"maxBytes" expected a positive integer, got ' + maxBytes);
		this.#buffer = new Uint8Array(maxBytes);
	}

	/** Feeds what arrived; answers the lines it completed, in order. `\r\n` and `\n` both end a line. */
	push(chunk: Uint8Array): LineEvent[] {
		const out: LineEvent[] = [];
		for (let i = 0; i < chunk.length; i++) {
			const c = chunk[i]!;
			if (c === 0x0a) {
				if (this.#skipping !== undefined) out.push({ kind: 'overlong', bytes: this.#skipping });
				else out.push(this.#take());
				this.#skipping = undefined;
				this.#length = 0;
				continue;
			}
			if (this.#skipping !== undefined) {
				this.#skipping++;
				continue;
			}
			if (this.#length === this.#buffer.length) {
				this.#skipping = this.#length + 1;
				this.#length = 0;
				continue;
			}
			this.#buffer[this.#length++] = c;
		}
		return out;
	}

	#take(): LineEvent {
		let end = this.#length;
		if (end > 0 && this.#buffer[end - 1] === 0x0d) end--;
		const text = utf8Decode(this.#buffer, 0, end);
		return text === undefined ? { kind: 'bad-utf8' } : { kind: 'line', text };
	}
}
