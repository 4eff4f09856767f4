/*
 * The ESP32 the esp32 fakes (ota.ts, flash.ts, firmware-boot.ts) share: the next OTA partition's
 * bytes, which partition boots next, the running image's OTA state, and the restarts asked for.
 * Written from the SDK's and ESP-IDF's sources only: there is no ESP32 (nor ESP-IDF) here, so,
 * unlike the other fakes, none of this was seen on a runtime.
 */
export const chip = {
	/** The next update partition (what `OTA` writes and Flash("nextota") reads). */
	partition: new Uint8Array(0),
	/** esp_ota_set_boot_partition was called for it. */
	bootNext: false,
	/** The running image's state (esp_ota_get_state_partition): PENDING_VERIFY or not. */
	state: 'valid' as 'pending' | 'valid',
	/** A previous valid image esp_ota_mark_app_invalid_rollback_and_reboot could go back to. */
	canRollBack: true,
	/** Restarts asked for: 'restart' (esp_restart), 'rollback'. */
	restarts: [] as string[],
	/** What esp_ota_end's image check answers for these bytes (default: the magic byte 0xE9 in front). */
	imageValid: (bytes: Uint8Array): boolean => bytes.length > 0 && bytes[0] === 0xe9,
	reset(): void {
		this.partition = new Uint8Array(0);
		this.bootNext = false;
		this.state = 'valid';
		this.canRollBack = true;
		this.restarts = [];
		this.imageValid = (bytes) => bytes.length > 0 && bytes[0] === 0xe9;
	},
};
