/*
 * Strong random bytes for the crypto port (firmware/platform/moddable/crypto.ts).
 * The SDK's `rng` module (modules/crypt/etc/rng.c) is RC4 seeded with 16 bytes of
 * c_rand(): fine for TLS padding, not for keys, message ids or RSA blinding. So:
 * lin: getrandom(2) (the kernel CSPRNG); ESP32: esp_fill_random (the hardware RNG,
 * strong while the radio or the bootloader entropy source runs).
 */
#include "xsmc.h"
#include "xsHost.h"
#if defined(ESP32) && ESP32
	#include "esp_random.h"
#else
	#include <errno.h>
	#include <sys/random.h>
#endif

void xs_entropy_bytes(xsMachine *the)
{
	xsIntegerValue n = xsmcToInteger(xsArg(0));
	uint8_t *p;
	if (n < 0 || n > 65536)
		xsRangeError("entropy: 0 to 65536 bytes");
	xsmcSetArrayBuffer(xsResult, NULL, n);
	p = xsmcToArrayBuffer(xsResult);
#if defined(ESP32) && ESP32
	esp_fill_random(p, n);
#else
	{
		xsIntegerValue got = 0;
		while (got < n) {
			ssize_t r = getrandom(p + got, n - got, 0);
			if (r < 0) {
				if (EINTR == errno) continue;
				xsUnknownError("entropy: getrandom failed");
			}
			got += (xsIntegerValue)r;
		}
	}
#endif
}
