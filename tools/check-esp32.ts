/*
 * `npm run check:manifest` (after tools/check-manifest.ts): the ESP32 board configuration the
 * firmware relies on (issue #20), checked from the files, since CI has no ESP-IDF to build it:
 *
 * - manifest.json's esp32 section names the project's sdkconfig fragments and partition table
 *   (firmware/board/esp32) and asks XS for no more than the board can give: `static` 0 (no one
 *   block that large exists on a plain ESP32) and chunk, slots and stack within Moddable's stock
 *   ESP32 creation, which the SDK runs with Wi-Fi, lwIP, TLS and MQTT beside it;
 * - the fragments set app rollback, the task watchdog with panic and a timeout above the longest
 *   blocking operation, and for release flash encryption, NVS encryption and secure boot v2;
 * - the partition table has two equal OTA slots that hold the image budget with headroom,
 *   otadata, an NVS partition that holds what the firmware stores there, nvs_keys (encrypted),
 *   and nothing unused (no factory app, no file system), without overlaps, inside the flash.
 *
 * The figures each rule compares against are the constants below, with where they come from.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * What the board gives XS: Moddable SDK 8.2.3's own ESP32 creation (static 0, chunk 78,848 B,
 * 4,928 slots of 16 B = 78,848 B, stack 512 slots = 8,192 B: 165,888 B in all), the sizes its
 * network examples run with on a plain ESP32 (no PSRAM) after Wi-Fi and lwIP took theirs. With
 * static 0 XS allocates the chunk heap, the slot heap and the stack as separate blocks: none may
 * be larger than the stock's largest (78,848 B), and together they may not take more than the
 * stock's total (docs/flashing.md, "Memory").
 */
export const BOARD_XS = Object.freeze({ static: 0, block: 78_848, total: 78_848 + 4_928 * 16 + 512 * 16 });
/** A slot and a stack entry on the ESP32 (32-bit XS). */
export const SLOT_BYTES = 16;

/**
 * The image an OTA slot must hold: not measured (no ESP-IDF on this machine). Moddable ESP32
 * images with Wi-Fi, lwIP and the SDK's TLS are about 1.1-1.3 MB; the firmware's compiled
 * modules are 0.4 MB on lin. Budget 1.5 MB, and each slot holds it with 25% headroom.
 */
export const IMAGE_BUDGET = 1_536 * 1024;
export const SLOT_HEADROOM = 0.25;
export const FLASH_BYTES = 4 * 1024 * 1024;
/** The partition table's own offset (CONFIG_PARTITION_TABLE_OFFSET) and size. */
export const TABLE = Object.freeze({ offset: 0x8000, size: 0x1000 });

/**
 * What the firmware keeps in NVS, in bytes of entries (NVS stores 32-byte entries, 126 per 4 KB
 * page, and keeps one page free for compaction): credentials (DER CA, certificate and key,
 * about 3.2 KB), the network record, the outbox bound of manifest.json's esp32 config, the
 * schedule, owed reports and maps, the OTA record and counters (together under 8 KB), twice
 * over: Preference.set writes a new entry before it erases the old one.
 */
export function nvsNeed(outboxBytes: number): number {
	const credentials = 3_300;
	const network = 512;
	const robotRecords = 8_192;
	return 2 * (credentials + network + outboxBytes + robotRecords);
}

export interface Partition {
	name: string;
	type: string;
	subtype: string;
	offset: number;
	size: number;
	flags: string[];
}

/** The rows of an ESP-IDF partition CSV (every offset explicit); throws on a row it cannot read. */
export function parsePartitions(csv: string): Partition[] {
	const rows: Partition[] = [];
	for (const [i, raw] of csv.split('\n').entries()) {
		const line = raw.trim();
		if (!line || line.startsWith('#')) continue;
		const f = line.split(',').map((x) => x.trim());
		const num = (s: string | undefined, what: string): number => {
			if (!s || !/^(0x[0-9a-f]+|\d+)$/i.test(s)) throw new Error(`partitions.csv line ${i + 1}: ${what} "${s ?? ''}" is not a number (offsets are explicit here)`);
			return Number(s);
		};
		rows.push({ name: f[0]!, type: f[1] ?? '', subtype: f[2] ?? '', offset: num(f[3], 'offset'), size: num(f[4], 'size'), flags: (f[5] ?? '').split(':').filter((x) => x) });
	}
	return rows;
}

/** `CONFIG_X=value` lines of an sdkconfig fragment (later lines win, as in kconfig). */
export function parseSdkconfig(text: string): Map<string, string> {
	const m = new Map<string, string>();
	for (const raw of text.split('\n')) {
		const line = raw.trim();
		const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
		if (unset) m.set(unset[1]!, 'n');
		const set = /^(CONFIG_\w+)=(.*)$/.exec(line);
		if (set) m.set(set[1]!, set[2]!);
	}
	return m;
}

/** Options every build needs, then release builds. */
export const REQUIRED = Object.freeze({
	all: {
		CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE: 'y',
		CONFIG_ESP_TASK_WDT_EN: 'y',
		CONFIG_ESP_TASK_WDT_INIT: 'y',
		CONFIG_ESP_TASK_WDT_PANIC: 'y',
		CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU0: 'y',
		CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU1: 'y',
		CONFIG_PARTITION_TABLE_CUSTOM: 'y',
		CONFIG_ESPTOOLPY_FLASHSIZE_4MB: 'y',
	} as Record<string, string>,
	release: {
		CONFIG_SECURE_FLASH_ENC_ENABLED: 'y',
		CONFIG_SECURE_FLASH_ENCRYPTION_MODE_RELEASE: 'y',
		CONFIG_NVS_ENCRYPTION: 'y',
		CONFIG_NVS_SEC_KEY_PROTECT_USING_FLASH_ENC: 'y',
		CONFIG_SECURE_BOOT: 'y',
		CONFIG_SECURE_BOOT_V2_ENABLED: 'y',
		CONFIG_ESP32_REV_MIN_3: 'y',
		CONFIG_BOOTLOADER_SKIP_VALIDATE_ALWAYS: 'n',
	} as Record<string, string>,
});

/**
 * The longest blocking operation the watchdog must outlast: an RSA-2048 private-key operation
 * on the board, estimated in docs/flashing.md ("Watchdog") from the 32-bit lin build scaled to a
 * 240 MHz Xtensa LX6. The timeout must be at least twice that.
 */
export const RSA2048_PRIVATE_ON_BOARD_MS = 2_500;

interface Creation {
	static?: number;
	chunk?: { initial: number; incremental: number };
	heap?: { initial: number; incremental: number };
	stack?: number;
}
interface Manifest {
	creation: Creation;
	platforms?: Record<string, { build?: Record<string, string>; creation?: Creation; config?: { link?: { outbox?: { maxBytes?: number } } }; modules?: Record<string, string | string[]> }>;
}

/** The SDK's start-up Wi-Fi module on ESP32 (Moddable 8.2.3, examples/manifest_net.json). */
const SDK_SETUP_NETWORK = '$(BUILD)/devices/esp32/setup/network';

/** Every problem with the ESP32 configuration; empty when it holds. */
export function checkEsp32(files: { manifest: Manifest; sdkconfig: string; sdkconfigRelease: string; partitions: string }): string[] {
	const problems: string[] = [];
	const esp32 = files.manifest.platforms?.esp32;
	if (!esp32) return ['manifest.json has no platforms.esp32 section'];
	const build = esp32.build ?? {};
	if (build['SDKCONFIGPATH'] !== './firmware/board/esp32') problems.push(`platforms.esp32.build.SDKCONFIGPATH is ${JSON.stringify(build['SDKCONFIGPATH'])}, expected "./firmware/board/esp32" (the project's sdkconfig fragments)`);
	if (build['PARTITIONS_FILE'] !== './firmware/board/esp32/partitions.csv') problems.push(`platforms.esp32.build.PARTITIONS_FILE is ${JSON.stringify(build['PARTITIONS_FILE'])}, expected "./firmware/board/esp32/partitions.csv"`);

	// the SDK's setup/network (mapped and preloaded by manifest_net.json, which the sntp, net and http
	// manifests include) would run before main and wait for Wi-Fi without a timeout: "~" leaves it out
	// of the esp32 build, and network-esp32.ts brings the network up from main (docs/device.md)
	const left = ([] as string[]).concat(esp32.modules?.['~'] ?? []);
	if (!left.includes(SDK_SETUP_NETWORK)) problems.push(`platforms.esp32.modules["~"] does not leave out ${SDK_SETUP_NETWORK}: the SDK's Wi-Fi start would run before main, blocking it until an address comes`);
	if (esp32.modules?.['setup/network'] !== undefined) problems.push('platforms.esp32.modules maps "setup/network": the runtime runs every preloaded setup/* module before main; the network starts from main (network-esp32.ts)');

	// creation: what XS gets, against what the board has
	const c = { ...files.manifest.creation, ...(esp32.creation ?? {}) };
	if ((c.static ?? 0) !== BOARD_XS.static) problems.push(`esp32 creation static is ${c.static}: a plain ESP32 has no free block that large after Wi-Fi and lwIP; 0 lets XS allocate chunks and slots apart`);
	const blocks = { chunk: c.chunk?.initial ?? 0, heap: (c.heap?.initial ?? 0) * SLOT_BYTES, stack: (c.stack ?? 0) * SLOT_BYTES };
	for (const [k, v] of Object.entries(blocks)) if (!(v > 0) || v > BOARD_XS.block) problems.push(`esp32 creation ${k} is ${v} B: one block, at most the stock's largest (${BOARD_XS.block} B)`);
	const total = blocks.chunk + blocks.heap + blocks.stack;
	if (total > BOARD_XS.total) problems.push(`esp32 creation takes ${total} B (chunk ${blocks.chunk} + slots ${blocks.heap} + stack ${blocks.stack}), more than the stock ESP32 creation's ${BOARD_XS.total} B the board has free for XS`);
	if (c.chunk?.incremental || c.heap?.incremental)
		problems.push(`esp32 creation grows (chunk +${c.chunk?.incremental}, heap +${c.heap?.incremental}): the budget was measured with growth off, and growing past it on the board fails anyway; set incremental 0`);

	// sdkconfig fragments
	const all = parseSdkconfig(files.sdkconfig);
	const release = new Map([...all, ...parseSdkconfig(files.sdkconfigRelease)]);
	for (const [k, v] of Object.entries(REQUIRED.all)) if (all.get(k) !== v) problems.push(`sdkconfig.defaults: ${k} is ${all.get(k) ?? 'not set'}, expected ${v}`);
	for (const [k, v] of Object.entries(REQUIRED.release)) if (release.get(k) !== v) problems.push(`sdkconfig.defaults.release: ${k} is ${release.get(k) ?? 'not set'}, expected ${v}`);
	const timeoutS = Number(all.get('CONFIG_ESP_TASK_WDT_TIMEOUT_S'));
	if (!(timeoutS * 1000 >= 2 * RSA2048_PRIVATE_ON_BOARD_MS))
		problems.push(`CONFIG_ESP_TASK_WDT_TIMEOUT_S ${all.get('CONFIG_ESP_TASK_WDT_TIMEOUT_S') ?? 'not set'}: at least twice the longest blocking operation (RSA-2048 private, about ${RSA2048_PRIVATE_ON_BOARD_MS} ms on the board)`);
	if (all.get('CONFIG_PARTITION_TABLE_OFFSET') !== '0x' + TABLE.offset.toString(16)) problems.push(`CONFIG_PARTITION_TABLE_OFFSET is ${all.get('CONFIG_PARTITION_TABLE_OFFSET')}, the table's offsets assume 0x${TABLE.offset.toString(16)}`);

	// partition table
	let rows: Partition[];
	try {
		rows = parsePartitions(files.partitions);
	} catch (e) {
		return [...problems, (e as Error).message];
	}
	const byName = new Map(rows.map((r) => [r.name, r]));
	const hex = (n: number) => '0x' + n.toString(16);
	const slots = rows.filter((r) => r.type === 'app');
	const ota = ['ota_0', 'ota_1'].map((n) => rows.find((r) => r.type === 'app' && r.subtype === n));
	if (slots.length !== 2 || !ota[0] || !ota[1])
		problems.push(`partitions: expected exactly two app partitions, ota_0 and ota_1 (no factory: the bootloader boots ota_0 from an empty otadata), found ${slots.map((s) => s.name + ':' + s.subtype).join(', ') || 'none'}`);
	const need = Math.ceil((IMAGE_BUDGET * (1 + SLOT_HEADROOM)) / 0x10000) * 0x10000;
	for (const s of ota) {
		if (!s) continue;
		if (s.offset % 0x10000) problems.push(`partitions: ${s.name} at ${hex(s.offset)} is not 64 KB aligned (app partitions must be)`);
		if (s.size % 0x10000) problems.push(`partitions: ${s.name} size ${hex(s.size)} is not a multiple of 64 KB (secure boot pads images to it)`);
		if (s.size < need) problems.push(`partitions: ${s.name} is ${s.size} B, less than the image budget ${IMAGE_BUDGET} B plus ${SLOT_HEADROOM * 100}% (${need} B)`);
	}
	if (ota[0] && ota[1] && ota[0].size !== ota[1].size) problems.push(`partitions: ota_0 (${ota[0].size} B) and ota_1 (${ota[1].size} B) differ: every image must fit either slot`);
	const otadata = rows.find((r) => r.type === 'data' && r.subtype === 'ota');
	if (!otadata || otadata.size !== 0x2000) problems.push(`partitions: an otadata partition (data, ota) of 0x2000 is needed for OTA and rollback, found ${otadata ? hex(otadata.size) : 'none'}`);
	const nvs = byName.get('nvs');
	const outbox = esp32.config?.link?.outbox?.maxBytes;
	if (outbox === undefined) problems.push('platforms.esp32.config.link.outbox.maxBytes is not set: the NVS partition is sized for that bound');
	const nvsUsable = nvs ? (nvs.size / 4096 - 1) * 126 * 32 : 0;
	if (!nvs || nvs.subtype !== 'nvs') problems.push('partitions: no nvs partition (data, nvs): Preference is NVS on the ESP32');
	else if (nvsUsable < nvsNeed(outbox ?? 0)) problems.push(`partitions: nvs holds ${nvsUsable} B of entries (one page kept free), less than the ${nvsNeed(outbox ?? 0)} B the firmware may keep there`);
	if (nvs?.flags.includes('encrypted')) problems.push('partitions: nvs must not carry the encrypted flag (NVS encryption encrypts its entries; flash encryption of the partition would break it)');
	const keys = rows.find((r) => r.type === 'data' && r.subtype === 'nvs_keys');
	if (!keys || keys.size !== 0x1000 || !keys.flags.includes('encrypted'))
		problems.push(`partitions: NVS encryption needs an nvs_keys partition (data, nvs_keys) of 0x1000 flagged encrypted, found ${keys ? `${hex(keys.size)} ${keys.flags.join(':') || 'unflagged'}` : 'none'}`);
	for (const r of rows) {
		if (r.type === 'data' && ['spiffs', 'fat', 'littlefs', 'phy'].includes(r.subtype)) problems.push(`partitions: ${r.name} (${r.subtype}) is unused by the firmware (Preference is NVS; the PHY init data is built in): it only takes flash`);
		if (r.type === 'app' && r.subtype === 'factory') problems.push(`partitions: ${r.name} is a factory app: the two OTA slots are the only images`);
	}
	const sorted = [...rows].sort((a, b) => a.offset - b.offset);
	let end = TABLE.offset + TABLE.size;
	for (const r of sorted) {
		if (r.offset < end) problems.push(`partitions: ${r.name} at ${hex(r.offset)} overlaps what ends at ${hex(end)}`);
		end = Math.max(end, r.offset + r.size);
	}
	if (end > FLASH_BYTES) problems.push(`partitions: the table ends at ${hex(end)}, past the ${FLASH_BYTES / 1048576} MB flash`);
	return problems;
}

/** The files as the repository has them. */
export function readEsp32Files(dir = root): Parameters<typeof checkEsp32>[0] {
	const board = join(dir, 'firmware/board/esp32');
	return {
		manifest: JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest,
		sdkconfig: readFileSync(join(board, 'sdkconfig.defaults'), 'utf8'),
		sdkconfigRelease: readFileSync(join(board, 'sdkconfig.defaults.release'), 'utf8'),
		partitions: readFileSync(join(board, 'partitions.csv'), 'utf8'),
	};
}

/** The nvs partition of the project's table (where provisioning writes the credentials). */
export function nvsPartition(dir = root): { offset: number; size: number } {
	const nvs = parsePartitions(readFileSync(join(dir, 'firmware/board/esp32/partitions.csv'), 'utf8')).find((r) => r.name === 'nvs');
	if (!nvs) throw new Error('firmware/board/esp32/partitions.csv has no nvs partition');
	return { offset: nvs.offset, size: nvs.size };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const problems = checkEsp32(readEsp32Files());
	for (const p of problems) console.log('check-esp32: ' + p);
	console.log(problems.length ? `check-esp32: ${problems.length} problem(s)` : 'check-esp32: the ESP32 board configuration holds (sdkconfig, partitions, creation sizes)');
	process.exitCode = problems.length ? 1 : 0;
}
