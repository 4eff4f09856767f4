/*
 * What esp32.ts needs beyond the SDK's `ota` module (which only begins, writes,
 * cancels and completes an update): the running image's state, and ESP-IDF's app
 * rollback calls (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE). On other platforms every
 * call throws (manifest.json maps this module for esp32 only).
 */
#include "xsmc.h"
#include "xsHost.h"
#if defined(ESP32) && ESP32
	#include "esp_system.h"
	#include "app_update/include/esp_ota_ops.h"	// as the SDK's own ota and flash modules include it
#endif

void xs_firmware_state(xsMachine *the)
{
#if defined(ESP32) && ESP32
	esp_ota_img_states_t state;
	const esp_partition_t *running = esp_ota_get_running_partition();
	if (running && ESP_OK == esp_ota_get_state_partition(running, &state) && ESP_OTA_IMG_PENDING_VERIFY == state)
		xsmcSetString(xsResult, "pending");
	else
		xsmcSetString(xsResult, "valid");
#else
	xsUnknownError("firmware-boot: ESP32 only");
#endif
}

void xs_firmware_mark_valid(xsMachine *the)
{
#if defined(ESP32) && ESP32
	if (ESP_OK != esp_ota_mark_app_valid_cancel_rollback())
		xsUnknownError("firmware-boot: mark valid failed");
#else
	xsUnknownError("firmware-boot: ESP32 only");
#endif
}

void xs_firmware_rollback(xsMachine *the)
{
#if defined(ESP32) && ESP32
	esp_err_t err = esp_ota_mark_app_invalid_rollback_and_reboot();
	xsUnknownError(ESP_ERR_OTA_ROLLBACK_FAILED == err ? "firmware-boot: no image to roll back to" : "firmware-boot: rollback failed");
#else
	xsUnknownError("firmware-boot: ESP32 only");
#endif
}

void xs_firmware_restart(xsMachine *the)
{
#if defined(ESP32) && ESP32
	esp_restart();
#else
	xsUnknownError("firmware-boot: ESP32 only");
#endif
}
