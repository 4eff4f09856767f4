/*
 * One test-control session over a byte stream: bytes in (any pieces), reply lines out.
 * Framing errors (an overlong line, bad UTF-8) get a refusal with no id, since the id
 * could not be read. Shared by every transport: the simulator's stdin, a board's
 * console UART, the lin build's TCP listener.
 */
import type { TestControl } from './control';
import { LineReader, MAX_LINE_BYTES } from './lines';
import { formatReply } from './protocol';

export interface TestSession {
	/** Feeds what arrived; answers the reply lines to send back (without newline), in order. */
	push(bytes: Uint8Array): string[];
}

export function createTestSession(control: TestControl, maxBytes = MAX_LINE_BYTES): TestSession {
	const reader = new LineReader(maxBytes);
	return {
		push(bytes) {
			const out: string[] = [];
			for (const e of reader.push(bytes)) {
				if (e.kind === 'line') {
					// a blank line (a human pressing enter on a console) is not a request
					if (e.text.trim() !== '') out.push(control.handle(e.text));
				} else {
					out.push(formatReply({ reply: null, ok: false, error: { code: 'bad', reason: e.kind === 'overlong' ? `line over ${maxBytes} bytes` : 'not UTF-8' } }));
				}
			}
			return out;
		},
	};
}
