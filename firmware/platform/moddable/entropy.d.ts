/* entropy.js / entropy.c: `n` strong random bytes (getrandom on lin, the hardware RNG on ESP32). */
export default function entropy(n: number): ArrayBuffer;
