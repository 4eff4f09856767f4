/*
 * npx tsx tools/certs/cli.ts (quarantine | revoke | reinstate | history) --thing NAME
 *     [--by WHO --reason TEXT] [--certificate-id ID] (--local [--iot URL --dynamodb URL --table T] | --aws [--region R --table T])
 * See lifecycle.ts. On AWS the robots table is the stack's RobotsTableName output.
 */
import { parseArgs } from 'node:util';
import { IoTClient } from '@aws-sdk/client-iot';
import { createDocumentClient } from '../../cloud/lib/aws';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../cloud/local/credentials';
import { certificateHistory, changeCertificate, LifecycleError, type LifecycleAction } from './lifecycle';

const USAGE = 'usage: npx tsx tools/certs/cli.ts (quarantine | revoke | reinstate | history) --thing NAME [--by WHO --reason TEXT] [--certificate-id ID] (--local --iot URL --dynamodb URL [--table robots] | --aws [--region R] --table T)';

export async function main(argv: readonly string[], out: (l: string) => void, errOut: (l: string) => void): Promise<number> {
	let a;
	try {
		a = parseArgs({
			args: [...argv],
			allowPositionals: true,
			options: {
				thing: { type: 'string' },
				by: { type: 'string' },
				reason: { type: 'string' },
				'certificate-id': { type: 'string' },
				local: { type: 'boolean' },
				aws: { type: 'boolean' },
				iot: { type: 'string' },
				dynamodb: { type: 'string' },
				region: { type: 'string' },
				table: { type: 'string' },
			},
		});
	} catch (e) {
		errOut((e as Error).message + '\n' + USAGE);
		return 2;
	}
	const [command] = a.positionals;
	const v = a.values;
	if (!command || !['quarantine', 'revoke', 'reinstate', 'history'].includes(command) || !v.thing || v.local === v.aws) {
		errOut(USAGE);
		return 2;
	}
	if (v.local && (!v.iot || !v.dynamodb)) {
		errOut('--local needs --iot and --dynamodb (the local cloud prints its endpoints)\n' + USAGE);
		return 2;
	}
	if (v.aws && !v.table) {
		errOut('--aws needs --table (the stack output RobotsTableName)\n' + USAGE);
		return 2;
	}
	const aws = v.local ? { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } } : v.region ? { region: v.region } : {};
	const iot = new IoTClient({ ...aws, ...(v.local ? { endpoint: v.iot } : {}) });
	const ddb = createDocumentClient({ ...aws, ...(v.local ? { endpoint: v.dynamodb } : {}) });
	const table = v.table ?? 'robots';
	try {
		if (command === 'history') {
			for (const h of await certificateHistory(ddb, table, v.thing)) out(`${new Date(h.at).toISOString()} ${h.certificateId.slice(0, 12)} ${h.from} -> ${h.to} by ${h.by}: ${h.reason}`);
			return 0;
		}
		if (!v.by || !v.reason) {
			errOut('--by and --reason are required: every change is recorded with who made it and why\n' + USAGE);
			return 2;
		}
		const e = await changeCertificate({
			iot,
			ddb,
			table,
			thing: v.thing,
			action: command as LifecycleAction,
			by: v.by,
			reason: v.reason,
			...(v['certificate-id'] ? { certificateId: v['certificate-id'] } : {}),
		});
		out(`${v.thing}: certificate ${e.certificateId} ${e.from} -> ${e.to} (recorded: by ${e.by})`);
		return 0;
	} catch (e) {
		errOut(e instanceof LifecycleError ? e.message : `failed: ${(e as Error).name}: ${(e as Error).message}`);
		return 1;
	} finally {
		iot.destroy();
		ddb.destroy();
	}
}

if (process.argv[1]?.endsWith('cli.ts'))
	process.exitCode = await main(
		process.argv.slice(2),
		(l) => console.log(l),
		(l) => console.error(l),
	);
