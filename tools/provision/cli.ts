// Factory provisioning CLI (see provision.ts for the layout of DIR).
//
//   tsx tools/provision/cli.ts --module /usr/lib/softhsm/libsofthsm2.so (--slot N | --token LABEL) \
//     --dir DIR [--pin-env PKCS11_PIN] [--key-label robot-ca] [--ca-name NAME] [--server-ca FILE] \
//     (--serial SERIAL [--csr FILE] | --batch FILE)
//
// The PIN comes from the environment (PKCS11_PIN, or the variable --pin-env names), never argv.
// --batch FILE: one robot a line, "SERIAL" (simulator: the tool makes the key) or "SERIAL CSR-FILE".
// Safe to re-run: robots already provisioned are skipped. Exit 1 if any robot was refused.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { HSM_OPTIONS, openHsmFromArgs } from './hsm';
import { openProvisioner, provisionBatch, type ProvisionRequest } from './provision';

const USAGE = 'usage: provision --module LIB (--slot N | --token LABEL) --dir DIR [--pin-env VAR] [--key-label L] [--ca-name N] [--server-ca FILE] (--serial S [--csr FILE] | --batch FILE)';

function progressBar(done: number, total: number, t0: number): string {
	const width = 30;
	const filled = Math.round((done / total) * width);
	const rate = done / Math.max(1e-3, (performance.now() - t0) / 1000);
	return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${rate.toFixed(1)}/s`;
}

async function main(argv: string[]): Promise<number> {
	const { values } = parseArgs({
		args: argv,
		options: {
			...HSM_OPTIONS,
			'ca-name': { type: 'string' },
			'server-ca': { type: 'string' },
			serial: { type: 'string' },
			csr: { type: 'string' },
			batch: { type: 'string' },
			help: { type: 'boolean' },
		},
	});
	if (values.help || !values.module || !values.dir || (values.slot === undefined && !values.token) || (!values.serial && !values.batch)) {
		process.stderr.write(USAGE + '\n');
		return values.help ? 0 : 2;
	}
	let requests: ProvisionRequest[];
	if (values.batch) {
		const base = dirname(resolve(values.batch));
		requests = readFileSync(values.batch, 'utf8')
			.split('\n')
			.map((l) => l.trim())
			.filter((l) => l && !l.startsWith('#'))
			.map((l) => {
				const [serial, csr] = l.split(/\s+/);
				return csr ? { serial: serial!, csr: readFileSync(resolve(base, csr)) } : { serial: serial! };
			});
	} else {
		requests = [values.csr ? { serial: values.serial!, csr: readFileSync(values.csr) } : { serial: values.serial! }];
	}
	const hsm = openHsmFromArgs(values);
	if (typeof hsm === 'string') {
		process.stderr.write('provision: ' + hsm + '\n' + USAGE + '\n');
		return 2;
	}
	try {
		const p = await openProvisioner(hsm, {
			dir: values.dir,
			keyLabel: values['key-label']!,
			...(values['ca-name'] ? { caName: values['ca-name'] } : {}),
			...(values['server-ca'] ? { serverCa: readFileSync(values['server-ca']) } : {}),
		});
		const t0 = performance.now();
		const tty = process.stderr.isTTY;
		const result = await provisionBatch(p, requests, (done, total) => {
			if (tty || done === total) process.stderr.write(progressBar(done, total, t0) + (done === total ? '\n' : ''));
		});
		for (const r of result.issued) process.stdout.write(`issued ${r.thing} ${r.record.certSerial} ${r.bundleDir}\n`);
		for (const s of result.skipped) process.stdout.write(`skipped ${s} (already provisioned)\n`);
		for (const f of result.failed) process.stderr.write(`refused ${f.serial}: ${f.error}\n`);
		process.stderr.write(`${result.issued.length} issued, ${result.skipped.length} skipped, ${result.failed.length} refused in ${result.seconds.toFixed(2)} s\n`);
		return result.failed.length ? 1 : 0;
	} finally {
		hsm.close();
	}
}

main(process.argv.slice(2)).then(
	(code) => process.exit(code),
	(e: unknown) => {
		process.stderr.write('provision: ' + (e instanceof Error ? e.message : String(e)) + '\n');
		process.exit(1);
	},
);
