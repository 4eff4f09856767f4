/*
 * Fake of the SDK's esp32 `ota` (build/devices/esp32/modules/ota: ota.js over ota.c, ESP-IDF's
 * esp_ota_ops), on the shared fake chip (chip.ts). From the sources (no ESP32 here):
 * - new OTA(): esp_ota_begin on the next update partition with OTA_WITH_SEQUENTIAL_WRITES; the
 *   partition holds nothing of an earlier image after it ("begin failed" when it cannot).
 * - write(data): any readable buffer, appended; ESP-IDF refuses a first byte that is not the image
 *   magic 0xE9 (ESP_ERR_OTA_VALIDATE_FAILED): "write failed".
 * - cancel(): esp_ota_end without switching; again is a no-op.
 * - complete(): "bad state" after cancel or complete; esp_ota_end checks the image ("end failed"),
 *   then esp_ota_set_boot_partition.
 */
import { chip } from './chip';

export default class OTA {
	#open = true;
	constructor() {
		chip.partition = new Uint8Array(0);
		chip.bootNext = false;
		otaFake.begun++;
	}
	write(data: ArrayBuffer | ArrayBufferView): void {
		if (!this.#open) throw new Error('write failed');
		const b = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
		if (chip.partition.length === 0 && b.length > 0 && b[0] !== 0xe9) throw new Error('write failed');
		const next = new Uint8Array(chip.partition.length + b.length);
		next.set(chip.partition);
		next.set(b, chip.partition.length);
		chip.partition = next;
	}
	cancel(): void {
		if (this.#open) otaFake.cancelled++;
		this.#open = false;
	}
	complete(): void {
		if (!this.#open) throw new Error('bad state');
		this.#open = false;
		if (!chip.imageValid(chip.partition)) throw new Error('end failed');
		chip.bootNext = true;
	}
}

export const otaFake = {
	begun: 0,
	cancelled: 0,
	reset(): void {
		this.begun = 0;
		this.cancelled = 0;
	},
};
