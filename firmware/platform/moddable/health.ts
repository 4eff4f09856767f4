/*
 * Health figures on the Moddable runtime: the system heap's free bytes from the SDK's
 * instrumentation ("System Free Memory": heap_caps_get_free_size on ESP32), Wi-Fi RSSI from the
 * `net` module where the platform has it (ESP32; the lin simulator answers nothing), and
 * the reset reason the platform start code read at boot (esp_reset_reason on ESP32).
 * Storage use is the Preference domain's own count of bytes written, given by the caller.
 * The largest free block is left out: the SDK's instrumentation has no such figure (ESP-IDF's
 * heap_caps_get_largest_free_block needs a native binding, not built here).
 */
import Instrumentation from 'instrumentation';
import Net from 'net';
import type { HealthFigures, HealthPort } from '../../ports';

function instrument(name: 'System Free Memory'): number | undefined {
	const index = Instrumentation.map(name);
	if (index === undefined || index < 0) return undefined;
	const v = Instrumentation.get(index);
	return typeof v === 'number' ? v : undefined;
}

export function createModdableHealth(o: { resetReason: string; storage?: () => { used: number; total: number } }): HealthPort {
	return {
		resetReason: o.resetReason,
		read(): HealthFigures {
			const out: { -readonly [K in keyof HealthFigures]: HealthFigures[K] } = {};
			const free = instrument('System Free Memory');
			// the lin simulator's instrumentation answers 0 (it measures no system heap): not a figure
			if (free !== undefined && free > 0) out.freeHeap = free;
			const rssi: unknown = Net.get('RSSI');
			if (typeof rssi === 'number' && rssi < 0) out.rssi = rssi;
			const s = o.storage?.();
			if (s) {
				out.storageUsed = s.used;
				out.storageTotal = s.total;
			}
			return out;
		},
	};
}
