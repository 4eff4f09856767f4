// Creates the development PKI: npx tsx tools/pki.ts --out DIR --things robot-1,robot-2 [--force]
// Prints one JSON line describing what is there.

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createDevPki } from '../cloud/local/dev-pki';

const USAGE = 'usage: tsx tools/pki.ts --out DIR [--things robot-1,robot-2] [--force]';

async function main(argv: string[]): Promise<number> {
	let values;
	try {
		({ values } = parseArgs({
			args: argv,
			options: {
				out: { type: 'string' },
				things: { type: 'string', default: '' },
				force: { type: 'boolean', default: false },
				help: { type: 'boolean', short: 'h', default: false },
			},
			strict: true,
		}));
	} catch (e) {
		process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
		return 2;
	}
	if (values.help) {
		process.stdout.write(USAGE + '\n');
		return 0;
	}
	if (!values.out) {
		process.stderr.write(`"--out" expected a directory, got nothing\n${USAGE}\n`);
		return 2;
	}
	const things = values.things
		.split(',')
		.map((t) => t.trim())
		.filter((t) => t.length > 0);
	try {
		const pki = await createDevPki(resolve(values.out), { things, force: values.force });
		process.stdout.write(
			JSON.stringify({
				dir: pki.dir,
				ca: { subject: pki.ca.cert.subject, notAfter: pki.ca.cert.notAfter.toISOString(), pem: pki.paths.caPem },
				server: { subject: pki.server.cert.subject, cert: pki.paths.serverCertPem },
				things: [...pki.things.keys()].map((t) => ({ thing: t, dir: pki.paths.thing(t).dir })),
			}) + '\n',
		);
		return 0;
	} catch (e) {
		process.stderr.write(`${(e as Error).message}\n`);
		return 1;
	}
}

process.exitCode = await main(process.argv.slice(2));
