/*
 * Fake of the SDK's `flash` on esp32 (modules/files/flash/esp32/flash.c), "nextota" only:
 * the next update partition of the fake chip (chip.ts); another name "can't find partition"
 * (of the names the firmware uses). read(offset, length) answers an ArrayBuffer; reading past
 * what was written answers erased flash (0xFF), as a partition does.
 */
import { chip } from './chip';

export default class Flash {
	constructor(partition: string) {
		if (partition !== 'nextota') throw new Error("can't find partition");
	}
	read(offset: number, length: number): ArrayBuffer {
		const out = new Uint8Array(length).fill(0xff);
		out.set(chip.partition.subarray(offset, offset + length));
		return out.buffer;
	}
}
