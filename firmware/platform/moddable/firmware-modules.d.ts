/*
 * Typings for the SDK modules the firmware-update adapters use that $(MODDABLE)/typings
 * leaves out, as the SDK's sources define them (modules/crypt/etc/ecdsa.js, x509.js;
 * build/devices/esp32/modules/ota/ota.js); slots/firmware-boot.js has its own .d.ts.
 * Only what is called.
 */
declare module 'ecdsa' {
	export default class ECDSA {
		/** `key`: the public point (x509's spki.pub); `curve`: spki.curve. */
		constructor(key: unknown, curve: unknown);
		/** `H`: the digest; `sig`: raw r||s when `asn1` is false. */
		verify(H: ArrayBuffer, sig: ArrayBuffer, asn1: boolean): boolean;
	}
}
declare module 'x509' {
	const X509: {
		decode(der: ArrayBuffer | Uint8Array): { tbs: unknown; algo: unknown; sig: unknown; spki: { pub?: unknown; curve?: { orderSize?: number }; algo?: { toString(): string } } };
	};
	export default X509;
}
declare module 'ota' {
	/** esp_ota_begin on the next update partition (erases it), OTA_SIZE_UNKNOWN. */
	export default class OTA {
		constructor();
		write(data: ArrayBuffer): void;
		/** esp_ota_end without switching. */
		cancel(): void;
		/** esp_ota_end (checks the image) and esp_ota_set_boot_partition. */
		complete(): void;
	}
}
