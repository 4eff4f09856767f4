/* Native OTA state, mark-valid, rollback and restart on ESP32 (firmware-boot.c); typed in firmware-boot.d.ts. */
export function firmwareState() @ "xs_firmware_state";
export function firmwareMarkValid() @ "xs_firmware_mark_valid";
export function firmwareRollback() @ "xs_firmware_rollback";
export function firmwareRestart() @ "xs_firmware_restart";
