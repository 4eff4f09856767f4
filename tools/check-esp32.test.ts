import assert from 'node:assert/strict';
import { checkEsp32, nvsNeed, parsePartitions, parseSdkconfig, readEsp32Files } from './check-esp32';

type Files = ReturnType<typeof readEsp32Files>;

/** The repository's files with one change. */
function variant(change: (f: Files) => void): Files {
	const f = readEsp32Files();
	const copy: Files = { ...f, manifest: JSON.parse(JSON.stringify(f.manifest)) as Files['manifest'] };
	change(copy);
	return copy;
}
const one = (f: Files, pattern: RegExp) => {
	const p = checkEsp32(f);
	assert.ok(
		p.some((x) => pattern.test(x)),
		`expected a problem matching ${pattern}, got ${JSON.stringify(p)}`,
	);
};

describe('check-esp32: the board configuration', () => {
	it('holds for the repository as it is', () => {
		assert.deepEqual(checkEsp32(readEsp32Files()), []);
	});

	it('reads partition rows and sdkconfig lines (later wins, "is not set" is n)', () => {
		const rows = parsePartitions('# c\nnvs, data, nvs, 0x9000, 0x6000,\nk, data, nvs_keys, 0xf000, 0x1000, encrypted\n');
		assert.deepEqual(rows[1], { name: 'k', type: 'data', subtype: 'nvs_keys', offset: 0xf000, size: 0x1000, flags: ['encrypted'] });
		assert.throws(() => parsePartitions('ota_1, app, ota_1, , 0x100000,'), /offset "" is not a number/);
		const s = parseSdkconfig('# CONFIG_A is not set\nCONFIG_A=y\nCONFIG_B=y\n# CONFIG_B is not set\n');
		assert.equal(s.get('CONFIG_A'), 'y');
		assert.equal(s.get('CONFIG_B'), 'n');
	});

	it('finds a missing rollback, watchdog or release secret option', () => {
		one(
			variant((f) => (f.sdkconfig = f.sdkconfig.replace('CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y', ''))),
			/BOOTLOADER_APP_ROLLBACK_ENABLE is not set/,
		);
		one(
			variant((f) => (f.sdkconfig = f.sdkconfig.replace('CONFIG_ESP_TASK_WDT_PANIC=y', 'CONFIG_ESP_TASK_WDT_PANIC=n'))),
			/ESP_TASK_WDT_PANIC is n/,
		);
		one(
			variant((f) => (f.sdkconfig = f.sdkconfig.replace(/CONFIG_ESP_TASK_WDT_TIMEOUT_S=\d+/, 'CONFIG_ESP_TASK_WDT_TIMEOUT_S=3'))),
			/TIMEOUT_S 3: at least twice/,
		);
		for (const k of ['CONFIG_SECURE_FLASH_ENC_ENABLED', 'CONFIG_NVS_ENCRYPTION', 'CONFIG_SECURE_BOOT_V2_ENABLED']) {
			one(
				variant((f) => (f.sdkconfigRelease = f.sdkconfigRelease.replace(k + '=y', ''))),
				new RegExp(k + ' is not set'),
			);
		}
	});

	it('finds creation sizes the board cannot give', () => {
		one(
			variant((f) => (f.manifest.platforms!.esp32!.creation = { ...f.manifest.platforms!.esp32!.creation, static: 212992 })),
			/static is 212992/,
		);
		one(
			variant((f) => (f.manifest.platforms!.esp32!.creation = { ...f.manifest.platforms!.esp32!.creation, chunk: { initial: 122880, incremental: 0 } })),
			/chunk is 122880 B: one block/,
		);
		one(
			variant((f) => (f.manifest.platforms!.esp32!.creation = { ...f.manifest.platforms!.esp32!.creation, heap: { initial: 4416, incremental: 512 } })),
			/grows/,
		);
		one(
			variant((f) => (f.manifest.platforms!.esp32!.creation = { ...f.manifest.platforms!.esp32!.creation, stack: 1088 })),
			/more than the stock ESP32 creation's 165888 B/,
		);
	});

	it("finds the SDK's setup/network left in the esp32 build, or mapped again", () => {
		one(
			variant((f) => delete f.manifest.platforms!.esp32!.modules!['~']),
			/does not leave out \$\(BUILD\)\/devices\/esp32\/setup\/network/,
		);
		one(
			variant((f) => (f.manifest.platforms!.esp32!.modules!['setup/network'] = './firmware/platform/moddable/network/network-esp32')),
			/maps "setup\/network"/,
		);
	});

	it('finds partition tables that break OTA, NVS encryption or the flash', () => {
		one(
			variant((f) => (f.partitions = f.partitions.replace(/^ota_1.*$/m, ''))),
			/exactly two app partitions/,
		);
		one(
			variant((f) => (f.partitions = f.partitions.replace(/^ota_1,(\s*)app,(\s*)ota_1,(\s*)0x210000,(\s*)0x1F0000/m, 'ota_1, app, ota_1, 0x210000, 0x100000'))),
			/ota_1 is 1048576 B, less than the image budget|differ/,
		);
		one(
			variant((f) => (f.partitions = f.partitions.replace(/^nvs_keys.*$/m, ''))),
			/nvs_keys partition/,
		);
		one(
			variant((f) => (f.partitions = f.partitions.replace(/0x1000,\s*encrypted/, '0x1000,'))),
			/flagged encrypted, found 0x1000 unflagged/,
		);
		one(
			variant((f) => (f.partitions = f.partitions.replace(/^nvs,.*$/m, 'nvs, data, nvs, 0x9000, 0x6000,'))),
			/nvs holds 20160 B/,
		);
		one(
			variant((f) => (f.partitions += 'storage, data, spiffs, 0x3F0000, 0x10000,\n')),
			/spiffs\) is unused|overlaps|past the 4 MB/,
		);
		one(
			variant((f) => (f.partitions = f.partitions.replace('0x210000, 0x1F0000', '0x210000, 0x200000'))),
			/past the 4 MB flash|differ/,
		);
	});

	it('sizes NVS for the outbox bound, twice over', () => {
		assert.equal(nvsNeed(8192), 2 * (3_300 + 512 + 8_192 + 8_192));
	});
});
