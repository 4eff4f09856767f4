// Writes a robot's network records into its provisioning bundle (issue #19): where it connects
// (the AWS IoT endpoint), its Wi-Fi network and, for first-boot registration, the registration
// API: Preference domain "net" (firmware/core/robot/onboarding.ts), as NVS blobs in the bundle's
// board/nvs.csv (ESP32, beside the credentials: `npm run flash -- esp32` writes both) and as
// strings in its board/modpreferences.json (lin: `npm run flash -- lin`). Nothing of it is in
// the image; a record given again replaces the old one, one left out is removed.
//
//   npm run provision:network -- --bundle DIR/things/<thing> --endpoint HOST[:PORT] [--server NAME]
//       [--ssid SSID [--psk-env VAR]] [--register https://.../register]
//
// The Wi-Fi passphrase comes from the environment variable --psk-env names (WIFI_PSK by default
// when --ssid is given and it is set), never from argv.
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NET_DOMAIN } from '../../firmware/core/robot/onboarding';
import { BoardFormError, networkPreferences, nvsNetworkRows, parseNvsCsv, readLinPreferences, type NetworkRecords } from './board';

const USAGE = 'usage: npm run provision:network -- --bundle DIR/things/<thing> --endpoint HOST[:PORT] [--server NAME] [--ssid SSID [--psk-env VAR]] [--register URL]';

/** The bundle's NVS CSV with namespace "net" replaced by `records` (the other namespaces as they were). */
export function withNetworkCsv(csv: string, records: NetworkRecords): string {
	parseNvsCsv(csv); // refuse a file that is not one, before touching it
	const lines = csv.split('\n').filter((l) => l !== '');
	const kept: string[] = [];
	let inNet = false;
	for (const l of lines) {
		const [key, type] = l.split(',');
		if (type === 'namespace') inNet = key === NET_DOMAIN;
		if (!inNet) kept.push(l);
	}
	return [...kept, ...nvsNetworkRows(records)].join('\n') + '\n';
}

export async function writeNetwork(bundle: string, records: NetworkRecords): Promise<string[]> {
	const board = join(bundle, 'board');
	const csvPath = join(board, 'nvs.csv');
	const prefsPath = join(board, 'modpreferences.json');
	if (!existsSync(csvPath) || !existsSync(prefsPath)) throw new BoardFormError(`${board} has no nvs.csv and modpreferences.json: is ${bundle} a provisioning bundle (DIR/things/<thing>)?`);
	const csv = withNetworkCsv(await readFile(csvPath, 'utf8'), records);
	const prefs = { ...(await readLinPreferences(prefsPath)), ...networkPreferences(records) };
	// the credentials share these files: only their owner reads them, and each is replaced whole
	for (const [file, text] of [
		[csvPath, csv],
		[prefsPath, JSON.stringify(prefs) + '\n'],
	] as const) {
		await writeFile(file + '.tmp', text, { mode: 0o600 });
		await rename(file + '.tmp', file);
	}
	return [csvPath, prefsPath];
}

async function main(argv: string[]): Promise<number> {
	const { values } = parseArgs({
		args: argv,
		options: {
			bundle: { type: 'string' },
			endpoint: { type: 'string' },
			server: { type: 'string' },
			ssid: { type: 'string' },
			'psk-env': { type: 'string' },
			register: { type: 'string' },
			help: { type: 'boolean' },
		},
	});
	if (values.help || !values.bundle || !values.endpoint) {
		process.stderr.write(USAGE + '\n');
		return values.help ? 0 : 2;
	}
	const pskVar = values['psk-env'] ?? 'WIFI_PSK';
	const psk = values.ssid !== undefined ? process.env[pskVar] : undefined;
	if (values['psk-env'] && psk === undefined) {
		process.stderr.write(`provision:network: ${pskVar} is not set (the Wi-Fi passphrase comes from the environment)\n`);
		return 2;
	}
	try {
		const files = await writeNetwork(values.bundle, {
			endpoint: values.endpoint,
			...(values.server !== undefined ? { server: values.server } : {}),
			...(values.ssid !== undefined ? { ssid: values.ssid } : {}),
			...(psk !== undefined ? { psk } : {}),
			...(values.register !== undefined ? { register: values.register } : {}),
		});
		process.stdout.write(
			`wrote Preference "${NET_DOMAIN}" (endpoint ${values.endpoint}${values.ssid ? ', Wi-Fi ' + values.ssid + (psk ? ' with passphrase' : ', open') : ''}${values.register ? ', registration' : ''}) into ${files.join(' and ')}; npm run flash writes it to the board\n`,
		);
		return 0;
	} catch (e) {
		process.stderr.write('provision:network: ' + (e instanceof Error ? e.message : String(e)) + '\n');
		return 1;
	}
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
