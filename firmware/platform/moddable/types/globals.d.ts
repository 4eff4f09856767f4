/*
 * The XS globals the device code calls, as the project declares them for `npm run typecheck`
 * without an SDK (tsconfig.device.json). Written from the SDK's xs/includes/xs.d.ts and
 * xs/sources (8.2.3); only what firmware/main.ts and firmware/platform/moddable call.
 * Where MODDABLE is set, tools/typecheck-sdk.ts checks the same files against the SDK's
 * own typings instead of these (both must pass).
 */

/** XS `trace`: writes its arguments to the debug console (mcsim's stdout), no newline added. */
declare const trace: (...log: (string | number | boolean)[]) => void;

interface BigIntConstructor {
	/** Big-endian unsigned bytes to a BigInt (xsBigInt.c fx_BigInt_fromArrayBuffer): an ArrayBuffer, not a view. */
	fromArrayBuffer(buffer: ArrayBuffer): bigint;
}
