/*
 * The portable CryptoPort (firmware/core/crypto/portable.ts over @noble/*) as the device
 * test build carries it: run.ts bundles it with esbuild into build/.../app/portable-crypto.js
 * (the module `test/device/scenarios/portable-crypto`), only to compare with the native one.
 */
import type { CryptoPort } from '../../../firmware/ports';
export function createPortableCrypto(random: (n: number) => Uint8Array): CryptoPort;
