/*
 * The bootloader's record for two firmware slots, as pure transitions: the part of
 * FirmwareSlotPort that is the same wherever the bytes live (files on the host, files
 * under config.file.root on Moddable lin). Each adapter persists the record after
 * every transition (`commit` for those that may refuse) and keeps the images itself.
 *
 * The rule is ESP-IDF's with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE: an image activated
 * and booted once without `markValid` (PENDING_VERIFY) is abandoned at the next boot
 * (ABORTED), and the previous one boots again.
 */
import type { FirmwareInfo } from '../../ports';

export type Slot = 'a' | 'b';

export interface BootRecord {
	readonly boot: Slot;
	readonly versions: Readonly<Partial<Record<Slot, string>>>;
	/** The boot slot was activated and not yet marked valid. */
	readonly probation: boolean;
	/** ... and has been booted once already in that state. */
	readonly tried: boolean;
	/** The image being written to the other slot. */
	readonly pending?: { readonly version: string; readonly size: number };
}

type Outcome = { ok: true; record: BootRecord } | { ok: false; error: string };

export const other = (s: Slot): Slot => (s === 'a' ? 'b' : 'a');

export const factoryRecord = (version: string): BootRecord => ({ boot: 'a', versions: { a: version }, probation: false, tried: false });

/** The slot `s` holds nothing bootable any more (an image abandoned or rolled back from is invalid). */
const forget = (versions: BootRecord['versions'], s: Slot): BootRecord['versions'] => ({ ...versions, [s]: undefined });

/** Power-up: a second boot on probation goes back to the other slot. */
export function powerUp(r: BootRecord): BootRecord {
	if (r.probation && r.tried) return { boot: other(r.boot), versions: forget(r.versions, r.boot), probation: false, tried: false };
	if (r.probation) return { ...r, tried: true };
	return r;
}

export const running = (r: BootRecord): FirmwareInfo => ({ version: r.versions[r.boot] ?? '0.0.0', valid: !r.probation });

export function previous(r: BootRecord): FirmwareInfo | undefined {
	const v = r.versions[other(r.boot)];
	return v === undefined || r.pending ? undefined : { version: v, valid: true };
}

/** The inactive slot now holds nothing but the start of `version`. */
export function begin(r: BootRecord, version: string, size: number): BootRecord {
	return { ...r, versions: { ...r.versions, [other(r.boot)]: undefined }, pending: { version, size } };
}

/** `held`: bytes the inactive slot holds now. */
export function activate(r: BootRecord, held: number): Outcome {
	const p = r.pending;
	if (!p || held !== p.size) return { ok: false, error: 'no complete image' };
	const next = other(r.boot);
	return { ok: true, record: { boot: next, versions: { ...r.versions, [next]: p.version }, probation: true, tried: false } };
}

export const markValid = (r: BootRecord): BootRecord => ({ ...r, probation: false, tried: false });

export function rollback(r: BootRecord): Outcome {
	const back = other(r.boot);
	if (r.versions[back] === undefined) return { ok: false, error: 'no previous image' };
	return { ok: true, record: { boot: back, versions: forget(r.versions, r.boot), probation: false, tried: false } };
}

/**
 * The port's answer to an outcome: its record saved (`save` persists it before it returns,
 * and throws when it cannot), or its refusal as it came, nothing saved.
 */
export function commit(o: Outcome, save: (r: BootRecord) => void): { ok: true } | { ok: false; error: string } {
	if (!o.ok) return o;
	save(o.record);
	return { ok: true };
}

/** A write must continue where the slot ends and stay within the image begun. */
export function checkWrite(r: BootRecord, held: number, offset: number, length: number): string | undefined {
	if (!r.pending) return 'no image begun';
	if (offset !== held) return 'write at ' + offset + ', slot holds ' + held;
	if (offset + length > r.pending.size) return 'image larger than ' + r.pending.size;
	return undefined;
}

/** A stored record, or undefined when it is not one (the caller starts from the factory record and says so). */
export function parseRecord(text: string): BootRecord | undefined {
	let v: unknown;
	try {
		v = JSON.parse(text);
	} catch {
		return undefined;
	}
	const r = v as BootRecord;
	const slot = (s: unknown) => s === 'a' || s === 'b';
	if (!r || typeof r !== 'object' || !slot(r.boot) || typeof r.probation !== 'boolean' || typeof r.tried !== 'boolean' || !r.versions || typeof r.versions !== 'object') return undefined;
	return r;
}
