/*
 * FirmwareSlotPort on ESP32, over the SDK's `ota` module (build/devices/esp32/modules/ota:
 * esp_ota_begin on the next update partition, write, cancel, complete = esp_ota_end +
 * esp_ota_set_boot_partition), `flash` ("nextota" partition) to read the image back for
 * verification, and our firmware-boot.c for what the SDK does not offer: the running
 * image's OTA state, esp_ota_mark_app_valid_cancel_rollback, rollback and restart.
 * Needs CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE (the bootloader then abandons an image
 * booted once without being marked valid, as the host and lin slots do).
 *
 * manifest.json maps "firmware/platform/moddable/slots/firmware-slots" to this file on
 * esp32 (and to firmware-slots.ts on lin), so it keeps that file's export. Differences from the file slots:
 * - No resume across a reboot: the SDK's `ota` has no offset writes and esp_ota_begin
 *   erases the partition, so after a power loss `written()` is empty and the download
 *   starts again (within one boot a dropped connection still resumes with Range).
 * - The running version is the one built into this image (config.firmware.version);
 *   the version it replaced is kept in storage ("fw.prev") when the new one is activated.
 * - `rollback` is esp_ota_mark_app_invalid_rollback_and_reboot: it restarts at once (the
 *   agent has stored its FAILED report before asking).
 * Built for esp32 only; not compiled or run on this machine (no ESP-IDF here).
 */
/// <reference path="../firmware-modules.d.ts" />
import Flash from 'flash';
import OTA from 'ota';
import { firmwareMarkValid, firmwareRestart, firmwareRollback, firmwareState } from './firmware-boot';
import { utf8Decode, utf8Encode } from '../../../core/util/utf8';
import type { FirmwareSlotPort } from '../../../ports';
import type { FirmwareSlotOptions } from './firmware-slots';

const PREVIOUS_KEY = 'fw.prev';
const exact = (b: Uint8Array): ArrayBuffer => (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? (b.buffer as ArrayBuffer) : (b.slice().buffer as ArrayBuffer));
const fail = (e: unknown) => ({ ok: false as const, error: e instanceof Error ? e.message : String(e) });

export function createFirmwareSlots(options: FirmwareSlotOptions): FirmwareSlotPort {
	const { storage, log } = options;
	let ota: OTA | undefined;
	let pending: { version: string; size: number; bytes: number } | undefined;
	const stored = storage?.read(PREVIOUS_KEY);
	let prev = stored ? utf8Decode(stored) : undefined;
	return {
		running: () => ({ version: options.factoryVersion, valid: firmwareState() !== 'pending' }),
		// after a rollback the stored version is the one running again: nothing behind it
		previous: () => (prev === undefined || prev === options.factoryVersion || pending ? undefined : { version: prev, valid: true }),
		begin(version, size) {
			try {
				ota?.cancel();
				ota = new OTA();
				pending = { version, size, bytes: 0 };
				return { ok: true };
			} catch (e) {
				ota = pending = undefined;
				return fail(e);
			}
		},
		written: () => (pending ? { ...pending } : undefined),
		write(offset, bytes) {
			if (!ota || !pending) return { ok: false, error: 'no image begun' };
			if (offset !== pending.bytes) return { ok: false, error: 'write at ' + offset + ', slot holds ' + pending.bytes };
			if (offset + bytes.length > pending.size) return { ok: false, error: 'image larger than ' + pending.size };
			try {
				ota.write(exact(bytes));
				pending.bytes += bytes.length;
				return { ok: true };
			} catch (e) {
				return fail(e);
			}
		},
		read(offset, length) {
			return new Uint8Array(new Flash('nextota').read(offset, length) as ArrayBuffer);
		},
		activate() {
			if (!ota || !pending || pending.bytes !== pending.size) return { ok: false, error: 'no complete image' };
			try {
				ota.complete();
			} catch (e) {
				return fail(e);
			} finally {
				ota = undefined;
			}
			prev = options.factoryVersion;
			// only a label for `previous()`: the image is complete and activated either way
			const w = storage?.write(PREVIOUS_KEY, utf8Encode(prev));
			if (w && !w.ok) log.log('warn', 'firmware.previous_unsaved', { result: w.error, message: w.message });
			pending = undefined;
			return { ok: true };
		},
		reboot() {
			log.log('info', 'firmware.reboot', {});
			options.onReboot();
			firmwareRestart();
		},
		markValid: () => firmwareMarkValid(),
		rollback() {
			if (prev === undefined) return { ok: false, error: 'no previous image' };
			try {
				firmwareRollback(); // restarts into the previous image; returns only by throwing
				return { ok: false, error: 'rollback returned' };
			} catch (e) {
				return fail(e);
			}
		},
	};
}
