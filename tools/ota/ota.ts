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
 * Development only: `keygen --dev-key --out DIR` writes a PEM key, `publish --dev-key PEM` signs with it.
 *
 * --local uses the local cloud's endpoints (default http://127.0.0.1:4568 / :4569) and
 * credentials; on AWS --role-arn names the role IoT presigns with (it must read the bucket).
 * Prints one JSON line: { jobId, document }. Exit codes: 0 done, 1 the service failed, 2 bad arguments.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { IoTClient } from '@aws-sdk/client-iot';
import { S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../cloud/local/credentials';
import { HSM_OPTIONS, openHsmFromArgs } from '../provision/hsm';
import { DEFAULT_SIGNING_LABEL, hsmSigner, hsmSigningIdentity } from './signer';

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
import { createSigningIdentity, devSigner, localThingArn, publishFirmware } from '../../cloud/ota/publish';

const USAGE =
	'usage: npx tsx tools/ota/ota.ts keygen (--module SO (--token LABEL | --slot N) [--key-label L] | --dev) --out DIR\n' +
	'       npx tsx tools/ota/ota.ts publish (--module SO (--token LABEL | --slot N) [--key-label L] | --dev-key PEM) --image FILE --version X.Y.Z [--counter N] [--product ID]\n' +
	'            --thing NAME... [--job-id ID] [--bucket B] [--role-arn ARN] (--local [--iot URL] [--s3 URL] | --aws [--region R])\n' +
	'the code-signing key is in a PKCS#11 token (PIN from PKCS11_PIN); a PEM key (--dev-key) is for development only';

export async function main(argv: readonly string[], out: (l: string) => void, errOut: (l: string) => void): Promise<number> {
	let a: ReturnType<typeof parse>;
	function parse() {
		return parseArgs({
			args: [...argv],
			allowPositionals: true,
			options: {
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
			},
		});
	}
	try {
		a = parse();
	} catch (e) {
		errOut((e as Error).message + '\n' + USAGE);
		return 2;
	}
	const v = a.values;
	const cmd = a.positionals[0];
	if (v.key !== undefined) return (errOut('--key (a PEM file) is refused: the code-signing key belongs in a PKCS#11 token (--module, --token); --dev-key PEM for development only\n' + USAGE), 2);
	/** The token the options name, or why not; undefined when no --module was given. */
	const token = () => (v.module === undefined ? undefined : openHsmFromArgs(v));
	if (cmd === 'keygen') {
		if (!v.out || (v.dev === true) === (v.module !== undefined)) return (errOut(USAGE), 2);
		await mkdir(v.out, { recursive: true });
		if (v.dev) {
			const id = await createSigningIdentity();
			await writeFile(path.join(v.out, 'signing-key.pem'), id.keyPem, { mode: 0o600 });
			await writeFile(path.join(v.out, 'signing-cert.der'), id.certificateDer);
			await writeFile(path.join(v.out, 'signing-cert.pem'), id.certificatePem);
			out(JSON.stringify({ dir: v.out, key: 'dev-key (PEM)' }));
			return 0;
		}
		const hsm = token();
		if (typeof hsm === 'string' || hsm === undefined) return (errOut(String(hsm) + '\n' + USAGE), 2);
		try {
			const id = await hsmSigningIdentity(hsm, v['key-label']);
			await writeFile(path.join(v.out, 'signing-cert.der'), id.certificateDer);
			await writeFile(path.join(v.out, 'signing-cert.pem'), id.certificatePem);
			out(JSON.stringify({ dir: v.out, key: 'pkcs11:' + hsm.tokenLabel + '/' + v['key-label'], created: id.created }));
			return 0;
		} catch (e) {
			errOut('ota: ' + (e as Error).message);
			return 1;
		} finally {
			hsm.close();
		}
	}
	if (cmd !== 'publish' || !v.image || !v.version || !v.thing?.length || v.local === v.aws) return (errOut(USAGE), 2);
	if ((v['dev-key'] !== undefined) === (v.module !== undefined)) return (errOut('publish needs the signing key: --module and --token (PKCS#11), or --dev-key PEM (development)\n' + USAGE), 2);
	const counter = v.counter === undefined ? undefined : Number(v.counter);
	if (counter !== undefined && !(Number.isInteger(counter) && counter >= 0)) return (errOut('--counter expected an integer >= 0, got ' + v.counter), 2);
	const hsm = token();
	if (typeof hsm === 'string') return (errOut(hsm + '\n' + USAGE), 2);
	const local = v.local === true;
	const common = local ? { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } } : v.region ? { region: v.region } : {};
	const iot = new IoTClient({ ...common, ...(local ? { endpoint: v.iot ?? 'http://127.0.0.1:4568' } : {}) });
	const s3 = new S3Client({ ...common, ...(local ? { endpoint: v.s3 ?? 'http://127.0.0.1:4569', forcePathStyle: true } : {}) });
	try {
		const signer = hsm ? await hsmSigner(hsm, v['key-label']) : devSigner(await readFile(v['dev-key']!, 'utf8'));
		const r = await publishFirmware({
			iot,
			s3,
			image: new Uint8Array(await readFile(v.image)),
			version: v.version,
			signer,
			things: v.thing,
			...(local ? { thingArn: localThingArn } : {}),
			...(counter !== undefined ? { counter } : {}),
			...(v.product ? { product: v.product } : {}),
			...(v['job-id'] ? { jobId: v['job-id'] } : {}),
			...(v.bucket ? { bucket: v.bucket } : {}),
			...(v['role-arn'] ? { roleArn: v['role-arn'] } : {}),
		});
		out(JSON.stringify({ ...r, signer: signer.where }));
		return 0;
	} catch (e) {
		errOut('ota: ' + (e as Error).message);
		return 1;
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
