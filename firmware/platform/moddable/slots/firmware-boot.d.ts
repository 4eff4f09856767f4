/* firmware-boot.js / firmware-boot.c: the running image's ESP-IDF OTA state and the calls the SDK's `ota` module leaves out (ESP32 only; elsewhere they throw). */
/** 'pending' = PENDING_VERIFY (booted on probation); 'valid' otherwise (VALID, UNDEFINED, or a factory partition). */
export function firmwareState(): 'pending' | 'valid';
export function firmwareMarkValid(): void;
/** esp_ota_mark_app_invalid_rollback_and_reboot: does not return when it works. */
export function firmwareRollback(): void;
export function firmwareRestart(): void;
