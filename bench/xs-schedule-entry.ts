/*
 * Bundled into the XS worker by bench/schedule.ts (section schedule.xs): the reconcile machine,
 * the schedule codec, nextRun and validateSchedule on a realistic `schedule` shadow document,
 * a 4-entry schedule waiting in desired while reported holds an older one. Each loop runs `n`
 * operations in one evaluate, so the caller divides that evaluate's meter by `n`.
 * Nothing here may touch timers.
 */
import { decide, step, type SyncState } from '../firmware/core/shadow/reconcile';
import type { ShadowDocument } from '../firmware/core/shadow/client';
import { scheduleCodec } from '../firmware/core/schedule/shadow';
import { validateSchedule, type Schedule } from '../firmware/core/schedule/model';
import { nextRun } from '../firmware/core/schedule/next';
import { utf8Decode, utf8Encode } from '../firmware/core/util/utf8';
import { DESIRED, GET_ACCEPTED, NEXT_RUN_FROM, REPORTED } from './schedule-fixture';

const payload = utf8Encode(JSON.stringify(GET_ACCEPTED));
const doc = GET_ACCEPTED as unknown as ShadowDocument;
const runs = (() => {
	const r = validateSchedule(REPORTED);
	if (!r.ok) throw new Error('fixture: reported schedule invalid');
	return r.value;
})();
const wanted: Schedule = (() => {
	const r = validateSchedule(DESIRED);
	if (!r.ok) throw new Error('fixture: desired schedule invalid');
	return r.value;
})();
/** The doc as it looks once the robot caught up: nothing desired, reported equal to what it runs. */
const settled = { state: { reported: { schedule: DESIRED } }, metadata: {}, version: GET_ACCEPTED.version + 1, timestamp: GET_ACCEPTED.timestamp } as unknown as ShadowDocument;
const reading: SyncState<Schedule> = { value: 'reading', owned: { value: runs, editedAt: undefined, dirty: false }, attempt: 1 };
const readingSettled: SyncState<Schedule> = { value: 'reading', owned: { value: wanted, editedAt: undefined, dirty: false }, attempt: 1 };

let sink = 0;

/** decide() alone on the parsed document: validate desired, pick the winner, build the update. */
export function decideApply(n: number): number {
	for (let i = 0; i < n; i++) if (decide(scheduleCodec, reading.owned, doc).update) sink++;
	return sink;
}

/** decide() when there is nothing to apply: reported is validated and compared with what runs. */
export function decideSettled(n: number): number {
	for (let i = 0; i < n; i++) if (!decide(scheduleCodec, readingSettled.owned, settled).update) sink++;
	return sink;
}

/** step(reading, read): decide plus the next state and its effects (apply, update). */
export function stepApply(n: number): number {
	for (let i = 0; i < n; i++) sink += step(scheduleCodec, reading, { type: 'read', doc })!.effects.length;
	return sink;
}

/**
 * The whole application on the device minus MQTT framing: the get/accepted payload bytes to
 * text and JSON, step, then the effects' own work: the persisted record (JSON + UTF-8, as
 * ShadowSync#save writes it) and the update request body (JSON + UTF-8, as ShadowClient sends it).
 */
export function applyFromBytes(n: number): number {
	for (let i = 0; i < n; i++) {
		const parsed = JSON.parse(utf8Decode(payload) ?? '') as ShadowDocument;
		const next = step(scheduleCodec, reading, { type: 'read', doc: parsed })!;
		for (const fx of next.effects) {
			if (fx.type === 'apply') sink += utf8Encode(JSON.stringify({ v: scheduleCodec.toJson(fx.owned.value), d: fx.owned.dirty })).length;
			else if (fx.type === 'update') sink += utf8Encode(JSON.stringify({ state: fx.state, version: fx.version, clientToken: '1-abcdef' })).length;
		}
	}
	return sink;
}

/** The first part of applyFromBytes alone: the payload bytes to text (the core's portable UTF-8) and JSON. */
export function parseFromBytes(n: number): number {
	for (let i = 0; i < n; i++) sink += (JSON.parse(utf8Decode(payload) ?? '') as ShadowDocument).version;
	return sink;
}

/** nextRun of the 4-entry schedule from instants spread over a week (DST rule included). */
export function nextRunLoop(n: number): number {
	for (let i = 0; i < n; i++) sink += nextRun(wanted, NEXT_RUN_FROM + (i % 97) * 6_173_000)!.utcMs & 1;
	return sink;
}

/** validateSchedule of the parsed 4-entry document (what the codec's validate does on success). */
export function validateLoop(n: number): number {
	for (let i = 0; i < n; i++) if (validateSchedule(DESIRED).ok) sink++;
	return sink;
}

export function sizes(): string {
	return JSON.stringify({ getAcceptedBytes: payload.length, desiredBytes: utf8Encode(JSON.stringify(DESIRED)).length });
}

(globalThis as unknown as { scheduleBench: unknown }).scheduleBench = { parseFromBytes, decideApply, decideSettled, stepApply, applyFromBytes, nextRunLoop, validateLoop, sizes };
