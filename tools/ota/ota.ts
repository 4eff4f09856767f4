/*
 * Publishes a firmware update through AWS IoT Jobs (or cloud/local):
 *   1. signs a manifest of the image (product, version, size, SHA-256, security counter:
 *      core/ota/document.ts) with ECDSA P-256 over SHA-256, with the code-signing key whose
 *      certificate is built into the firmware; the key is in a PKCS#11 token (signer.ts);
 *   2. uploads the image to S3 (`firmware/<version>/robot.bin` in the firmware bucket);
 *   3. creates a job whose document carries the manifest, its signature and the URL as a
 *      `${aws:iot:s3-presigned-url:...}` placeholder, which AWS IoT replaces with a
 *      presigned GET when it hands the document to the device.
 *
 *   PKCS11_PIN=... npx tsx tools/ota/ota.ts keygen --module SO --token LABEL [--key-label L] --out DIR
 *   PKCS11_PIN=... npx tsx tools/ota/ota.ts publish --module SO --token LABEL [--key-label L]
 *        --image FILE --version X.Y.Z [--counter N] [--product ID]
 *        --thing NAME [--thing NAME ...] [--job-id ID] [--bucket firmware] [--role-arn ARN]
 *        (--local [--iot URL --s3 URL] | --aws [--region R])
 *   PKCS11_PIN=... npx tsx tools/ota/ota.ts stage (the signing and release options of publish, without --thing/--job-id)
 *        --name N --canary THING... --rest THING... --failure-percent P [--canary-min N] [--rest-min N]
 *        [--rate-max N] [--rate-base N --rate-factor F --rate-after N] [--poll-ms MS] [--stage-timeout-min M]
 * Development only: `keygen --dev-key --out DIR` writes a PEM key, `publish --dev-key PEM` signs with it.
 *
 * --local uses the local cloud's endpoints (default http://127.0.0.1:4568 / :4569) and
 * credentials; on AWS --role-arn names the role IoT presigns with (it must read the bucket).
 * `stage` runs stage.ts: groups <name>-canary and <name>-rest, a job on the canary, then one on
 * the rest at a rising rate, each aborted by the Jobs service at P% failures (after --canary-min,
 * default 1, and --rest-min, default 5, finished). The rest's rate: by default 10 a minute doubling
 * every 50 succeeded, at most 1000; --rate-max alone is a constant rate; --rate-base/-factor/-after
 * ask for an exponential rate (what is left out comes from the default).
 * Prints one JSON line on stdout (publish: { jobId, document }; stage: the StageResult), progress on
 * stderr. Exit codes: 0 done (stage: the rollout completed), 1 the service failed, 2 bad arguments,
 * 3 (stage) the rollout was aborted: the JSON line says at which stage and why.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { IoTClient } from '@aws-sdk/client-iot';
import { S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../cloud/local/credentials';
import { EXIT_USAGE, parseCommandLine, UsageError } from '../cli';
import { HSM_OPTIONS, openHsmFromArgs } from '../provision/hsm';
import { DEFAULT_SIGNING_LABEL, hsmSigner, hsmSigningIdentity } from './signer';
import { DEFAULT_REST_ROLLOUT, stagedRollout, stagePlanProblem, type StageOptions } from './stage';

export { hsmSigner, hsmSigningIdentity } from './signer';
// the publishing library is the cloud's; the CLI's users (tests, the rig, bench) keep importing it from here
export {
	createSigningIdentity,
	devSigner,
	firmwareDocument,
	localThingArn,
	OPERATION,
	publishFirmware,
	signImage,
	signManifest,
	type FirmwareDocument,
	type FirmwareSigner,
	type ManifestOptions,
	type PublishOptions,
	type Signed,
} from '../../cloud/ota/publish';
import { createSigningIdentity, devSigner, localThingArn, publishFirmware, type FirmwareSigner, type PublishOptions } from '../../cloud/ota/publish';

const USAGE =
	'usage: npx tsx tools/ota/ota.ts keygen (--module SO (--token LABEL | --slot N) [--key-label L] | --dev) --out DIR\n' +
	'       npx tsx tools/ota/ota.ts publish KEY RELEASE --thing NAME... [--job-id ID] WHERE\n' +
	'       npx tsx tools/ota/ota.ts stage KEY RELEASE --name N --canary THING... --rest THING... --failure-percent P [--canary-min N] [--rest-min N]\n' +
	'            [--rate-max N] [--rate-base N --rate-factor F --rate-after N] [--poll-ms MS] [--stage-timeout-min M] WHERE\n' +
	'  KEY:     --module SO (--token LABEL | --slot N) [--key-label L] | --dev-key PEM\n' +
	'  RELEASE: --image FILE --version X.Y.Z [--counter N] [--product ID] [--bucket B] [--role-arn ARN]\n' +
	'  WHERE:   --local [--iot URL] [--s3 URL] | --aws [--region R]\n' +
	'the code-signing key is in a PKCS#11 token (PIN from PKCS11_PIN); a PEM key (--dev-key) is for development only';

const OPTIONS = Object.freeze({
	out: { type: 'string' },
	image: { type: 'string' },
	version: { type: 'string' },
	key: { type: 'string' },
	thing: { type: 'string', multiple: true },
	'dev-key': { type: 'string' },
	dev: { type: 'boolean' },
	counter: { type: 'string' },
	product: { type: 'string' },
	module: HSM_OPTIONS.module,
	slot: HSM_OPTIONS.slot,
	token: HSM_OPTIONS.token,
	'pin-env': HSM_OPTIONS['pin-env'],
	'key-label': { type: 'string', default: DEFAULT_SIGNING_LABEL },
	'job-id': { type: 'string' },
	bucket: { type: 'string' },
	'role-arn': { type: 'string' },
	local: { type: 'boolean' },
	aws: { type: 'boolean' },
	iot: { type: 'string' },
	s3: { type: 'string' },
	region: { type: 'string' },
	// stage
	name: { type: 'string' },
	canary: { type: 'string', multiple: true },
	rest: { type: 'string', multiple: true },
	'failure-percent': { type: 'string' },
	'canary-min': { type: 'string' },
	'rest-min': { type: 'string' },
	'rate-max': { type: 'string' },
	'rate-base': { type: 'string' },
	'rate-factor': { type: 'string' },
	'rate-after': { type: 'string' },
	'poll-ms': { type: 'string' },
	'stage-timeout-min': { type: 'string' },
} as const);

const parse = (argv: readonly string[]) => parseCommandLine({ args: [...argv], allowPositionals: true, options: OPTIONS });
type Values = ReturnType<typeof parse>['values'];
type Out = (line: string) => void;

/** Exit codes (the header above). */
const EXIT = Object.freeze({ done: 0, failed: 1, usage: EXIT_USAGE, aborted: 3 } as const);

export async function main(argv: readonly string[], out: Out, errOut: Out): Promise<number> {
	try {
		const a = parse(argv);
		const v = a.values;
		if (v.key !== undefined) throw new UsageError('--key (a PEM file) is refused: the code-signing key belongs in a PKCS#11 token (--module, --token); --dev-key PEM for development only');
		const cmd = a.positionals[0];
		if (a.positionals.length !== 1) throw new UsageError('expected one command, keygen, publish or stage, got ' + (a.positionals.join(' ') || 'none'));
		if (cmd === 'keygen') return await keygen(v, out, errOut);
		if (cmd === 'publish') return await publish(v, out, errOut);
		if (cmd === 'stage') return await stage(v, out, errOut);
		throw new UsageError('unknown command ' + JSON.stringify(cmd) + ': expected keygen, publish or stage');
	} catch (e) {
		if (e instanceof UsageError) {
			errOut((e as Error).message + '\n' + USAGE);
			return EXIT.usage;
		}
		throw e;
	}
}

async function keygen(v: Values, out: Out, errOut: Out): Promise<number> {
	if (!v.out || (v.dev === true) === (v.module !== undefined)) throw new UsageError('keygen needs --out DIR and one key: --module and --token (PKCS#11), or --dev (development)');
	const hsm = v.dev ? undefined : openHsmFromArgs(v);
	if (typeof hsm === 'string') throw new UsageError(hsm);
	await mkdir(v.out, { recursive: true });
	if (!hsm) {
		const id = await createSigningIdentity();
		await writeFile(path.join(v.out, 'signing-key.pem'), id.keyPem, { mode: 0o600 });
		await writeFile(path.join(v.out, 'signing-cert.der'), id.certificateDer);
		await writeFile(path.join(v.out, 'signing-cert.pem'), id.certificatePem);
		out(JSON.stringify({ dir: v.out, key: 'dev-key (PEM)' }));
		return EXIT.done;
	}
	try {
		const id = await hsmSigningIdentity(hsm, v['key-label']);
		await writeFile(path.join(v.out, 'signing-cert.der'), id.certificateDer);
		await writeFile(path.join(v.out, 'signing-cert.pem'), id.certificatePem);
		out(JSON.stringify({ dir: v.out, key: 'pkcs11:' + hsm.tokenLabel + '/' + v['key-label'], created: id.created }));
		return EXIT.done;
	} catch (e) {
		errOut('ota: ' + (e as Error).message);
		return EXIT.failed;
	} finally {
		hsm.close();
	}
}

async function publish(v: Values, out: Out, errOut: Out): Promise<number> {
	if (!v.thing?.length) throw new UsageError('publish needs --thing NAME (one or more)');
	return release(v, 'publish', errOut, async (r) => {
		const done = await publishFirmware({ ...r, things: v.thing!, ...(v['job-id'] ? { jobId: v['job-id'] } : {}) });
		out(JSON.stringify({ ...done, signer: r.signer.where }));
		return EXIT.done;
	});
}

async function stage(v: Values, out: Out, errOut: Out): Promise<number> {
	if (v.thing !== undefined || v['job-id'] !== undefined) throw new UsageError('stage takes --canary and --rest (not --thing) and names its jobs after --name (not --job-id)');
	if (v.name === undefined || v['failure-percent'] === undefined) throw new UsageError('stage needs --name N, --canary THING..., --rest THING... and --failure-percent P');
	const plan = { name: v.name, canary: v.canary ?? [], rest: v.rest ?? [], failurePercent: numberOption(v, 'failure-percent', 0, false)! };
	const problem = stagePlanProblem(plan);
	// the library names its fields ("failurePercent"), the command line its options (--failure-percent)
	if (problem !== undefined) throw new UsageError(problem.replace(/"(\w+)"/g, (_, k: string) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())));
	const canaryMin = numberOption(v, 'canary-min', 1, true);
	const restMin = numberOption(v, 'rest-min', 1, true);
	const pollMs = numberOption(v, 'poll-ms', 10, true);
	const timeoutMin = numberOption(v, 'stage-timeout-min', 1, true);
	const restRollout = rolloutRate(v);
	return release(v, 'stage', errOut, async (r) => {
		const result = await stagedRollout({
			...r,
			...plan,
			...(canaryMin !== undefined || restMin !== undefined ? { minFinished: { ...(canaryMin !== undefined ? { canary: canaryMin } : {}), ...(restMin !== undefined ? { rest: restMin } : {}) } } : {}),
			...(restRollout ? { restRollout } : {}),
			...(pollMs !== undefined ? { pollMs } : {}),
			...(timeoutMin !== undefined ? { stageTimeoutMs: timeoutMin * 60_000 } : {}),
			progress: (line) => errOut('stage: ' + line),
		});
		out(JSON.stringify({ ...result, signer: r.signer.where }));
		return result.outcome === 'completed' ? EXIT.done : EXIT.aborted;
	});
}

/** The rest's rollout rate the options ask for, undefined for stage.ts's default. */
function rolloutRate(v: Values): StageOptions['restRollout'] {
	const max = numberOption(v, 'rate-max', 1, true);
	const base = numberOption(v, 'rate-base', 1, true);
	const factor = numberOption(v, 'rate-factor', 1.1, false);
	const after = numberOption(v, 'rate-after', 1, true);
	// AWS: incrementFactor 1.1-5 with one decimal
	if (factor !== undefined && (factor > 5 || Math.round(factor * 10) !== factor * 10)) throw new UsageError('--rate-factor expected 1.1-5 with one decimal, got ' + v['rate-factor']);
	if (base === undefined && factor === undefined && after === undefined) return max === undefined ? undefined : { maximumPerMinute: max };
	const d = DEFAULT_REST_ROLLOUT;
	return {
		maximumPerMinute: max ?? d.maximumPerMinute,
		exponentialRate: {
			baseRatePerMinute: base ?? d.exponentialRate.baseRatePerMinute,
			incrementFactor: factor ?? d.exponentialRate.incrementFactor,
			rateIncreaseCriteria: { numberOfSucceededThings: after ?? d.exponentialRate.rateIncreaseCriteria.numberOfSucceededThings },
		},
	};
}

/** --<name> as a number >= min (an integer when asked), undefined when absent. */
function numberOption(
	v: Values,
	name: 'failure-percent' | 'canary-min' | 'rest-min' | 'rate-max' | 'rate-base' | 'rate-factor' | 'rate-after' | 'poll-ms' | 'stage-timeout-min' | 'counter',
	min: number,
	integer: boolean,
): number | undefined {
	const text = v[name];
	if (text === undefined) return undefined;
	const n = Number(text);
	if (text.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} expected ${integer ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(text)}`);
	return n;
}

/** What publish and stage share: a signed release of an image, to the local cloud or AWS. */
type Release = Omit<PublishOptions, 'things' | 'jobId' | 'rollout'> & { readonly signer: FirmwareSigner };

/** Checks the key, image and cloud options, opens them, runs `use`, and closes them; a service failure is exit 1. */
async function release(v: Values, cmd: string, errOut: Out, use: (r: Release) => Promise<number>): Promise<number> {
	if (!v.image || !v.version) throw new UsageError(cmd + ' needs --image FILE and --version X.Y.Z');
	if (v.local === v.aws) throw new UsageError(cmd + ' needs one of --local and --aws');
	if ((v['dev-key'] !== undefined) === (v.module !== undefined)) throw new UsageError(cmd + ' needs the signing key: --module and --token (PKCS#11), or --dev-key PEM (development)');
	const counter = numberOption(v, 'counter', 0, true);
	const hsm = v.module === undefined ? undefined : openHsmFromArgs(v);
	if (typeof hsm === 'string') throw new UsageError(hsm);
	const local = v.local === true;
	const common = local ? { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } } : v.region ? { region: v.region } : {};
	const iot = new IoTClient({ ...common, ...(local ? { endpoint: v.iot ?? 'http://127.0.0.1:4568' } : {}) });
	const s3 = new S3Client({ ...common, ...(local ? { endpoint: v.s3 ?? 'http://127.0.0.1:4569', forcePathStyle: true } : {}) });
	try {
		const signer = hsm ? await hsmSigner(hsm, v['key-label']) : devSigner(await readFile(v['dev-key']!, 'utf8'));
		return await use({
			iot,
			s3,
			image: new Uint8Array(await readFile(v.image)),
			version: v.version,
			signer,
			...(local ? { thingArn: localThingArn } : {}),
			...(counter !== undefined ? { counter } : {}),
			...(v.product ? { product: v.product } : {}),
			...(v.bucket ? { bucket: v.bucket } : {}),
			...(v['role-arn'] ? { roleArn: v['role-arn'] } : {}),
		});
	} catch (e) {
		errOut('ota: ' + (e as Error).message);
		return EXIT.failed;
	} finally {
		hsm?.close();
		iot.destroy();
		s3.destroy();
	}
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
	main(
		process.argv.slice(2),
		(l) => process.stdout.write(l + '\n'),
		(l) => process.stderr.write(l + '\n'),
	).then((code) => process.exit(code));
}
