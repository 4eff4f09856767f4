// Registers the company CA (its key in the PKCS#11 token) with AWS IoT or with a local cloud.
//
//   tsx tools/register-ca/cli.ts --module LIB (--slot N | --token LABEL) --dir DIR [--pin-env PKCS11_PIN] \
//     [--key-label robot-ca] (--aws [--region R] | --local DATADIR)
//
// --aws uses the default AWS credential chain; --local writes DATADIR/pki/registered-cas/<sha256>.pem,
// trusted by the local broker from its next start.
import { parseArgs } from 'node:util';
import { IoTClient } from '@aws-sdk/client-iot';
import { HSM_OPTIONS, openHsmFromArgs } from '../provision/hsm';
import { openProvisioner } from '../provision/provision';
import { registerCaLocally, registerCaWithAws } from './register-ca';

async function main(argv: string[]): Promise<number> {
	const { values } = parseArgs({
		args: argv,
		options: {
			...HSM_OPTIONS,
			aws: { type: 'boolean' },
			region: { type: 'string' },
			local: { type: 'string' },
		},
	});
	if (!values.module || !values.dir || (values.slot === undefined && !values.token) || (!values.aws && !values.local)) {
		process.stderr.write('usage: register-ca --module LIB (--slot N | --token LABEL) --dir DIR [--pin-env VAR] [--key-label L] (--aws [--region R] | --local DATADIR)\n');
		return 2;
	}
	const hsm = openHsmFromArgs(values);
	if (typeof hsm === 'string') {
		process.stderr.write('register-ca: ' + hsm + '\n');
		return 2;
	}
	try {
		const p = await openProvisioner(hsm, { dir: values.dir, keyLabel: values['key-label']! });
		if (values.local) process.stdout.write('registered with the local cloud: ' + (await registerCaLocally(values.local, p.caPem)) + '\n');
		if (values.aws) {
			const iot = new IoTClient(values.region ? { region: values.region } : {});
			try {
				const r = await registerCaWithAws(iot, p);
				process.stdout.write(`registered with AWS IoT: ${r.certificateId} ${r.certificateArn}\n`);
			} finally {
				iot.destroy();
			}
		}
		return 0;
	} finally {
		hsm.close();
	}
}

main(process.argv.slice(2)).then(
	(code) => process.exit(code),
	(e: unknown) => {
		process.stderr.write('register-ca: ' + String((e as Error)?.stack ?? e) + '\n');
		process.exit(1);
	},
);
