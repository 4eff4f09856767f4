/*
 * The platform-free halves of an HTTP exchange (ports.ts HttpPort), for an adapter over a
 * client that asks for body bytes and hands over response bytes piecemeal (the Moddable
 * one, platform/moddable/http.ts):
 *
 * - BodyPump pulls a request's streamed body chunk by chunk and hands it out in pieces
 *   no larger than the caller asks for, so one chunk is in memory; a body that yields
 *   fewer or more bytes than it declared, or not a Uint8Array, or throws, is a failure.
 * - ResponseCollector sends a 2xx body to `onData` when the request has one; any other
 *   body is kept whole, up to `maxWhole` bytes (an error document beyond is truncated, a
 *   success body beyond is a failure: it needs onData).
 *
 * Neither throws for what the request's callbacks do: a failure comes back as text, and
 * the adapter ends the exchange with it.
 */
import type { HttpRequest, HttpResponse } from '../../ports';

function message(e: unknown): string {
	return e instanceof Error ? e.message : String(e);
}

export class BodyPump {
	readonly #body: NonNullable<HttpRequest['body']>;
	#pending: Uint8Array | undefined;
	#sent = 0;
	#ended = false;
	#error: string | undefined;

	constructor(body: NonNullable<HttpRequest['body']>) {
		this.#body = body;
	}

	/** Bytes handed out so far. */
	get sent(): number {
		return this.#sent;
	}

	/** The body said it has no more (whether or not that was a failure). */
	get ended(): boolean {
		return this.#ended;
	}

	/** Why the body failed, once it has; `take` then answers undefined. */
	get error(): string | undefined {
		return this.#error;
	}

	/** Up to `max` (> 0) bytes of body, or undefined at its end or on a failure (see `error`). */
	take(max: number): Uint8Array | undefined {
		const body = this.#body;
		while (!this.#pending || this.#pending.length === 0) {
			if (this.#ended || this.#error !== undefined) return undefined;
			let chunk: Uint8Array | undefined;
			try {
				chunk = body.next();
			} catch (e) {
				return this.#fail('body.next threw: ' + message(e));
			}
			if (chunk === undefined) {
				this.#ended = true;
				if (this.#sent !== body.length) return this.#fail('body yielded ' + this.#sent + ' of ' + body.length + ' declared bytes');
				return undefined;
			}
			if (!(chunk instanceof Uint8Array)) return this.#fail('body.next: expected a Uint8Array');
			this.#pending = chunk;
		}
		const pending = this.#pending;
		const piece = pending.length <= max ? pending : pending.subarray(0, max);
		this.#pending = pending.length <= max ? undefined : pending.subarray(max);
		if (this.#sent + piece.length > body.length) return this.#fail('body yielded more than ' + body.length + ' declared bytes');
		this.#sent += piece.length;
		return piece;
	}

	#fail(error: string): undefined {
		this.#error = error;
		return undefined;
	}
}

export class ResponseCollector {
	readonly #onData: ((chunk: Uint8Array) => void) | undefined;
	readonly #maxWhole: number;
	#status = 0;
	#stream = false;
	readonly #headers: Record<string, string> = {};
	readonly #chunks: Uint8Array[] = [];
	#size = 0;

	constructor(onData: ((chunk: Uint8Array) => void) | undefined, maxWhole: number) {
		this.#onData = onData;
		this.#maxWhole = maxWhole;
	}

	/** 0 until the status line came. */
	get status(): number {
		return this.#status;
	}

	setStatus(status: number): void {
		this.#status = status;
		this.#stream = this.#onData !== undefined && status >= 200 && status < 300;
	}

	/** Header names are kept lower case; a repeated header's values are joined with ", ". */
	header(name: string, value: string): void {
		const n = name.toLowerCase();
		const had = this.#headers[n];
		this.#headers[n] = had === undefined ? value : had + ', ' + value;
	}

	/** Takes `bytes` (kept, not copied); a failure text ends the exchange. */
	data(bytes: Uint8Array): string | undefined {
		if (this.#stream) {
			try {
				this.#onData!(bytes);
			} catch (e) {
				return 'onData threw: ' + message(e);
			}
			return undefined;
		}
		const room = this.#maxWhole - this.#size;
		this.#size += bytes.length;
		if (this.#size > this.#maxWhole) {
			// a success body this large needs onData; an error document is kept up to the limit
			if (this.#status >= 200 && this.#status < 300) return 'response body over ' + this.#maxWhole + ' bytes: stream it with onData';
			if (room > 0) this.#chunks.push(bytes.subarray(0, room));
			return undefined;
		}
		this.#chunks.push(bytes);
		return undefined;
	}

	/** The response: the whole body (empty when streamed), at most `maxWhole` bytes. */
	response(): HttpResponse {
		const whole = new Uint8Array(Math.min(this.#size, this.#maxWhole));
		let at = 0;
		for (const c of this.#chunks) {
			whole.set(c, at);
			at += c.length;
		}
		return { status: this.#status, headers: this.#headers, body: whole };
	}
}
