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
import crypto, { webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { CreateJobCommand, DescribeThingCommand, IoTClient, type CreateJobCommandInput } from '@aws-sdk/client-iot';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../cloud/local/credentials';
import { encodeManifest, PRODUCT } from '../../firmware/core/ota/document';
import { HSM_OPTIONS, openHsmFromArgs } from '../provision/hsm';
import { DEFAULT_SIGNING_LABEL, devSigner, hsmSigner, hsmSigningIdentity, type FirmwareSigner } from './signer';

export { devSigner, hsmSigner, hsmSigningIdentity, type FirmwareSigner } from './signer';

/** The local cloud has no DescribeThing: its ARNs are made the way cloud/local/jobs makes them. */
export const localThingArn = (thing: string): string => `arn:aws:iot:${LOCAL_REGION}:${LOCAL_ACCOUNT}:thing/${thing}`;

export const OPERATION = 'firmware-update';
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface Signed {
	readonly sha256: string;
	/** Base64 DER ECDSA signature. */
	readonly signature: string;
}

/** SHA-256 and the ECDSA P-256 signature of an image. */
export function signImage(image: Uint8Array, key: crypto.KeyObject | string): Signed {
	const k = typeof key === 'string' ? crypto.createPrivateKey(key) : key;
	if (k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new TypeError('"key" expected an EC P-256 private key');
	return {
		sha256: crypto.createHash('sha256').update(image).digest('hex'),
		signature: crypto.sign('sha256', image, k).toString('base64'),
	};
}

/** A code-signing identity: an EC P-256 key and its self-signed certificate (DER, built into the firmware). */
export async function createSigningIdentity(name = 'robot firmware signing'): Promise<{ keyPem: string; certificateDer: Uint8Array; certificatePem: string }> {
	const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
	const now = Date.now();
	const cert = await x509.X509CertificateGenerator.createSelfSigned(
		{
			serialNumber: crypto.randomBytes(8).toString('hex').replace(/^[89a-f]/, '1'),
			name: [{ CN: [name] }],
			notBefore: new Date(now - 60_000),
			notAfter: new Date(now + 10 * 365 * 86_400_000),
			keys,
			signingAlgorithm: EC,
			extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning], false)],
		},
		webcrypto,
	);
	const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
	const keyPem = crypto.createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;
	return { keyPem, certificateDer: new Uint8Array(cert.rawData), certificatePem: cert.toString('pem') };
}

export interface FirmwareDocument {
	readonly operation: typeof OPERATION;
	/** The signed manifest's exact text (core/ota/document.ts): what the robot acts on. */
	readonly manifest: string;
	/** Base64 DER ECDSA P-256 over SHA-256 of the manifest's UTF-8 bytes. */
	readonly signature: string;
	readonly url: string;
}

export interface ManifestOptions {
	readonly version: string;
	/** The security counter: robots refuse a manifest below the highest they installed (default 0). */
	readonly counter?: number;
	readonly product?: string;
}

/** The manifest of `image` and its signature by `signer`. */
export async function signManifest(image: Uint8Array, o: ManifestOptions, signer: FirmwareSigner): Promise<{ manifest: string; signature: string }> {
	const manifest = encodeManifest({
		product: o.product ?? PRODUCT,
		version: o.version,
		size: image.length,
		sha256: crypto.createHash('sha256').update(image).digest('hex'),
		counter: o.counter ?? 0,
	});
	const signature = Buffer.from(await signer.sign(new TextEncoder().encode(manifest))).toString('base64');
	return { manifest, signature };
}

/** The job document; the URL is a placeholder that AWS IoT (and cloud/local) presigns per device. */
export function firmwareDocument(signed: { manifest: string; signature: string }, bucket: string, key: string): FirmwareDocument {
	return { operation: OPERATION, manifest: signed.manifest, signature: signed.signature, url: '${aws:iot:s3-presigned-url:https://s3.amazonaws.com/' + bucket + '/' + key + '}' };
}

export interface PublishOptions {
	readonly iot: IoTClient;
	readonly s3: S3Client;
	readonly image: Uint8Array;
	readonly version: string;
	/** The code-signing key: `hsmSigner` (PKCS#11); `devSigner(pem)` in development and tests. */
	readonly signer: FirmwareSigner;
	readonly counter?: number;
	readonly product?: string;
	/** Thing names or ARNs; names are resolved with `thingArn`, or DescribeThing when it is absent. */
	readonly things: readonly string[];
	readonly thingArn?: (name: string) => string;
	readonly jobId?: string;
	readonly bucket?: string;
	/** The role AWS IoT presigns with; required on AWS, optional locally. */
	readonly roleArn?: string;
	readonly expiresInSec?: number;
	/** A staged rollout's settings for the job (tools/ota/stage.ts). */
	readonly rollout?: Pick<CreateJobCommandInput, 'jobExecutionsRolloutConfig' | 'abortConfig'>;
}

export async function publishFirmware(o: PublishOptions): Promise<{ jobId: string; document: FirmwareDocument }> {
	const bucket = o.bucket ?? 'firmware';
	const key = 'firmware/' + o.version + '/robot.bin';
	const signed = await signManifest(o.image, { version: o.version, ...(o.counter !== undefined ? { counter: o.counter } : {}), ...(o.product !== undefined ? { product: o.product } : {}) }, o.signer);
	const document = firmwareDocument(signed, bucket, key);
	const sha256 = crypto.createHash('sha256').update(o.image).digest('hex');
	await o.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: o.image, ContentType: 'application/octet-stream', Metadata: { sha256, version: o.version } }));
	const targets: string[] = [];
	for (const thing of o.things) {
		if (thing.startsWith('arn:')) targets.push(thing);
		if (thing.startsWith('arn:')) continue;
		if (o.thingArn) {
			targets.push(o.thingArn(thing));
			continue;
		}
		const t = await o.iot.send(new DescribeThingCommand({ thingName: thing }));
		if (!t.thingArn) throw new Error('thing ' + thing + ' has no ARN');
		targets.push(t.thingArn);
	}
	const jobId = o.jobId ?? 'firmware-' + o.version.replace(/\./g, '_') + '-' + Date.now().toString(36);
	await o.iot.send(
		new CreateJobCommand({
			jobId,
			targets,
			document: JSON.stringify(document),
			description: 'firmware ' + o.version,
			targetSelection: 'SNAPSHOT',
			presignedUrlConfig: { expiresInSec: o.expiresInSec ?? 3600, ...(o.roleArn ? { roleArn: o.roleArn } : {}) },
			timeoutConfig: { inProgressTimeoutInMinutes: 60 },
			...o.rollout,
		}),
	);
	return { jobId, document };
}

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
				out: { type: 'string' }, image: { type: 'string' }, version: { type: 'string' }, key: { type: 'string' }, thing: { type: 'string', multiple: true },
				'dev-key': { type: 'string' }, dev: { type: 'boolean' }, counter: { type: 'string' }, product: { type: 'string' },
				module: HSM_OPTIONS.module, slot: HSM_OPTIONS.slot, token: HSM_OPTIONS.token, 'pin-env': HSM_OPTIONS['pin-env'], 'key-label': { type: 'string', default: DEFAULT_SIGNING_LABEL },
				'job-id': { type: 'string' }, bucket: { type: 'string' }, 'role-arn': { type: 'string' }, local: { type: 'boolean' }, aws: { type: 'boolean' },
				iot: { type: 'string' }, s3: { type: 'string' }, region: { type: 'string' },
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
	if (v.key !== undefined) return errOut('--key (a PEM file) is refused: the code-signing key belongs in a PKCS#11 token (--module, --token); --dev-key PEM for development only\n' + USAGE), 2;
	/** The token the options name, or why not; undefined when no --module was given. */
	const token = () => (v.module === undefined ? undefined : openHsmFromArgs(v));
	if (cmd === 'keygen') {
		if (!v.out || (v.dev === true) === (v.module !== undefined)) return errOut(USAGE), 2;
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
		if (typeof hsm === 'string' || hsm === undefined) return errOut(String(hsm) + '\n' + USAGE), 2;
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
	if (cmd !== 'publish' || !v.image || !v.version || !v.thing?.length || v.local === v.aws) return errOut(USAGE), 2;
	if ((v['dev-key'] !== undefined) === (v.module !== undefined)) return errOut('publish needs the signing key: --module and --token (PKCS#11), or --dev-key PEM (development)\n' + USAGE), 2;
	const counter = v.counter === undefined ? undefined : Number(v.counter);
	if (counter !== undefined && !(Number.isInteger(counter) && counter >= 0)) return errOut('--counter expected an integer >= 0, got ' + v.counter), 2;
	const hsm = token();
	if (typeof hsm === 'string') return errOut(hsm + '\n' + USAGE), 2;
	const local = v.local === true;
	const common = local ? { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } } : v.region ? { region: v.region } : {};
	const iot = new IoTClient({ ...common, ...(local ? { endpoint: v.iot ?? 'http://127.0.0.1:4568' } : {}) });
	const s3 = new S3Client({ ...common, ...(local ? { endpoint: v.s3 ?? 'http://127.0.0.1:4569', forcePathStyle: true } : {}) });
	try {
		const signer = hsm ? await hsmSigner(hsm, v['key-label']) : devSigner(await readFile(v['dev-key']!, 'utf8'));
		const r = await publishFirmware({
			iot, s3, image: new Uint8Array(await readFile(v.image)), version: v.version, signer, things: v.thing, ...(local ? { thingArn: localThingArn } : {}),
			...(counter !== undefined ? { counter } : {}), ...(v.product ? { product: v.product } : {}),
			...(v['job-id'] ? { jobId: v['job-id'] } : {}), ...(v.bucket ? { bucket: v.bucket } : {}), ...(v['role-arn'] ? { roleArn: v['role-arn'] } : {}),
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
	main(process.argv.slice(2), (l) => process.stdout.write(l + '\n'), (l) => process.stderr.write(l + '\n')).then((code) => process.exit(code));
}
