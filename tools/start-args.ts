/*
 * `npm start`'s arguments, checked before anything starts: a bad value is named with what
 * was expected, and nothing runs.
 *
 *   --robots N        simulated robots on the local cloud (1..1000, default 1)
 *   --keep            keep everything running after the story, until Ctrl-C
 *   --verbose         every structured log line of the robots and the cloud
 *   --data DIR        where the local cloud and the robots keep their state (default .data)
 *   --ms-per-min MS   real ms per simulated minute of cleaning (default 40)
 *   --no-console      without the browser console
 *   --aws             one robot against a real AWS IoT endpoint instead of the local cloud:
 *     --endpoint HOST   the account's ATS endpoint (default $AWS_IOT_ENDPOINT)
 *     --credentials DIR the robot's credentials as provisioning writes them (cert.der, key.der)
 *                       plus ca.der = Amazon Root CA 1 (DER), the broker's trust anchor
 *     --region R        for the app's data-plane calls (default $AWS_REGION, else from the endpoint)
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

export interface LocalStart {
	readonly mode: 'local';
	readonly robots: number;
}
export interface AwsStart {
	readonly mode: 'aws';
	readonly endpoint: string;
	readonly region: string;
	readonly credentials: string;
}
export type StartOptions = (LocalStart | AwsStart) & {
	readonly keep: boolean;
	readonly verbose: boolean;
	readonly data: string;
	readonly msPerMin: number;
	readonly console: boolean;
};

const ENDPOINT = /^[a-z0-9-]+\.iot\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;

export function parseStartArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, exists: (p: string) => boolean = fs.existsSync): StartOptions {
	const { values } = parseArgs({
		args: [...argv],
		strict: true,
		options: {
			robots: { type: 'string' },
			keep: { type: 'boolean', default: false },
			data: { type: 'string', default: '.data' },
			verbose: { type: 'boolean', default: false },
			'ms-per-min': { type: 'string', default: '40' },
			'no-console': { type: 'boolean', default: false },
			aws: { type: 'boolean', default: false },
			endpoint: { type: 'string' },
			credentials: { type: 'string' },
			region: { type: 'string' },
		},
	});
	const int = (name: string, v: string, min: number, max: number): number => {
		const n = Number(v);
		if (!/^\d+$/.test(v) || !Number.isInteger(n) || n < min || n > max) throw new RangeError(`--${name} expected an integer ${min}..${max}, got ${JSON.stringify(v)}`);
		return n;
	};
	const common = {
		keep: values.keep!,
		verbose: values.verbose!,
		data: values.data!,
		msPerMin: int('ms-per-min', values['ms-per-min']!, 1, 60_000),
		console: !values['no-console'],
	};
	if (!values.aws) {
		for (const f of ['endpoint', 'credentials', 'region'] as const) if (values[f] !== undefined) throw new RangeError(`--${f} goes with --aws`);
		return { mode: 'local', robots: int('robots', values.robots ?? '1', 1, 1000), ...common };
	}
	if (values.robots !== undefined && values.robots !== '1') throw new RangeError('--aws runs one robot (its credentials); --robots is for the local cloud');
	const endpoint = values.endpoint ?? env.AWS_IOT_ENDPOINT;
	if (!endpoint) throw new RangeError('--aws needs --endpoint HOST or AWS_IOT_ENDPOINT (aws iot describe-endpoint --endpoint-type iot:Data-ATS)');
	const m = ENDPOINT.exec(endpoint);
	if (!m) throw new RangeError(`--endpoint expected a host name like xxxx-ats.iot.eu-west-1.amazonaws.com (no scheme, no port), got ${JSON.stringify(endpoint)}`);
	const credentials = values.credentials;
	if (!credentials) throw new RangeError('--aws needs --credentials DIR (cert.der, key.der, and ca.der = Amazon Root CA 1)');
	for (const f of ['cert.der', 'key.der', 'ca.der']) if (!exists(path.join(credentials, f))) throw new RangeError(`--credentials: ${path.join(credentials, f)} is missing`);
	const region = values.region ?? env.AWS_REGION ?? m[1]!;
	if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new RangeError(`--region expected a region like eu-west-1, got ${JSON.stringify(region)}`);
	return { mode: 'aws', endpoint, region, credentials, ...common };
}
