/*
 * The robot's own log, kept in a small ring so it can be shipped on request.
 *
 * A release build's `trace` goes nowhere (no debugger, no console attached), so a robot
 * in the field that fails to connect leaves no trace an operator can read. Every log line
 * is therefore also kept here, as the JSON text it would print, numbered from 1 in the
 * order written; when the ring's bytes would pass its bound, the oldest lines go. Once the
 * robot connects, an operator asks for the lines (core/log/ship.ts over MQTT, or the
 * test-control `logs` command) and sees what happened while it could not.
 *
 * Memory: at most `bytes` of line text (UTF-8), plus one string and one array slot a
 * line. A line longer than `maxLine` keeps its time, level and event and drops its
 * fields (`"cut":true`), so one huge field cannot empty the ring. Lines below `level`
 * (default info: debug lines are chatty and cheap to reproduce) are not kept.
 *
 * Line format: {"n":<seq>,"t":<wall ms or null>,"m":<monotonic ms>,"l":"<level>","e":"<event>",...fields}
 */
import type { ClockPort, LogFields, LogLevel, LogPort } from '../../ports';
import { utf8Length } from '../util/utf8';

export interface RingOptions {
	/** Bytes of line text the ring holds at most (default 4096). */
	readonly bytes?: number;
	/** The longest line kept whole (default 512). */
	readonly maxLine?: number;
	/** Lines below this level are not kept (default info). */
	readonly level?: LogLevel;
}

/** Lines after `since`, up to a byte budget. */
export interface RingSlice {
	readonly lines: readonly string[];
	/** Sequence number of the last line in `lines` (or `since` when none). */
	readonly last: number;
	/** Lines after `last` remain. */
	readonly more: boolean;
	/** Lines after `since` the ring no longer holds (pushed out before they were read). */
	readonly lost: number;
}

const RANK: Readonly<Record<LogLevel, number>> = Object.freeze({ debug: 0, info: 1, warn: 2, error: 3 });

export class LogRing {
	readonly #clock: ClockPort;
	readonly #bytes: number;
	readonly #maxLine: number;
	readonly #level: number;
	#lines: string[] = [];
	#sizes: number[] = [];
	/** Sequence number of #lines[0]. */
	#first = 1;
	#used = 0;

	constructor(clock: ClockPort, options: RingOptions = {}) {
		const bytes = options.bytes ?? 4096;
		const maxLine = options.maxLine ?? 512;
		if (!Number.isInteger(bytes) || bytes < 256) throw new RangeError('"bytes" expected an integer >= 256, got ' + bytes);
		if (!Number.isInteger(maxLine) || maxLine < 128 || maxLine > bytes) throw new RangeError('"maxLine" expected an integer in 128..bytes, got ' + maxLine);
		const level = options.level ?? 'info';
		if (!(level in RANK)) throw new RangeError('"level" expected debug, info, warn or error, got ' + JSON.stringify(level));
		this.#clock = clock;
		this.#bytes = bytes;
		this.#maxLine = maxLine;
		this.#level = RANK[level];
	}

	/** Sequence number of the newest line (0 before the first). */
	get last(): number {
		return this.#first + this.#lines.length - 1;
	}

	/** The bound: bytes of line text the ring holds at most. */
	get capacity(): number {
		return this.#bytes;
	}

	/** Bytes of line text held now. */
	get used(): number {
		return this.#used;
	}

	record(level: LogLevel, event: string, fields?: LogFields): void {
		if (RANK[level] < this.#level) return;
		const seq = this.last + 1;
		const head = '{"n":' + seq + ',"t":' + (this.#clock.now() ?? null) + ',"m":' + Math.floor(this.#clock.monotonic()) + ',"l":"' + level + '","e":' + JSON.stringify(event);
		let text = head;
		if (fields) for (const k of Object.keys(fields)) if (fields[k] !== undefined) text += ',' + JSON.stringify(k) + ':' + JSON.stringify(fields[k]);
		text += '}';
		let size = utf8Length(text);
		if (size > this.#maxLine) {
			text = head + ',"cut":true}';
			size = utf8Length(text);
			// an event name alone over the bound: keep the line's place, not its name
			if (size > this.#maxLine) {
				text = '{"n":' + seq + ',"cut":true}';
				size = utf8Length(text);
			}
		}
		this.#lines.push(text);
		this.#sizes.push(size);
		this.#used += size;
		while (this.#used > this.#bytes) {
			this.#used -= this.#sizes.shift()!;
			this.#lines.shift();
			this.#first++;
		}
	}

	/** Lines numbered after `since`, oldest first, while their text fits `maxBytes` (at least one line). */
	read(since: number, maxBytes: number): RingSlice {
		if (!Number.isSafeInteger(since) || since < 0) throw new RangeError('"since" expected a non-negative integer, got ' + since);
		if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError('"maxBytes" expected a positive integer, got ' + maxBytes);
		const from = Math.max(since + 1, this.#first);
		const lost = Math.max(0, this.#first - (since + 1));
		const lines: string[] = [];
		let bytes = 0;
		let i = from - this.#first;
		for (; i < this.#lines.length; i++) {
			const size = this.#sizes[i]!;
			if (lines.length > 0 && bytes + size > maxBytes) break;
			lines.push(this.#lines[i]!);
			bytes += size + 1;
		}
		return { lines, last: lines.length ? this.#first + i - 1 : since, more: i < this.#lines.length, lost };
	}
}

/** A log port that writes to `inner` and keeps the line in `ring`. */
export function ringLog(inner: LogPort, ring: LogRing): LogPort {
	return {
		log(level, event, fields) {
			ring.record(level, event, fields);
			inner.log(level, event, fields);
		},
	};
}
