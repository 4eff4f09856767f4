/*
 * The firmware slots of the esp32 build (../slots/esp32.ts) inside XS over fakes of the SDK's
 * esp32 `ota` and `flash` and of our firmware-boot, on one fake chip (fakes/chip.ts). Written
 * from the sources (no ESP32 or ESP-IDF here): the update written in order into the next
 * partition, read back through flash, no resume after a power loss, the boot partition switched
 * only for a complete image ESP-IDF accepts, the replaced version kept in storage, rollback.
 */
import * as assert from '../../../core/testing/assert';
import { memoryLog, memoryStorage } from '../../../core/testing/fakes';
import type { FirmwareSlotPort, StoragePort } from '../../../ports';
import { createFirmwareSlots } from '../slots/esp32';
import { chip } from './fakes/chip';
import { otaFake } from './fakes/ota';

/** An image as ESP-IDF wants it: the magic byte 0xE9 first. */
const image = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i === 0 ? 0xe9 : (i * 13 + 7) & 0xff));

function boot(storage: StoragePort = memoryStorage(), reboots: string[] = []): FirmwareSlotPort {
	return createFirmwareSlots({ factoryVersion: '1.0.0', onReboot: () => reboots.push('onReboot'), log: memoryLog(), storage });
}

function download(s: FirmwareSlotPort, version: string, img: Uint8Array, piece = 700): void {
	assert.deepEqual(s.begin(version, img.length), { ok: true });
	for (let at = 0; at < img.length; at += piece) {
		const chunk = img.subarray(at, at + piece);
		const backing = new Uint8Array(chunk.length + 5);
		backing.set(chunk, 2);
		assert.deepEqual(s.write(at, backing.subarray(2, 2 + chunk.length)), { ok: true });
	}
}

describe('moddable firmware slots (esp32) over ota, flash and firmware-boot', () => {
	beforeEach(() => {
		chip.reset();
		otaFake.reset();
	});

	it('runs the version built into the image; valid unless the chip booted it on probation', () => {
		assert.deepEqual(boot().running(), { version: '1.0.0', valid: true });
		chip.state = 'pending';
		assert.deepEqual(boot().running(), { version: '1.0.0', valid: false });
		assert.equal(boot().previous(), undefined);
	});

	it('writes the image in order into the next partition (views at offsets) and reads it back through flash', () => {
		const s = boot();
		const img = image(3000);
		download(s, '1.1.0', img);
		assert.deepEqual(s.written(), { version: '1.1.0', size: 3000, bytes: 3000 });
		assert.deepEqual([...chip.partition], [...img]);
		assert.deepEqual([...s.read(100, 50)], [...img.subarray(100, 150)]);
	});

	it('refuses writes out of order or past the image, and an image ESP-IDF refuses (no magic byte)', () => {
		const s = boot();
		assert.deepEqual(s.write(0, image(10)), { ok: false, error: 'no image begun' });
		s.begin('1.1.0', 100);
		assert.deepEqual(s.write(5, image(10)), { ok: false, error: 'write at 5, slot holds 0' });
		assert.deepEqual(s.write(0, image(101)), { ok: false, error: 'image larger than 100' });
		assert.deepEqual(s.write(0, Uint8Array.of(0, 1, 2)), { ok: false, error: 'write failed' });
		assert.deepEqual(s.written(), { version: '1.1.0', size: 100, bytes: 0 });
	});

	it('a new begin cancels the update in progress and starts the partition afresh', () => {
		const s = boot();
		s.begin('1.1.0', 100);
		s.write(0, image(50));
		s.begin('1.2.0', 60);
		assert.equal(otaFake.cancelled, 1);
		assert.equal(otaFake.begun, 2);
		assert.equal(chip.partition.length, 0);
		assert.deepEqual(s.written(), { version: '1.2.0', size: 60, bytes: 0 });
	});

	it('after a power loss nothing resumes (the SDK has no offset writes): written() is empty', () => {
		const storage = memoryStorage();
		const s = boot(storage);
		s.begin('1.1.0', 100);
		s.write(0, image(40));
		assert.equal(boot(storage).written(), undefined);
	});

	it('activates only a complete image the chip accepts, switching the boot partition and keeping the replaced version', () => {
		const storage = memoryStorage();
		const s = boot(storage);
		s.begin('1.1.0', 100);
		s.write(0, image(60));
		assert.deepEqual(s.activate(), { ok: false, error: 'no complete image' });
		assert.equal(chip.bootNext, false);
		s.write(60, image(40).subarray(0, 40));
		assert.deepEqual(s.activate(), { ok: true });
		assert.equal(chip.bootNext, true);
		// the next boot runs 1.1.0 (built into that image) with 1.0.0 behind it
		const next = createFirmwareSlots({ factoryVersion: '1.1.0', onReboot: () => undefined, log: memoryLog(), storage });
		assert.deepEqual(next.previous(), { version: '1.0.0', valid: true });
	});

	it('an image ESP-IDF finds invalid at the end is refused and the boot partition stays', () => {
		chip.imageValid = () => false;
		const s = boot();
		download(s, '1.1.0', image(200));
		assert.deepEqual(s.activate(), { ok: false, error: 'end failed' });
		assert.equal(chip.bootNext, false);
		assert.deepEqual(s.activate(), { ok: false, error: 'no complete image' }, 'the OTA handle is gone');
	});

	it('reboot tells the app, then restarts the chip; markValid confirms the running image', () => {
		const reboots: string[] = [];
		chip.state = 'pending';
		const s = boot(memoryStorage(), reboots);
		s.markValid();
		assert.equal(chip.state, 'valid');
		s.reboot();
		assert.deepEqual(reboots, ['onReboot']);
		assert.deepEqual(chip.restarts, ['restart']);
	});

	it('rollback needs a previous image; with one the chip restarts into it', () => {
		const storage = memoryStorage();
		assert.deepEqual(boot(storage).rollback(), { ok: false, error: 'no previous image' });
		const s = boot(storage);
		download(s, '1.1.0', image(64));
		s.activate();
		const on = createFirmwareSlots({ factoryVersion: '1.1.0', onReboot: () => undefined, log: memoryLog(), storage });
		on.rollback();
		assert.deepEqual(chip.restarts, ['rollback']);
		chip.canRollBack = false;
		assert.deepEqual(on.rollback(), { ok: false, error: 'firmware-boot: no image to roll back to' });
	});
});
