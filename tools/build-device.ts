// Device builds and flashing (issue #8): the firmware image with mcconfig, the credentials as
// data written by provisioning (issue #14), never in the image.
//
//   npm run build:device -- [lin|esp32] [--board B] [--release] [--out DIR]
//   npm run flash -- esp32 --bundle DIR/things/<thing> [--board B] [--port P] [--release] [--out DIR] [--creds-only]
//   npm run flash -- lin --bundle DIR/things/<thing> [--root DIR]
//
// build: `mcconfig [-d] -m -p <lin|esp32[/B]> -t build -o OUT manifest.json` (the make target
// `build` only: make.lin.mk's default target runs `pkill mcsim`). esp32 needs ESP-IDF as
// Moddable SDK 8.2.3 expects it (v6.0); without it this says exactly what to install.
// flash esp32, in this order (so that a debug build's xsbug session, which mcconfig opens last
// and keeps, comes after everything is written):
//   1. the bundle's board/nvs.csv (tools/provision) is checked: namespace cred, ca, cert, key;
//   2. python $IDF_PATH/components/nvs_flash/nvs_partition_generator/nvs_partition_gen.py
//        generate nvs.csv creds.bin 0x14000         (the nvs partition of firmware/board/esp32/partitions.csv)
//   3. esptool.py [--port P] write_flash 0x9000 creds.bin   (its offset)
//   4. mcconfig [-d] -m -p esp32[/B] -o OUT manifest.json   (builds and flashes the app;
//      idf.py flash writes bootloader, partition table and app, and leaves nvs alone)
// creds.bin holds the private key: it is made in a private temporary directory and removed.
// flash lin: the bundle's board/modpreferences.json is merged into ROOT/modpreferences.json
// (ROOT = the build's config.file.root, /tmp/ by default on lin), the robot's own storage kept.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CRED_DOMAIN, NVS_PARTITION, mergeLinPreferences, parseNvsCsv, readLinPreferences } from './provision/board';

/** What Moddable SDK 8.2.3 builds ESP32 with: build/devices/esp32/manifest.json EXPECTED_ESP_IDF. */
export const EXPECTED_ESP_IDF = 'v6.0';

export const ESP_IDF_INSTALL = [
	`Moddable SDK 8.2.3 builds ESP32 firmware with ESP-IDF ${EXPECTED_ESP_IDF} (its build/devices/esp32/manifest.json, EXPECTED_ESP_IDF; documentation/devices/esp32.md). Install it:`,
	'  mkdir -p ~/esp32 && cd ~/esp32',
	`  git clone -b ${EXPECTED_ESP_IDF} --recursive https://github.com/espressif/esp-idf.git esp-idf-${EXPECTED_ESP_IDF}`,
	`  cd esp-idf-${EXPECTED_ESP_IDF} && ./install.sh`,
	`  export IDF_PATH=$HOME/esp32/esp-idf-${EXPECTED_ESP_IDF}`,
	'  source $IDF_PATH/export.sh        (in every new shell: it puts idf.py, esptool.py and the toolchain on PATH)',
].join('\n');

export const USAGE = [
	'usage: npm run build:device -- [lin|esp32] [--board B] [--release] [--out DIR]',
	'       npm run flash -- esp32 --bundle DIR/things/<thing> [--board B] [--port P] [--release] [--out DIR] [--creds-only]',
	'       npm run flash -- lin --bundle DIR/things/<thing> [--root DIR]',
].join('\n');

export type Step =
	{ readonly kind: 'run'; readonly what: string; readonly argv: readonly string[]; readonly env?: Readonly<Record<string, string>> } | { readonly kind: 'merge-lin'; readonly what: string; readonly fragment: string; readonly file: string };

export interface Plan {
	readonly steps: readonly Step[];
	/** A private directory removed after the steps (it holds creds.bin). */
	readonly scratch?: string;
	/** Made before the steps (mcconfig's -o must exist). */
	readonly dirs?: readonly string[];
}

/** What the plan needs to know about this machine (a fake in tests). */
export interface Probe {
	readonly env: Readonly<Record<string, string | undefined>>;
	exists(path: string): boolean;
	/** `git describe --always --abbrev=0` in the ESP-IDF tree, as make.esp32.mk reads it. */
	idfVersion(idfPath: string): string | undefined;
	onPath(command: string): boolean;
	readText(path: string): string | undefined;
	/** A new private directory. */
	scratchDir(): string;
}

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** The steps of `build` or `flash` for argv, or a message saying what is wrong and what to do. */
export function plan(command: 'build' | 'flash', argv: readonly string[], probe: Probe): Plan | { readonly error: string } {
	let parsed;
	try {
		parsed = parseArgs({
			args: [...argv],
			allowPositionals: true,
			options: {
				board: { type: 'string' },
				release: { type: 'boolean' },
				out: { type: 'string' },
				bundle: { type: 'string' },
				port: { type: 'string' },
				root: { type: 'string' },
				'creds-only': { type: 'boolean' },
			},
		});
	} catch (e) {
		return { error: (e as Error).message + '\n' + USAGE };
	}
	const { values: o, positionals } = parsed;
	const target = positionals[0] ?? (command === 'build' ? 'lin' : undefined);
	if (positionals.length > 1 || (target !== 'lin' && target !== 'esp32')) return { error: `target expected lin or esp32, got ${JSON.stringify(positionals.join(' ') || undefined)}\n` + USAGE };
	if (o.board !== undefined && (target !== 'esp32' || !/^[a-z0-9_]+$/.test(o.board))) return { error: `--board expected a Moddable esp32 target name such as esp32_thing (esp32 only), got ${JSON.stringify(o.board)}` };
	const platform = target === 'esp32' && o.board ? `esp32/${o.board}` : target;
	const out = resolve(o.out ?? join(ROOT, 'build', 'firmware'));
	const mcconfig = (make: 'build' | 'deploy') => ['mcconfig', ...(o.release ? [] : ['-d']), '-m', '-p', platform, ...(make === 'build' ? ['-t', 'build'] : []), '-o', out, join(ROOT, 'manifest.json')];

	const moddable = needModdable(probe);
	if (command === 'build') {
		for (const k of ['bundle', 'port', 'root', 'creds-only'] as const) if (o[k] !== undefined) return { error: `--${k} is for npm run flash\n` + USAGE };
		if (moddable) return { error: moddable };
		if (target === 'esp32') {
			const idf = needEspIdf(probe);
			if (idf) return { error: idf };
		}
		return { steps: [{ kind: 'run', what: `build the ${platform} image (${o.release ? 'release' : 'debug'}) into ${out}`, argv: mcconfig('build') }], dirs: [out] };
	}

	if (!o.bundle) return { error: '--bundle DIR/things/<thing> expected (a provisioning bundle: tools/provision)\n' + USAGE };
	const bundle = resolve(o.bundle);
	if (target === 'lin') {
		for (const k of ['board', 'port', 'release', 'out', 'creds-only'] as const) if (o[k] !== undefined) return { error: `--${k} is for esp32; lin takes --bundle and --root\n` + USAGE };
		const fragment = join(bundle, 'board', 'modpreferences.json');
		if (!probe.exists(fragment)) return { error: `${fragment} not found: is ${bundle} a provisioning bundle (DIR/things/<thing>)?` };
		const root = resolve(o.root ?? '/tmp/');
		return {
			steps: [
				{
					kind: 'merge-lin',
					what: `write the credentials into ${join(root, 'modpreferences.json')} (Preference "${CRED_DOMAIN}")`,
					fragment,
					file: join(root, 'modpreferences.json'),
				},
			],
		};
	}

	if (o.root !== undefined) return { error: '--root is for lin\n' + USAGE };
	const csvPath = join(bundle, 'board', 'nvs.csv');
	const csv = probe.readText(csvPath);
	if (csv === undefined) return { error: `${csvPath} not found: is ${bundle} a provisioning bundle (DIR/things/<thing>)?` };
	let keys: string[];
	try {
		keys = [...(parseNvsCsv(csv).get(CRED_DOMAIN)?.keys() ?? [])];
	} catch (e) {
		return { error: `${csvPath}: ${(e as Error).message}` };
	}
	const missing = ['ca', 'cert', 'key'].filter((k) => !keys.includes(k));
	if (missing.includes('key') && missing.length === 1) {
		return {
			error: `${csvPath} has no key: this robot made its own key (CSR), and an NVS image replaces the whole nvs partition, so flashing it would erase that key. Write ca and cert with the robot's own provisioning path instead.`,
		};
	}
	if (missing.length) return { error: `${csvPath} lacks ${missing.join(', ')} in namespace ${CRED_DOMAIN}` };
	if (moddable && !o['creds-only']) return { error: moddable };
	const idf = needEspIdf(probe);
	if (idf) return { error: idf };
	const scratch = probe.scratchDir();
	const bin = join(scratch, 'creds.bin');
	const port = o.port ? ['--port', o.port] : [];
	const idfPath = probe.env['IDF_PATH']!;
	const steps: Step[] = [
		{
			kind: 'run',
			what: `NVS image of ${csvPath} (${hex(NVS_PARTITION.size)} bytes, the nvs partition's size)`,
			argv: ['python', join(idfPath, 'components/nvs_flash/nvs_partition_generator/nvs_partition_gen.py'), 'generate', csvPath, bin, hex(NVS_PARTITION.size)],
		},
		{ kind: 'run', what: `write it at the nvs partition, ${hex(NVS_PARTITION.offset)}`, argv: ['esptool.py', ...port, 'write_flash', hex(NVS_PARTITION.offset), bin] },
	];
	if (!o['creds-only']) {
		steps.push({
			kind: 'run',
			what: `build and flash the ${platform} image (${o.release ? 'release' : 'debug: mcconfig then connects xsbug'})`,
			argv: mcconfig('deploy'),
			...(o.port ? { env: { UPLOAD_PORT: o.port } } : {}),
		});
	}
	return { steps, scratch, ...(o['creds-only'] ? {} : { dirs: [out] }) };
}

function needModdable(probe: Probe): string | undefined {
	if (!probe.env['MODDABLE']) return 'MODDABLE is not set: install Moddable SDK 8.2.3 (its documentation, Getting Started), then export MODDABLE=/path/to/moddable and PATH=$MODDABLE/build/bin/lin/release:$PATH';
	if (!probe.onPath('mcconfig')) return `mcconfig is not on PATH: export PATH=${probe.env['MODDABLE']}/build/bin/lin/release:$PATH`;
	return undefined;
}

function needEspIdf(probe: Probe): string | undefined {
	const idfPath = probe.env['IDF_PATH'];
	if (!idfPath) return 'ESP-IDF not found: IDF_PATH is not set.\n' + ESP_IDF_INSTALL;
	if (!probe.exists(idfPath)) return `ESP-IDF not found: IDF_PATH=${idfPath} does not exist.\n` + ESP_IDF_INSTALL;
	const version = probe.idfVersion(idfPath);
	if (!version) return `ESP-IDF at IDF_PATH=${idfPath} has no version (git describe found none): is it a clone of espressif/esp-idf?\n` + ESP_IDF_INSTALL;
	// Moddable's versionCheck.py: major and minor must match, another patch level only warns
	const [want, got] = [EXPECTED_ESP_IDF, version].map((v) => v.replace(/^v/, '').split(/[.-]/));
	if (want![0] !== got![0] || want![1] !== got![1]) return `ESP-IDF at IDF_PATH=${idfPath} is ${version}; Moddable SDK 8.2.3 needs ${EXPECTED_ESP_IDF}.\n` + ESP_IDF_INSTALL;
	if (!probe.onPath('idf.py') || !probe.onPath('esptool.py')) return `ESP-IDF ${version} is at ${idfPath} but idf.py/esptool.py are not on PATH: run  source $IDF_PATH/export.sh`;
	return undefined;
}

const hex = (n: number) => '0x' + n.toString(16);

/** This machine, for plan(). */
export function systemProbe(env: Readonly<Record<string, string | undefined>> = process.env): Probe {
	return {
		env,
		exists: existsSync,
		idfVersion(idfPath) {
			const r = spawnSync('git', ['describe', '--always', '--abbrev=0'], { cwd: idfPath, encoding: 'utf8' });
			return r.status === 0 ? r.stdout.trim() || undefined : undefined;
		},
		onPath: (command) => (env['PATH'] ?? '').split(delimiter).some((d) => d && existsSync(join(d, command))),
		readText: (path) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined),
		scratchDir: () => mkdtempSync(join(tmpdir(), 'robot-flash-')),
	};
}

function log(event: string, fields: Record<string, unknown>): void {
	process.stderr.write(JSON.stringify({ t: new Date().toISOString(), event, ...fields }) + '\n');
}

/** Runs the steps in order, printing each; stops at the first that fails. */
export async function execute(p: Plan): Promise<number> {
	try {
		for (const d of p.dirs ?? []) mkdirSync(d, { recursive: true });
		for (const [i, step] of p.steps.entries()) {
			const t0 = Date.now();
			log('device.step', { step: `${i + 1}/${p.steps.length}`, what: step.what, ...(step.kind === 'run' ? { argv: step.argv.join(' ') } : {}) });
			let code = 0;
			if (step.kind === 'merge-lin') await mergeLinPreferences(step.file, await readLinPreferences(step.fragment));
			else
				code = await new Promise<number>((done) =>
					spawn(step.argv[0]!, step.argv.slice(1), { stdio: 'inherit', cwd: ROOT, env: { ...process.env, ...step.env } })
						.on('close', (c) => done(c ?? 1))
						.on('error', () => done(127)),
				);
			log(code ? 'device.step_failed' : 'device.step_done', { step: `${i + 1}/${p.steps.length}`, ms: Date.now() - t0, ...(code ? { exit: code } : {}) });
			if (code) return code;
		}
		return 0;
	} finally {
		if (p.scratch) rmSync(p.scratch, { recursive: true, force: true });
	}
}

async function main(argv: string[]): Promise<number> {
	const [command, ...rest] = argv;
	if (command !== 'build' && command !== 'flash') {
		process.stderr.write(USAGE + '\n');
		return 2;
	}
	const p = plan(command, rest, systemProbe());
	if ('error' in p) {
		process.stderr.write(`${command === 'build' ? 'build:device' : 'flash'}: ${p.error}\n`);
		return 2;
	}
	return execute(p);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	main(process.argv.slice(2)).then(
		(code) => process.exit(code),
		(e: unknown) => {
			process.stderr.write('build-device: ' + (e instanceof Error ? e.message : String(e)) + '\n');
			process.exit(1);
		},
	);
}
