/*
 * Fake of the SDK's `Resource` (resources built into the image, modules/files/resource/Resource.js
 * over Resource.c): `Resource.exists(name)`, `new Resource(name)` (URIError "Resource not found:
 * <name>" when absent) with byteLength and slice(begin, end) answering an ArrayBuffer copy. The
 * test says what the image holds.
 */
const images = new Map<string, Uint8Array>();

export const resourceFake = {
	set(name: string, bytes: Uint8Array): void {
		images.set(name, bytes.slice());
	},
	reset(): void {
		images.clear();
	},
};

export default class Resource {
	readonly #bytes: Uint8Array;
	constructor(name: string) {
		const b = images.get(name);
		if (!b) throw new URIError('Resource not found: ' + name);
		this.#bytes = b;
	}
	get byteLength(): number {
		return this.#bytes.length;
	}
	slice(begin: number, end?: number): ArrayBuffer {
		return this.#bytes.slice(begin, end).buffer;
	}
	static exists(name: string): boolean {
		return images.has(name);
	}
}
