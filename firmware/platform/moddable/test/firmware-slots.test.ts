/*
 * The firmware slots of the lin build (../slots/firmware-slots.ts) inside XS over the fake
 * `file` (fakes/file.ts: lin's modFile.c on an in-memory disk that survives the File objects, as
 * the files survive a power loss) and `mc/config`: the bootloader's record, sequential durable
 * writes that resume after a power loss, activation on probation, the bootloader going back
 * after a second unconfirmed boot, rollback, and a record it cannot read.
 */
import * as assert from '../../../core/testing/assert';
import { memoryLog } from '../../../core/testing/fakes';
import type { FirmwareSlotPort } from '../../../ports';
import { createFirmwareSlots } from '../slots/firmware-slots';
import { fileFake } from './fakes/file';
import config from './fakes/mc-config';

const ROOT = '/flash/';
const pattern = (n: number, k = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * k + 1) & 0xff);

function powerUp(reboots: string[] = []): FirmwareSlotPort {
	return createFirmwareSlots({ factoryVersion: '1.0.0', onReboot: () => reboots.push('reboot'), log: memoryLog() });
}

/** Writes a whole image into the inactive slot, in pieces given as views at odd offsets. */
function download(s: FirmwareSlotPort, version: string, image: Uint8Array, piece = 1000): void {
	assert.deepEqual(s.begin(version, image.length), { ok: true });
	for (let at = 0; at < image.length; at += piece) {
		const chunk = image.subarray(at, at + piece);
		const backing = new Uint8Array(chunk.length + 7);
		backing.set(chunk, 3);
		assert.deepEqual(s.write(at, backing.subarray(3, 3 + chunk.length)), { ok: true });
	}
}

describe('moddable firmware slots (lin) over files', () => {
	beforeEach(() => {
		fileFake.reset();
		(config as { file: { root: string } }).file = { root: ROOT };
	});

	it('the first power-up runs the factory image, valid, with nothing behind it, and writes the record under config.file.root', () => {
		const s = powerUp();
		assert.deepEqual(s.running(), { version: '1.0.0', valid: true });
		assert.equal(s.previous(), undefined);
		assert.ok(fileFake.disk.has(ROOT + 'fw-boot.json'));
		assert.ok(!fileFake.disk.has(ROOT + 'fw-boot.json.tmp'), 'written under a temporary name and renamed');
	});

	it('writes sequentially into the inactive slot and reads back exactly what was written', () => {
		const s = powerUp();
		const image = pattern(3500, 3);
		download(s, '1.1.0', image);
		assert.deepEqual(s.written(), { version: '1.1.0', size: 3500, bytes: 3500 });
		assert.deepEqual([...s.read(0, 3500)], [...image]);
		assert.deepEqual([...s.read(1000, 10)], [...image.subarray(1000, 1010)]);
		assert.deepEqual(fileFake.disk.get(ROOT + 'fw-b.bin')?.length, 3500, 'slot b is the inactive one');
	});

	it('refuses a write that does not continue where the slot ends or goes past the image', () => {
		const s = powerUp();
		s.begin('1.1.0', 100);
		assert.deepEqual(s.write(10, pattern(5)), { ok: false, error: 'write at 10, slot holds 0' });
		assert.deepEqual(s.write(0, pattern(101)), { ok: false, error: 'image larger than 100' });
		assert.deepEqual(s.write(0, pattern(60)), { ok: true });
		assert.deepEqual(s.write(0, pattern(10)), { ok: false, error: 'write at 0, slot holds 60' });
	});

	it('a download resumes after a power loss from what the slot file holds', () => {
		const image = pattern(5000, 7);
		const s = powerUp();
		s.begin('1.1.0', image.length);
		s.write(0, image.subarray(0, 2000));
		// power loss: nothing closed, a new boot over the same files
		const again = powerUp();
		assert.deepEqual(again.written(), { version: '1.1.0', size: 5000, bytes: 2000 });
		assert.deepEqual(again.write(2000, image.subarray(2000)), { ok: true });
		assert.deepEqual([...again.read(0, 5000)], [...image]);
	});

	it('a new begin empties the slot (a shorter image leaves nothing of the longer one)', () => {
		const s = powerUp();
		download(s, '1.1.0', pattern(3000));
		download(s, '1.2.0', pattern(100, 9));
		assert.deepEqual(s.written(), { version: '1.2.0', size: 100, bytes: 100 });
		assert.equal(fileFake.disk.get(ROOT + 'fw-b.bin')?.length, 100);
	});

	it('activates only a complete image; the next power-up runs it on probation, markValid keeps it', () => {
		const reboots: string[] = [];
		const s = powerUp(reboots);
		s.begin('1.1.0', 200);
		s.write(0, pattern(150));
		assert.deepEqual(s.activate(), { ok: false, error: 'no complete image' });
		s.write(150, pattern(50));
		assert.deepEqual(s.activate(), { ok: true });
		s.reboot();
		assert.deepEqual(reboots, ['reboot']);
		const next = powerUp();
		assert.deepEqual(next.running(), { version: '1.1.0', valid: false });
		next.markValid();
		assert.deepEqual(powerUp().running(), { version: '1.1.0', valid: true });
		assert.deepEqual(powerUp().previous(), { version: '1.0.0', valid: true });
	});

	it('an image booted twice without markValid is abandoned by the bootloader: the old one runs again', () => {
		const s = powerUp();
		download(s, '1.1.0', pattern(64));
		s.activate();
		assert.deepEqual(powerUp().running(), { version: '1.1.0', valid: false }); // first try
		assert.deepEqual(powerUp().running(), { version: '1.0.0', valid: true }); // never confirmed
	});

	it('rollback returns to the previous image on the next power-up; with none it says so', () => {
		const s = powerUp();
		assert.deepEqual(s.rollback(), { ok: false, error: 'no previous image' });
		download(s, '1.1.0', pattern(64));
		s.activate();
		const on = powerUp();
		assert.deepEqual(on.rollback(), { ok: true });
		assert.deepEqual(powerUp().running(), { version: '1.0.0', valid: true });
	});

	it('a record it cannot read stops it, naming the file (never a silent fall back to the factory image)', () => {
		powerUp();
		fileFake.disk.set(
			ROOT + 'fw-boot.json',
			Uint8Array.from('not json', (c) => c.charCodeAt(0)),
		);
		assert.throws(() => powerUp(), /\/flash\/fw-boot.json is not a boot record: not json/);
	});
});
