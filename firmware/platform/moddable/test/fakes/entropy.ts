/*
 * Fake of our native entropy (../../entropy.c: getrandom on lin, the hardware RNG on ESP32):
 * `n` bytes in a fresh ArrayBuffer, from a seeded xorshift so tests repeat; every call is
 * counted, so a test can tell the adapter drew from it and not from Math.random.
 */
let state = 0x9e3779b9;
export const entropyFake = {
	calls: [] as number[],
	seed(s: number): void {
		state = s >>> 0 || 1;
	},
	reset(): void {
		state = 0x9e3779b9;
		this.calls.length = 0;
	},
};

export default function entropy(n: number): ArrayBuffer {
	entropyFake.calls.push(n);
	const out = new Uint8Array(n);
	for (let i = 0; i < n; i++) {
		state ^= state << 13;
		state ^= state >>> 17;
		state ^= state << 5;
		out[i] = state & 0xff;
	}
	return out.buffer;
}
