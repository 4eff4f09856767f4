/*
 * Runs the mission machine (machine.ts): allocates ids, sends batched events and
 * makes every report durable.
 *
 * Never lost, never twice:
 * - An id is taken from a counter persisted before use, behind a random epoch made
 *   when storage is blank, so ids are unique per robot across reboots and resets
 *   (`m-<5-character epoch><counter>`, base 36).
 * - A running mission is persisted at start and at each change worth keeping; if
 *   power is lost, the next boot reports it as `interrupted` from what was saved.
 * - A report goes straight into the link's durable outbox when no older report
 *   waits, then the running record is dropped. Otherwise (or the outbox answers
 *   full) it is written under its own key (`mr.<n>`), the running record dropped,
 *   and later moved into the outbox, then its key dropped (docs/storage.md, the fill
 *   order: a filling store answers at the outbox before it refuses a mission).
 *   A reboot between any two steps finds the report in
 *   exactly one of those places (the outbox is checked by topic), so it is queued
 *   once; it leaves the outbox only on PUBACK. The cloud stores by (thing, mission
 *   id) with a conditional write, so a resend after a lost PUBACK is stored once.
 * - If the outbox is full, reports wait under their keys and move when a PUBACK
 *   makes room: the robot keeps cleaning on schedule whatever the network does.
 *
 * Events (progress telemetry) go at QoS 0, batched: one message holds many events
 * (AWS IoT bills per 5 KB), sent at start, every `flushMs`, at the end, or when the
 * batch fills; a token bucket caps messages so a chatty robot cannot flood.
 * Offline, a batch is dropped and counted: events are telemetry, the report is
 * the record.
 */
import type { ClockPort, LogPort, RandomPort, StoragePort, TimerPort } from '../../ports';
import type { LinkError } from '../link/link';
import type { OutboxEntry } from '../link/outbox';
import { readRecord, removeRecord, writeError, writeRecord } from '../util/record';
import { err, ok, type Result } from '../util/result';
import { utf8Decode, utf8Encode, utf8Length } from '../util/utf8';
import { fullBucket, take, type Bucket, type BucketPolicy } from './bucket';
import { IDLE, reportOf, step, type Mission, type MissionEffect, type MissionInput, type MissionState } from './machine';
import { Runner } from '../util/runner';
import { Timeout } from '../util/timers';
import { reportTopic, validateReport, type MissionReport, type Trigger } from './report';

/** What the mission runner needs of the link; `Link` has it. */
export interface MissionLink {
	publish(topic: string, payload: Uint8Array, qos: 0 | 1, durable?: boolean): Result<number, LinkError>;
	readonly outbox: { entries(): readonly OutboxEntry[] };
	listen(l: { delivered?(seq: number, topic: string): void }): () => void;
}

export interface MissionPorts {
	readonly clock: ClockPort;
	readonly random: RandomPort;
	readonly timers: TimerPort;
	readonly storage: StoragePort;
	readonly log: LogPort;
}

export interface MissionOptions {
	/** Longest time events wait in a batch. */
	readonly flushMs?: number;
	/** Largest batch payload; a fuller batch is sent at once (one 5 KB billing unit). */
	readonly batchBytes?: number;
	readonly bucket?: BucketPolicy;
}

const KEY_COUNTER = 'mis.n';
const KEY_CURRENT = 'mis.cur';
const REPORT_PREFIX = 'mr.';
const PROGRESS_SAVE_MS = 60_000;

export const DEFAULT_EVENTS: Required<MissionOptions> = Object.freeze({
	// a mission of up to 75 minutes sends its start, two timed batches and its end: 4 messages
	flushMs: 25 * 60_000,
	batchBytes: 4096,
	// a start, two timed flushes and the end fit an hour; bursts beyond wait for a token
	bucket: Object.freeze({ capacity: 4, refillMs: 15 * 60_000 }),
});

/** Work that must be as durable as a report: done before the report is written. */
export interface MissionHooks {
	/** Called with every report (ended or interrupted) just before it is written to storage. */
	beforeReport?(report: MissionReport): void;
}

export type StartError =
	| { readonly code: 'busy'; readonly mission: string }
	/** The store cannot take the mission's records (id counter, or a report still owed to it). */
	| { readonly code: 'storage'; readonly result: string };

interface Batch {
	mission: string;
	events: string[];
	bytes: number;
	dropped: number;
}

export class Missions {
	readonly #thing: string;
	readonly #link: MissionLink;
	readonly #ports: MissionPorts;
	readonly #opts: Required<MissionOptions>;
	// run to completion: a listener that reacts to a mission (a report kicks the queue) dispatches after it
	readonly #runner = new Runner<MissionState, MissionInput, MissionEffect>(IDLE, {
		step: (st, e) => step(this.#thing, st, e),
		perform: (fx) => this.#perform(fx),
		settled: (st, _from, _e, effects) => {
			for (const l of this.#listeners) l(st, effects);
		},
		ignored: (st, e) => this.#ports.log.log('debug', 'mission.ignored', { input: e.type, state: st.value }),
	});
	#bucket: Bucket;
	#batch: Batch | undefined;
	readonly #flushTimer: Timeout;
	#savedAt = 0;
	#listeners: ((s: MissionState, effects: readonly MissionEffect[]) => void)[] = [];
	readonly #hooks: MissionHooks;
	/** A report the store refused: it stays here (and its running record on storage) until written. */
	#unsaved: MissionReport | undefined;

	constructor(thing: string, link: MissionLink, ports: MissionPorts, options: MissionOptions = {}, hooks: MissionHooks = {}) {
		this.#thing = thing;
		this.#hooks = hooks;
		this.#link = link;
		this.#ports = ports;
		this.#flushTimer = new Timeout(ports.timers);
		this.#opts = { ...DEFAULT_EVENTS, ...options };
		this.#bucket = fullBucket(this.#opts.bucket, ports.clock.monotonic());
		link.listen({ delivered: () => this.#pumpReports() });
		this.#recover();
	}

	get state(): MissionState {
		return this.#runner.state;
	}

	listen(l: (s: MissionState, effects: readonly MissionEffect[]) => void): void {
		this.#listeners.push(l);
	}

	/** Reports written but not yet in the outbox (the outbox was full). */
	pendingReports(): number {
		return this.#ports.storage.keys().filter((k) => k.startsWith(REPORT_PREFIX)).length;
	}

	start(trigger: Trigger, battery: number, entryId?: string): Result<string, StartError> {
		if (this.#runner.state.value !== 'idle') return err({ code: 'busy', mission: this.#runner.state.m.id });
		// a full store refuses new work rather than lose old: the previous report must be on
		// storage (its running record is its only other copy, which this mission would overwrite)
		if (this.#unsaved && !this.#saveReport(this.#unsaved)) return this.#refuse(trigger, 'report unsaved');
		const id = this.#nextId();
		if (!id.ok) return this.#refuse(trigger, id.error);
		const input: MissionInput = {
			type: 'start',
			id: id.value,
			trigger,
			...(entryId !== undefined ? { entryId } : {}),
			at: this.#ports.clock.now() ?? null,
			mono: this.#ports.clock.monotonic(),
			battery,
		};
		// the running record is the mission's only trace until its report exists: a mission the
		// store cannot record does not start (its id is skipped, never reused)
		const next = step(this.#thing, this.#runner.state, input);
		const first = next?.effects.find((fx) => fx.type === 'persist');
		if (first?.type === 'persist') {
			const w = writeRecord(this.#ports.storage, KEY_CURRENT, this.#running(first.m));
			if (!w.ok) return this.#refuse(trigger, writeError(w));
		}
		this.#input(input);
		return ok(id.value);
	}

	progress(areaM2: number, battery: number): void {
		this.#input({ type: 'progress', areaM2, battery });
		// progress is saved once a minute, not on every tick: flash has a write budget
		const now = this.#ports.clock.monotonic();
		if (this.#runner.state.value === 'running' && now - this.#savedAt >= PROGRESS_SAVE_MS) this.#perform({ type: 'persist', m: this.#runner.state.m });
	}
	pause(): void {
		this.#input({ type: 'pause' });
	}
	resume(): void {
		this.#input({ type: 'resume' });
	}
	error(code: string, fatal: boolean): void {
		this.#input({ type: 'error', code, fatal, mono: this.#ports.clock.monotonic() });
	}
	finish(): void {
		this.#input({ type: 'finish' });
	}
	cancel(): void {
		this.#input({ type: 'cancel' });
	}
	docked(battery: number): void {
		this.#input({ type: 'docked', at: this.#ports.clock.now() ?? null, mono: this.#ports.clock.monotonic(), battery });
	}

	#input(e: MissionInput): void {
		this.#runner.dispatch(e);
	}

	#perform(fx: MissionEffect): void {
		switch (fx.type) {
			case 'persist': {
				this.#savedAt = this.#ports.clock.monotonic();
				// savedMono: how far it had got, for the report if power is lost before the next save
				const w = writeRecord(this.#ports.storage, KEY_CURRENT, this.#running(fx.m));
				// the previous save (if any) still stands; the mission goes on and saves again in a minute
				if (!w.ok) this.#ports.log.log('warn', 'mission.persist_failed', { mission: fx.m.id, result: writeError(w) });
				return;
			}
			case 'event':
				return this.#event(fx.mission, fx.name, fx.data);
			case 'report':
				return this.#report(fx.report);
		}
	}

	// ---- ids ---------------------------------------------------------------

	/** The running record: the mission, and how far it had got for a report after a power loss. */
	#running(m: Mission): Uint8Array {
		return utf8Encode(JSON.stringify({ ...m, savedMono: this.#ports.clock.monotonic() }));
	}

	#refuse(trigger: Trigger, result: string): Result<string, StartError> {
		this.#ports.log.log('error', 'mission.refused', { trigger, reason: 'storage', result, reportsOwed: this.pendingReports() });
		return err({ code: 'storage', result });
	}

	#nextId(): Result<string, string> {
		// "<epoch>:<counter>": the epoch is random, made when storage has no counter (first boot,
		// factory reset, erased flash), so ids stay unique per robot even when the counter restarts;
		// without it a reset robot's m-1 would be dropped by the cloud as a duplicate of the old m-1
		const raw = readRecord(this.#ports.storage, KEY_COUNTER);
		const [epochText, counterText] = (raw ? (utf8Decode(raw) ?? '') : '').split(':');
		const epoch = epochText && /^[0-9a-z]{5}$/.test(epochText) ? epochText : this.#newEpoch();
		const n = (counterText ? parseInt(counterText, 36) : 0) || 0;
		// persisted before the mission exists: a reboot can skip an id, never reuse one; an id
		// the store cannot record is not used (two-phase: the old counter survives the refusal)
		const w = writeRecord(this.#ports.storage, KEY_COUNTER, utf8Encode(epoch + ':' + (n + 1).toString(36)));
		if (!w.ok) return err(writeError(w));
		return ok('m-' + epoch + (n + 1).toString(36));
	}

	#newEpoch(): string {
		let e = '';
		for (let i = 0; i < 5; i++) e += Math.floor(this.#ports.random.random() * 36).toString(36);
		return e;
	}

	// ---- reports -----------------------------------------------------------

	#report(report: MissionReport): void {
		const checked = validateReport(report);
		if (!checked.ok) {
			// a bug, not bad input: still keep the record, the cloud will log why it refuses it
			this.#ports.log.log('error', 'mission.report_invalid', { mission: report.missionId, errors: checked.error.join('; ') });
		}
		this.#beforeReport(report);
		if (!this.#saveReport(report)) this.#unsaved = report;
		this.#pumpReports();
	}

	/**
	 * Puts a report on storage, then drops the running record: straight into the durable outbox
	 * when no older report waits for it, else (or when the outbox refuses) under its own key (a
	 * new key: a refusal touches nothing stored). Straight in, a mission's whole cycle needs room
	 * for its running record beside its report, no more: the room a mission start needs (its
	 * running record) is there whenever the previous report fitted, so a filling store answers
	 * at the outbox (`full`) before it refuses a mission (docs/storage.md, the fill order).
	 * Refused: the running record stays, so a reboot still reports the mission (as interrupted),
	 * and the caller keeps the report to try again.
	 */
	#saveReport(report: MissionReport): boolean {
		const key = REPORT_PREFIX + report.missionId.slice(2);
		const payload = utf8Encode(JSON.stringify(report));
		if (!this.#queueReport(report.missionId, payload)) {
			const w = this.#ports.storage.write(key, payload);
			if (!w.ok) {
				this.#ports.log.log('error', 'mission.report_unsaved', { mission: report.missionId, result: writeError(w) });
				return false;
			}
		}
		this.#unsaved = undefined;
		removeRecord(this.#ports.storage, KEY_CURRENT);
		// logged once the report is on storage: a power loss before then reports the mission
		// interrupted from its running record, and the log must not have claimed another outcome
		// (a report made at boot for an interrupted mission says mission.interrupted instead)
		if (report.outcome !== 'interrupted') this.#ports.log.log('info', 'mission.report', { mission: report.missionId, outcome: report.outcome, areaM2: report.areaM2, durationS: report.durationS });
		return true;
	}

	/** Into the outbox when no older report waits under mr. (reports go out oldest first); true: queued. */
	#queueReport(missionId: string, payload: Uint8Array): boolean {
		if (this.pendingReports() > 0) return false;
		const r = this.#link.publish(reportTopic(this.#thing, missionId), payload, 1, true);
		// full (the outbox's bound, or the store: outbox.storage_refused): kept under mr., moved in after a PUBACK
		if (!r.ok && r.error.code !== 'full') this.#ports.log.log('error', 'mission.report_refused', { mission: missionId, code: r.error.code });
		return r.ok;
	}

	#beforeReport(report: MissionReport): void {
		try {
			this.#hooks.beforeReport?.(report);
		} catch (e) {
			// the report matters more than what hangs on it
			this.#ports.log.log('error', 'mission.hook_failed', { mission: report.missionId, error: e instanceof Error ? e.message : String(e) });
		}
	}

	/** Moves written reports into the outbox, oldest first, while it has room. */
	#pumpReports(): void {
		// a PUBACK freed storage: a report the store refused may fit now
		if (this.#unsaved) this.#saveReport(this.#unsaved);
		const keys = this.#ports.storage.keys().filter((k) => k.startsWith(REPORT_PREFIX));
		keys.sort((a, b) => parseInt(a.slice(REPORT_PREFIX.length), 36) - parseInt(b.slice(REPORT_PREFIX.length), 36));
		for (const key of keys) {
			const topic = reportTopic(this.#thing, 'm-' + key.slice(REPORT_PREFIX.length));
			if (!this.#link.outbox.entries().some((e) => e.topic === topic)) {
				const payload = this.#ports.storage.read(key);
				if (!payload) continue;
				const r = this.#link.publish(topic, payload, 1, true);
				if (!r.ok) {
					if (r.error.code !== 'full') this.#ports.log.log('error', 'mission.report_refused', { key, code: r.error.code });
					return; // full: the next PUBACK brings us back here
				}
			}
			this.#ports.storage.remove(key);
		}
	}

	/** At boot: a mission cut short by power loss is reported as interrupted; written reports are queued. */
	#recover(): void {
		const raw = readRecord(this.#ports.storage, KEY_CURRENT);
		if (raw) {
			let m: (Mission & { savedMono?: number }) | undefined;
			try {
				m = JSON.parse(utf8Decode(raw) ?? '') as Mission & { savedMono?: number };
			} catch {
				m = undefined;
			}
			if (m && typeof m.id === 'string') {
				const key = REPORT_PREFIX + m.id.slice(2);
				const topic = reportTopic(this.#thing, m.id);
				const already = this.#ports.storage.read(key) !== undefined || this.#link.outbox.entries().some((e) => e.topic === topic);
				if (!already) {
					// the monotonic clock restarted with the boot: the duration is up to the last save, the end unknown
					const report = reportOf(this.#thing, m, 'interrupted', null, m.savedMono ?? m.startedMono, m.areaM2 > 0);
					this.#ports.log.log('warn', 'mission.interrupted', { mission: m.id });
					this.#beforeReport(report);
					// refused: the running record stays (for the next boot) and the report is retried
					// after a PUBACK; no mission starts meanwhile (it would overwrite that record)
					if (!this.#saveReport(report)) {
						this.#unsaved = report;
						return this.#pumpReports();
					}
				}
			} else this.#ports.log.log('error', 'mission.current_unreadable', { bytes: raw.length });
			removeRecord(this.#ports.storage, KEY_CURRENT);
		}
		this.#pumpReports();
	}

	// ---- events ------------------------------------------------------------

	#event(mission: string, name: string, data: Readonly<Record<string, string | number | boolean>>): void {
		const m = this.#runner.state.value === 'idle' ? undefined : this.#runner.state.m;
		// seconds into the mission; `docked` carries its duration instead
		const at = m ? Math.round((this.#ports.clock.monotonic() - m.startedMono) / 1000) : undefined;
		const text = JSON.stringify({ e: name, ...(at !== undefined ? { t: at } : {}), ...data });
		if (this.#batch && this.#batch.mission !== mission) this.#flush();
		const b = (this.#batch ??= { mission, events: [], bytes: 64, dropped: 0 });
		const n = utf8Length(text) + 1;
		if (b.bytes + n > this.#opts.batchBytes) this.#flush();
		const batch = (this.#batch ??= { mission, events: [], bytes: 64, dropped: 0 });
		batch.events.push(text);
		batch.bytes += n;
		if (name === 'started' || name === 'docked') this.#flush();
		else if (!this.#flushTimer.pending) this.#flushTimer.set(() => this.#flush(), this.#opts.flushMs);
	}

	#flush(): void {
		this.#flushTimer.clear();
		const b = this.#batch;
		if (!b || b.events.length === 0) return;
		const t = take(this.#opts.bucket, this.#bucket, this.#ports.clock.monotonic());
		this.#bucket = t.bucket;
		if (!t.ok) {
			// over the rate: keep the batch (bounded by batchBytes: the oldest progress goes first)
			while (b.bytes > this.#opts.batchBytes * 0.75 && b.events.length > 1) {
				b.bytes -= utf8Length(b.events.shift()!) + 1;
				b.dropped++;
			}
			this.#ports.log.log('debug', 'mission.events_held', { mission: b.mission, events: b.events.length });
			this.#flushTimer.set(() => this.#flush(), this.#opts.bucket.refillMs);
			return;
		}
		this.#batch = undefined;
		const payload = '{"mission":"' + b.mission + '","dropped":' + b.dropped + ',"events":[' + b.events.join(',') + ']}';
		const r = this.#link.publish('robots/' + this.#thing + '/missions/' + b.mission + '/events', utf8Encode(payload), 0);
		if (!r.ok) this.#ports.log.log('info', 'mission.events_dropped', { mission: b.mission, events: b.events.length, reason: r.error.code });
	}
}
