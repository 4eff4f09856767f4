/*
 * Fake of the SDK's `file` as lin builds it (modules/files/file/lin/modFile.c over stdio), on an
 * in-memory file system that outlives the File objects (what a power loss keeps: every write is
 * fflush'ed). What it keeps from modFile.c, and from tools/sdk-facts.ts on 8.2.3:
 * - new File(path) opens for reading ("file not found" when missing); new File(path, true)
 *   opens for writing WITHOUT truncating (fopen "rb+"), creating the file when missing.
 * - read(String | ArrayBuffer, n): from the position, at most to the end; at or past the end it
 *   throws "read past end of file", except for n = 0 (position + n is not past the size).
 * - write(...values): at the position (a seek past the end leaves zeros); a string as its bytes,
 *   a number as one byte, otherwise an ArrayBuffer only (xsmcToArrayBuffer: a view throws).
 * - File.rename(from, to): `to` without a "/" is a name in from's directory ("invalid to" when
 *   it has one after its first character); replaces an existing `to`; false when `from` is missing.
 * - File.delete / File.exists answer false / true as unlink / stat do.
 */
import { utf8Encode } from '../../../../core/util/utf8';

const disk = new Map<string, Uint8Array>();

export const fileFake = {
	disk,
	reset(): void {
		disk.clear();
	},
};

export class File {
	#path: string | undefined;
	#position = 0;
	constructor(path: string, write = false) {
		if (!disk.has(path)) {
			if (!write) throw new Error('file not found');
			disk.set(path, new Uint8Array(0));
		}
		this.#path = path;
	}
	#bytes(): Uint8Array {
		if (this.#path === undefined) throw new Error('closed');
		const b = disk.get(this.#path);
		if (!b) throw new Error('file deleted while open: not modelled');
		return b;
	}
	get length(): number {
		return this.#bytes().length;
	}
	get position(): number {
		this.#bytes();
		return this.#position;
	}
	set position(p: number) {
		this.#bytes();
		this.#position = Math.trunc(p);
	}
	read(type: typeof String | typeof ArrayBuffer, n?: number): string | ArrayBuffer {
		const b = this.#bytes();
		let len = n === undefined ? -1 : Math.trunc(n);
		if (len === -1 || b.length < this.#position + len) {
			if (this.#position >= b.length) throw new Error('read past end of file');
			len = b.length - this.#position;
		}
		const out = b.slice(this.#position, this.#position + len);
		this.#position += len;
		if (type === String) return String.fromCharCode(...out);
		if (type === ArrayBuffer) return out.buffer;
		throw new Error('fake file: read(String | ArrayBuffer) only');
	}
	write(...values: (ArrayBuffer | string | number)[]): void {
		let b = this.#bytes();
		for (const v of values) {
			let src: Uint8Array;
			if (typeof v === 'string') src = utf8Encode(v);
			else if (typeof v === 'number') src = Uint8Array.of(v & 0xff);
			else if (v instanceof ArrayBuffer) src = new Uint8Array(v);
			else throw new TypeError('File.write: argument is no ArrayBuffer instance');
			const end = this.#position + src.length;
			if (end > b.length) {
				const grown = new Uint8Array(end);
				grown.set(b);
				b = grown;
			}
			b.set(src, this.#position);
			this.#position = end;
		}
		disk.set(this.#path!, b);
	}
	close(): void {
		this.#path = undefined;
	}
	static exists(path: string): boolean {
		return disk.has(path);
	}
	static delete(path: string): boolean {
		return disk.delete(path);
	}
	static rename(from: string, to: string): boolean {
		let target = to;
		if (!to.startsWith('/')) {
			if (to.indexOf('/', 1) > 0) throw new Error('invalid to');
			const slash = from.lastIndexOf('/');
			if (slash < 0) throw new Error('invalid from');
			target = from.slice(0, slash + 1) + to;
		}
		const b = disk.get(from);
		if (!b) return false;
		disk.delete(from);
		disk.set(target, b);
		return true;
	}
}
