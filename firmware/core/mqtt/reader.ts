/*
 * Turns an arbitrarily fragmented byte stream into packets. Holds at most one
 * partial packet, bounded by `maxPacket`: a hostile length is refused from the
 * fixed header before anything is buffered for it.
 */
import { decode } from './codec';
import type { Packet } from './packet';

export type ReadResult = { readonly ok: true; readonly packets: Packet[] } | { readonly ok: false; readonly rule: string; readonly message: string };

export class PacketReader {
	#buf: Uint8Array;
	#len = 0;
	#broken = false;

	constructor(readonly maxPacket: number) {
		if (!Number.isInteger(maxPacket) || maxPacket < 16) throw new RangeError('"maxPacket" expected an integer >= 16, got ' + maxPacket);
		this.#buf = new Uint8Array(Math.min(maxPacket, 1024));
	}

	/** Bytes held for a packet not yet complete. */
	get pending(): number {
		return this.#len;
	}

	/**
	 * Feeds bytes; returns every packet they complete, in order. After a `bad`
	 * result the stream is unusable and the reader refuses further input: the
	 * caller closes the connection and makes a new reader for the next one.
	 */
	push(bytes: Uint8Array): ReadResult {
		if (this.#broken) return { ok: false, rule: 'closed', message: 'reader already failed' };
		const packets: Packet[] = [];
		let input = bytes;
		while (input.length > 0 || this.#len > 0) {
			let view: Uint8Array;
			if (this.#len === 0) view = input;
			else {
				this.#append(input);
				input = input.subarray(input.length);
				view = this.#buf.subarray(0, this.#len);
			}
			const d = decode(view, this.maxPacket);
			if (d.kind === 'bad') {
				this.#broken = true;
				this.#len = 0;
				return { ok: false, rule: d.rule, message: d.message };
			}
			if (d.kind === 'more') {
				if (this.#len === 0) this.#append(input);
				break;
			}
			packets.push(d.packet);
			if (this.#len === 0) input = input.subarray(d.used);
			else {
				this.#buf.copyWithin(0, d.used, this.#len);
				this.#len -= d.used;
				if (this.#len === 0) break;
			}
		}
		return { ok: true, packets };
	}

	#append(bytes: Uint8Array): void {
		const need = this.#len + bytes.length;
		if (need > this.#buf.length) {
			// decode() has already refused any packet above maxPacket, so growth stops there;
			// bytes of a following packet can add at most what one read delivered
			const grown = new Uint8Array(Math.max(need, Math.min(this.#buf.length * 2, this.maxPacket)));
			grown.set(this.#buf.subarray(0, this.#len));
			this.#buf = grown;
		}
		this.#buf.set(bytes, this.#len);
		this.#len = need;
	}
}
