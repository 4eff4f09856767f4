/*
 * Fakes of the ports (firmware/ports.ts) for the core's tests. No Node module: these
 * run in the bare XS engine too. Time moves only when a test calls `advance`, bytes
 * arrive only when a test calls `deliver`, and randomness is a fixed number.
 */
import type { ClockPort, LogFields, LogLevel, LogPort, RandomPort, Socket, SocketEvents, SocketOptions, SocketPort, StoragePort, StorageWrite, TimerHandle, TimerPort } from '../../ports';
import { seededRandom as seededPort } from '../util/seeded-random';

// ---- time -----------------------------------------------------------------

interface PendingTimer {
	readonly id: number;
	readonly due: number;
	readonly callback: () => void;
}

export interface FakeTime {
	readonly clock: ClockPort;
	readonly timers: TimerPort;
	/** Monotonic ms now. */
	now(): number;
	/** Moves time forward by `ms`, firing due timers in due order (timers they set included). */
	advance(ms: number): void;
	/** Timers set and not yet fired or cleared. */
	pending(): number;
}

/** A clock that starts at `start` ms (not 0: a timestamp of 0 often means "never"). */
export function fakeTime(start = 1_000_000): FakeTime {
	let now = start;
	let nextId = 1;
	let timers: PendingTimer[] = [];
	const timerPort: TimerPort = {
		set(callback, ms) {
			const t = { id: nextId++, due: now + Math.max(0, ms), callback };
			timers.push(t);
			return t.id as unknown as TimerHandle;
		},
		clear(handle) {
			timers = timers.filter((t) => t.id !== (handle as unknown as number));
		},
	};
	return {
		clock: { now: () => now, monotonic: () => now },
		timers: timerPort,
		now: () => now,
		advance(ms) {
			const end = now + ms;
			for (;;) {
				let first: PendingTimer | undefined;
				for (const t of timers) if (t.due <= end && (!first || t.due < first.due || (t.due === first.due && t.id < first.id))) first = t;
				if (!first) break;
				const fire = first;
				timers = timers.filter((t) => t !== fire);
				now = Math.max(now, fire.due);
				fire.callback();
			}
			now = end;
		},
		pending: () => timers.length,
	};
}

// ---- sockets --------------------------------------------------------------

export interface FakeSocket extends Socket {
	readonly options: SocketOptions;
	/** Every `write`, one array per call, copied. */
	readonly writes: Uint8Array[];
	/** True once closed by either side. */
	closed: boolean;
	/** True when the code under test called `close()`. */
	closedByUs: boolean;
	/** The TCP/TLS connection is up. */
	connect(): void;
	/** Bytes from the broker. */
	deliver(bytes: Uint8Array): void;
	/** The peer or the network ends the socket. */
	drop(error?: string): void;
}

export interface FakeSocketPort extends SocketPort {
	/** Every socket opened, oldest first. */
	readonly sockets: FakeSocket[];
	/** The newest socket; throws when none was opened. */
	last(): FakeSocket;
	open(options: SocketOptions, events: SocketEvents): FakeSocket;
}

export function fakeSocketPort(): FakeSocketPort {
	const sockets: FakeSocket[] = [];
	return {
		sockets,
		last() {
			const s = sockets[sockets.length - 1];
			if (!s) throw new Error('no socket was opened');
			return s;
		},
		open(options: SocketOptions, events: SocketEvents): FakeSocket {
			const s: FakeSocket = {
				options,
				writes: [],
				closed: false,
				closedByUs: false,
				write(bytes) {
					if (!s.closed) s.writes.push(bytes.slice());
				},
				close() {
					if (s.closed) return;
					s.closed = true;
					s.closedByUs = true;
					events.closed();
				},
				connect() {
					events.connected();
				},
				deliver(bytes) {
					if (s.closed) throw new Error('deliver on a closed socket');
					events.data(bytes);
				},
				drop(error) {
					if (s.closed) return;
					s.closed = true;
					events.closed(error);
				},
			};
			sockets.push(s);
			return s;
		},
	};
}

// ---- storage, log, random -------------------------------------------------

/** Which writes a `memoryStorage` refuses: set at creation or changed between steps of a test. */
export interface StorageFaults {
	/** Bytes all values may take together; a write that would pass it answers `full`. */
	budget?: number;
	/** Consulted for every write (`n` counts writes from 1): a result refuses it, undefined lets it through. */
	fail?: (key: string, n: number) => 'full' | 'failed' | undefined;
}

/**
 * The storage port's contract in memory, key rule included (15 chars of [a-z0-9._-]).
 * A refused write behaves as the SDK's Preference.set on ESP32: the key's old value is
 * erased before the write fails (modPreference.c erases, then nvs_set_blob fails), the
 * worst case a caller must survive.
 */
export function memoryStorage(faults: StorageFaults = {}): StoragePort & { readonly map: Map<string, Uint8Array>; readonly faults: StorageFaults; writes: number; used(): number } {
	const map = new Map<string, Uint8Array>();
	const check = (key: string): string => {
		if (!/^[a-z0-9._-]{1,15}$/.test(key)) throw new RangeError('"key" expected 1..15 of [a-z0-9._-], got ' + JSON.stringify(key));
		return key;
	};
	const used = (): number => {
		let n = 0;
		for (const v of map.values()) n += v.length;
		return n;
	};
	const s = {
		map,
		faults,
		writes: 0,
		used,
		read: (key: string) => map.get(check(key))?.slice(),
		write(key: string, value: Uint8Array): StorageWrite {
			check(key);
			s.writes++;
			const old = map.get(key)?.length ?? 0;
			let refused = faults.fail?.(key, s.writes);
			if (!refused && faults.budget !== undefined && used() - old + value.length > faults.budget) refused = 'full';
			if (refused) {
				map.delete(key);
				return { ok: false, error: refused, message: refused === 'full' ? 'no room for ' + value.length + ' bytes' : 'injected fault' };
			}
			map.set(key, value.slice());
			return { ok: true };
		},
		remove: (key: string) => void map.delete(check(key)),
		keys: () => [...map.keys()],
	};
	return s;
}

export interface LogLine {
	readonly level: LogLevel;
	readonly event: string;
	readonly fields: Record<string, unknown>;
}

export function memoryLog(): LogPort & { readonly lines: LogLine[]; events(): string[] } {
	const lines: LogLine[] = [];
	return {
		lines,
		log: (level: LogLevel, event: string, fields?: LogFields) => void lines.push({ level, event, fields: { ...fields } }),
		events: () => lines.map((l) => l.event),
	};
}

export function fixedRandom(r: number): RandomPort {
	return { random: () => r };
}

/** Lets queued promise jobs run (XS has no timers, so this is the only way to wait). */
export async function settle(turns = 50): Promise<void> {
	for (let i = 0; i < turns; i++) await Promise.resolve();
}

/** A small deterministic generator (mulberry32, core/util/seeded-random.ts) as a function, for tables of random bytes. */
export function seededRandom(seed: number): () => number {
	const r = seededPort(seed);
	return () => r.random();
}

export function bytes(...values: number[]): Uint8Array {
	return new Uint8Array(values);
}

/** ASCII/UTF-8 text as bytes, without TextEncoder (kept minimal for XS). */
export function text(s: string): Uint8Array {
	const out: number[] = [];
	for (const ch of s) {
		const c = ch.codePointAt(0)!;
		if (c < 0x80) out.push(c);
		else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
		else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
		else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
	}
	return new Uint8Array(out);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
	let n = 0;
	for (const p of parts) n += p.length;
	const out = new Uint8Array(n);
	let at = 0;
	for (const p of parts) {
		out.set(p, at);
		at += p.length;
	}
	return out;
}
