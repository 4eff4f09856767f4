/*
 * The outbox: QoS 1 messages waiting for their PUBACK. A durable entry is written
 * through the storage port before `add` returns, and is removed only when its
 * PUBACK arrives, so it survives a reboot at any point in between; the packet id it
 * was sent with is stored too, so a resend after reboot reuses it [MQTT-4.4.0-1].
 *
 * Bounded by count and bytes. Policy when full: `add` refuses the new message with
 * `full` and keeps everything already queued; nothing is ever dropped silently.
 * The producer (e.g. the mission module) keeps its data and tries again later.
 */
import type { LogPort, StoragePort } from '../../ports';
import { err, ok, type Result } from '../util/result';
import { utf8Decode, utf8Length, utf8Write } from '../util/utf8';

export interface OutboxLimits {
	readonly maxMessages: number;
	readonly maxBytes: number;
}

export const DEFAULT_OUTBOX: OutboxLimits = Object.freeze({ maxMessages: 32, maxBytes: 64 * 1024 });

export interface OutboxEntry {
	readonly seq: number;
	readonly topic: string;
	readonly payload: Uint8Array;
	readonly durable: boolean;
	/** 0 until first sent; then the id it is resent with. */
	packetId: number;
}

export type OutboxError =
	| { readonly code: 'full'; readonly messages: number; readonly bytes: number }
	| { readonly code: 'too-large'; readonly bytes: number; readonly limit: number };

const PREFIX = 'ob.';
const VERSION = 1;

function keyOf(seq: number): string {
	return PREFIX + seq.toString(36);
}

/** [version u8][packetId u16][topic length u16][topic][payload] */
function serialize(e: OutboxEntry): Uint8Array {
	const tl = utf8Length(e.topic);
	const out = new Uint8Array(5 + tl + e.payload.length);
	out[0] = VERSION;
	out[1] = e.packetId >> 8;
	out[2] = e.packetId & 0xff;
	out[3] = tl >> 8;
	out[4] = tl & 0xff;
	utf8Write(e.topic, out, 5);
	out.set(e.payload, 5 + tl);
	return out;
}

function parse(seq: number, b: Uint8Array): OutboxEntry | undefined {
	if (b.length < 5 || b[0] !== VERSION) return undefined;
	const tl = (b[3]! << 8) | b[4]!;
	if (5 + tl > b.length) return undefined;
	const topic = utf8Decode(b, 5, 5 + tl, true);
	if (!topic) return undefined;
	return { seq, topic, payload: b.slice(5 + tl), durable: true, packetId: (b[1]! << 8) | b[2]! };
}

function entryBytes(e: { topic: string; payload: Uint8Array }): number {
	return 5 + utf8Length(e.topic) + e.payload.length;
}

export class Outbox {
	readonly #storage: StoragePort;
	readonly #limits: OutboxLimits;
	readonly #log: LogPort;
	/** In seq order: the order messages were accepted. */
	#entries: OutboxEntry[] = [];
	#bytes = 0;
	#nextSeq = 1;

	constructor(storage: StoragePort, log: LogPort, limits: OutboxLimits = DEFAULT_OUTBOX) {
		if (!(limits.maxMessages >= 1) || !(limits.maxBytes >= 64)) throw new RangeError('"limits" expected maxMessages >= 1 and maxBytes >= 64');
		this.#storage = storage;
		this.#log = log;
		this.#limits = limits;
		this.#load();
	}

	get size(): number {
		return this.#entries.length;
	}

	get bytes(): number {
		return this.#bytes;
	}

	/** Entries in the order they were accepted. */
	entries(): readonly OutboxEntry[] {
		return this.#entries;
	}

	/** Accepts a message; a durable one is on storage when this returns ok. */
	add(topic: string, payload: Uint8Array, durable: boolean): Result<OutboxEntry, OutboxError> {
		const size = entryBytes({ topic, payload });
		if (size > this.#limits.maxBytes) return err({ code: 'too-large', bytes: size, limit: this.#limits.maxBytes });
		if (this.#entries.length >= this.#limits.maxMessages || this.#bytes + size > this.#limits.maxBytes)
			return err({ code: 'full', messages: this.#entries.length, bytes: this.#bytes });
		const entry: OutboxEntry = { seq: this.#nextSeq++, topic, payload, durable, packetId: 0 };
		if (durable) this.#storage.write(keyOf(entry.seq), serialize(entry));
		this.#entries.push(entry);
		this.#bytes += size;
		return ok(entry);
	}

	/** Records the packet id an entry went out with (persisted for durable entries). */
	assign(entry: OutboxEntry, packetId: number): void {
		entry.packetId = packetId;
		if (entry.durable) this.#storage.write(keyOf(entry.seq), serialize(entry));
	}

	/** Removes the entry sent with `packetId`; undefined for an id we do not know (a duplicate PUBACK). */
	acknowledge(packetId: number): OutboxEntry | undefined {
		if (packetId === 0) return undefined; // 0 marks "not sent yet", never an id on the wire [MQTT-2.3.1-1]
		const i = this.#entries.findIndex((e) => e.packetId === packetId);
		if (i < 0) return undefined;
		const [entry] = this.#entries.splice(i, 1);
		this.#bytes -= entryBytes(entry!);
		if (entry!.durable) this.#storage.remove(keyOf(entry!.seq));
		return entry;
	}

	/** Takes back an entry never sent (e.g. a request whose caller gave up); false once it is on the wire. */
	withdraw(seq: number): boolean {
		const i = this.#entries.findIndex((e) => e.seq === seq);
		if (i < 0 || this.#entries[i]!.packetId !== 0) return false;
		const [entry] = this.#entries.splice(i, 1);
		this.#bytes -= entryBytes(entry!);
		if (entry!.durable) this.#storage.remove(keyOf(entry!.seq));
		return true;
	}

	#load(): void {
		const found: OutboxEntry[] = [];
		for (const key of this.#storage.keys()) {
			if (key.slice(0, PREFIX.length) !== PREFIX) continue;
			const seq = parseInt(key.slice(PREFIX.length), 36);
			const bytes = this.#storage.read(key);
			const entry = Number.isSafeInteger(seq) && seq > 0 && bytes ? parse(seq, bytes) : undefined;
			if (!entry) {
				// a torn or foreign record: keeping it would block nothing but would never send either
				this.#log.log('error', 'outbox.corrupt', { key, bytes: bytes?.length ?? 0 });
				this.#storage.remove(key);
				continue;
			}
			found.push(entry);
		}
		found.sort((a, b) => a.seq - b.seq);
		for (const e of found) {
			this.#entries.push(e);
			this.#bytes += entryBytes(e);
			this.#nextSeq = e.seq + 1;
		}
		if (found.length) this.#log.log('info', 'outbox.loaded', { messages: found.length, bytes: this.#bytes });
	}
}
