/*
 * The outbox: QoS 1 messages waiting for their PUBACK. A durable entry is written
 * through the storage port before `add` returns, and is removed only when its
 * PUBACK arrives, so it survives a reboot at any point in between; the packet id it
 * was sent with is stored too, so a resend after reboot reuses it [MQTT-4.4.0-1].
 *
 * Bounded by count and bytes. Policy when full: `add` refuses the new message with
 * `full` and keeps everything already queued; nothing is ever dropped silently. A
 * store that cannot take the new entry is full too (`storage: true`): each entry has
 * its own key, written once, so a refused write never touches a queued one.
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
	/** No room: the queue's bound, or (`storage`) the store under it. Try again after a PUBACK. */
	| { readonly code: 'full'; readonly messages: number; readonly bytes: number; readonly storage?: true }
	| { readonly code: 'too-large'; readonly bytes: number; readonly limit: number }
	/** The store refused the write for another reason (its message): nothing was queued. */
	| { readonly code: 'storage-failed'; readonly message: string };

/** An entry as accepted (packet id 0); written once, never overwritten. */
const PREFIX = 'ob.';
/** The same entry once sent, with its packet id: written beside the `ob.` record, which is then dropped. */
const SENT = 'op.';
const VERSION = 1;

function keyOf(seq: number, sent = false): string {
	return (sent ? SENT : PREFIX) + seq.toString(36);
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
		if (this.#entries.length >= this.#limits.maxMessages || this.#bytes + size > this.#limits.maxBytes) return err({ code: 'full', messages: this.#entries.length, bytes: this.#bytes });
		const entry: OutboxEntry = { seq: this.#nextSeq, topic, payload, durable, packetId: 0 };
		if (durable) {
			// a new key: a refused write cannot touch what is already queued
			const w = this.#storage.write(keyOf(entry.seq), serialize(entry));
			if (!w.ok) {
				this.#log.log('warn', 'outbox.storage_refused', { topic, bytes: size, result: w.error, message: w.message, queued: this.#entries.length });
				return err(w.error === 'full' ? { code: 'full', messages: this.#entries.length, bytes: this.#bytes, storage: true } : { code: 'storage-failed', message: w.message });
			}
		}
		this.#nextSeq++;
		this.#entries.push(entry);
		this.#bytes += size;
		return ok(entry);
	}

	/**
	 * Records the packet id an entry went out with. A durable entry gets it on storage
	 * two-phase: the `op.` record is written beside the `ob.` one, which is then dropped
	 * (overwriting `ob.` in place could erase it and fail, losing the message). If the store
	 * refuses, the `ob.` record stays: after a reboot the message goes out with a new id
	 * (the cloud stores reports by mission id, so a second copy is stored once).
	 */
	assign(entry: OutboxEntry, packetId: number): void {
		entry.packetId = packetId;
		if (!entry.durable) return;
		const w = this.#storage.write(keyOf(entry.seq, true), serialize(entry));
		if (w.ok) this.#storage.remove(keyOf(entry.seq));
		else this.#log.log('warn', 'outbox.id_unsaved', { seq: entry.seq, packetId, result: w.error, message: w.message });
	}

	#removeStored(entry: OutboxEntry): void {
		if (!entry.durable) return;
		this.#storage.remove(keyOf(entry.seq, true));
		this.#storage.remove(keyOf(entry.seq));
	}

	/** Removes the entry sent with `packetId`; undefined for an id we do not know (a duplicate PUBACK). */
	acknowledge(packetId: number): OutboxEntry | undefined {
		if (packetId === 0) return undefined; // 0 marks "not sent yet", never an id on the wire [MQTT-2.3.1-1]
		const i = this.#entries.findIndex((e) => e.packetId === packetId);
		if (i < 0) return undefined;
		const [entry] = this.#entries.splice(i, 1);
		this.#bytes -= entryBytes(entry!);
		this.#removeStored(entry!);
		return entry;
	}

	/** Takes back an entry never sent (e.g. a request whose caller gave up); false once it is on the wire. */
	withdraw(seq: number): boolean {
		const i = this.#entries.findIndex((e) => e.seq === seq);
		if (i < 0 || this.#entries[i]!.packetId !== 0) return false;
		const [entry] = this.#entries.splice(i, 1);
		this.#bytes -= entryBytes(entry!);
		this.#removeStored(entry!);
		return true;
	}

	#load(): void {
		const bySeq = new Map<number, OutboxEntry>();
		const keys = this.#storage.keys();
		// `op.` records first: a sent entry's packet id wins over its older `ob.` record
		keys.sort((a, b) => (a.slice(0, SENT.length) === SENT ? 0 : 1) - (b.slice(0, SENT.length) === SENT ? 0 : 1));
		for (const key of keys) {
			const prefix = key.slice(0, PREFIX.length);
			if (prefix !== PREFIX && prefix !== SENT) continue;
			const seq = parseInt(key.slice(PREFIX.length), 36);
			const bytes = this.#storage.read(key);
			const entry = Number.isSafeInteger(seq) && seq > 0 && bytes ? parse(seq, bytes) : undefined;
			if (!entry) {
				// a torn or foreign record: keeping it would block nothing but would never send either
				this.#log.log('error', 'outbox.corrupt', { key, bytes: bytes?.length ?? 0 });
				this.#storage.remove(key);
				continue;
			}
			if (bySeq.has(seq)) {
				// power was lost between writing `op.` and dropping `ob.`: finish that step
				this.#storage.remove(key);
				continue;
			}
			bySeq.set(seq, entry);
		}
		const found = [...bySeq.values()];
		found.sort((a, b) => a.seq - b.seq);
		for (const e of found) {
			this.#entries.push(e);
			this.#bytes += entryBytes(e);
			this.#nextSeq = e.seq + 1;
		}
		if (found.length) this.#log.log('info', 'outbox.loaded', { messages: found.length, bytes: this.#bytes });
	}
}
