/*
 * FirmwareSlotPort where Moddable has neither `ota` nor `flash` (lin: the simulator):
 * two slots as files `fw-a.bin`, `fw-b.bin` under config.file.root, and the
 * bootloader's record (core/ota/boot.ts, the rule shared with the host slots) in
 * `fw-boot.json`, written to a temporary name and renamed over the old one. The image
 * is not executed: the record says which version "boots", so an app restart over the
 * same files is the reboot. `reboot()` calls `onReboot` (the app asks whoever runs it
 * to start it again: the device test runner does, on its `step reboot` line).
 *
 * manifest.json maps this module's name to this file for lin and to esp32.ts (the same
 * export over the SDK's `ota` module) for esp32, in the platform sections only: a mapping
 * at the top level would come first and win on every platform.
 *
 * Writes are sequential; each `write` goes out with fflush (modules/files/file/lin), so
 * after a kill the file's length is what a download resumes from.
 */
import config from 'mc/config';
import { File } from 'file';
import * as boot from '../../../core/ota/boot';
import type { BootRecord, Slot } from '../../../core/ota/boot';
import type { FirmwareSlotPort, LogPort, StoragePort } from '../../../ports';

export interface FirmwareSlotOptions {
	/** The version of the image flashed at the factory (config.firmware.version). */
	readonly factoryVersion: string;
	/** Restart the app (lin) or the chip (ESP32 restarts by itself). */
	readonly onReboot: () => void;
	readonly log: LogPort;
	/** Not used here (the record is a file); slots/esp32.ts keeps the replaced version in it. */
	readonly storage?: StoragePort;
}

const RECORD = 'fw-boot.json';

function root(): string {
	const r = String((config as { file?: { root?: string } }).file?.root ?? '/tmp/');
	return r.endsWith('/') ? r : r + '/';
}

/** An ArrayBuffer holding exactly these bytes (the file module reads the buffer, not a view). */
const exact = (b: Uint8Array): ArrayBuffer => (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? (b.buffer as ArrayBuffer) : (b.slice().buffer as ArrayBuffer));

const fail = (e: unknown) => ({ ok: false as const, error: e instanceof Error ? e.message : String(e) });

export function createFirmwareSlots(options: FirmwareSlotOptions): FirmwareSlotPort {
	const dir = root();
	const image = (s: Slot) => dir + 'fw-' + s + '.bin';
	const recordPath = dir + RECORD;
	let st: BootRecord = boot.factoryRecord(options.factoryVersion);
	if (File.exists(recordPath)) {
		const f = new File(recordPath);
		const text = f.read(String);
		f.close();
		const r = boot.parseRecord(text);
		// a record we cannot read must not be replaced silently by the factory one: that would boot another version
		if (!r) throw new Error('firmware slots: ' + recordPath + ' is not a boot record: ' + text.slice(0, 80));
		st = r;
	}
	const save = (r: BootRecord) => {
		const tmp = recordPath + '.tmp';
		if (File.exists(tmp)) File.delete(tmp);
		const f = new File(tmp, true);
		f.write(JSON.stringify(r));
		f.close();
		if (!File.rename(tmp, RECORD)) throw new Error('firmware slots: cannot rename ' + tmp + ' to ' + RECORD);
		st = r;
	};
	// the bootloader, at construction = power-up
	save(boot.powerUp(st));
	const inactive = () => boot.other(st.boot);
	let writer: File | undefined;
	const closeWriter = () => {
		writer?.close();
		writer = undefined;
	};
	const held = (): number => {
		if (writer) return writer.length;
		if (!File.exists(image(inactive()))) return 0;
		const f = new File(image(inactive()));
		const n = f.length;
		f.close();
		return n;
	};

	return {
		running: () => boot.running(st),
		previous: () => boot.previous(st),
		begin(version, size) {
			try {
				closeWriter();
				if (File.exists(image(inactive()))) File.delete(image(inactive()));
				writer = new File(image(inactive()), true);
				save(boot.begin(st, version, size));
				return { ok: true };
			} catch (e) {
				return fail(e);
			}
		},
		written() {
			return st.pending ? { ...st.pending, bytes: held() } : undefined;
		},
		write(offset, bytes) {
			const refused = boot.checkWrite(st, held(), offset, bytes.length);
			if (refused) return { ok: false, error: refused };
			try {
				writer ??= new File(image(inactive()), true);
				writer.position = offset;
				writer.write(exact(bytes));
				return { ok: true };
			} catch (e) {
				return fail(e);
			}
		},
		read(offset, length) {
			closeWriter();
			const f = new File(image(inactive()));
			try {
				f.position = offset;
				return new Uint8Array(f.read(ArrayBuffer, Math.min(length, f.length - offset)));
			} finally {
				f.close();
			}
		},
		activate() {
			closeWriter();
			return boot.commit(boot.activate(st, held()), save);
		},
		reboot() {
			closeWriter();
			options.log.log('info', 'firmware.reboot', { boot: st.boot, version: st.versions[st.boot] ?? '' });
			options.onReboot();
		},
		markValid: () => save(boot.markValid(st)),
		rollback: () => boot.commit(boot.rollback(st), save),
	};
}
