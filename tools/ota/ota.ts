/*
 * Publishes a firmware update through AWS IoT Jobs (or cloud/local):
 *   1. signs the image: ECDSA P-256 over SHA-256 (DER signature), with the code-signing
 *      key whose certificate is built into the firmware;
 *   2. uploads it to S3 (`firmware/<version>/robot.bin` in the firmware bucket);
 *   3. creates a job whose document carries version, size, SHA-256, signature and the
 *      URL as a `${aws:iot:s3-presigned-url:...}` placeholder, which AWS IoT replaces
 *      with a presigned GET when it hands the document to the device.
 *
 *   npx tsx tools/ota/ota.ts keygen --out DIR
 *   npx tsx tools/ota/ota.ts publish --image FILE --version X.Y.Z --key DIR/signing-key.pem
 *        --thing NAME [--thing NAME ...] [--job-id ID] [--bucket firmware] [--role-arn ARN]
 *        (--local [--iot URL --s3 URL] | --aws [--region R])
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
import { CreateJobCommand, DescribeThingCommand, IoTClient } from '@aws-sdk/client-iot';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../cloud/local/credentials';

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
	readonly version: string;
	readonly size: number;
	readonly sha256: string;
	readonly signature: string;
	readonly url: string;
}

/** The job document; the URL is a placeholder that AWS IoT (and cloud/local) presigns per device. */
export function firmwareDocument(version: string, image: Uint8Array, signed: Signed, bucket: string, key: string): FirmwareDocument {
	if (!/^\d{1,6}\.\d{1,6}\.\d{1,6}$/.test(version)) throw new RangeError('"version" expected MAJOR.MINOR.PATCH, got ' + JSON.stringify(version));
	return { operation: OPERATION, version, size: image.length, sha256: signed.sha256, signature: signed.signature, url: '${aws:iot:s3-presigned-url:https://s3.amazonaws.com/' + bucket + '/' + key + '}' };
}

export interface PublishOptions {
	readonly iot: IoTClient;
	readonly s3: S3Client;
	readonly image: Uint8Array;
	readonly version: string;
	readonly signingKey: crypto.KeyObject | string;
	/** Thing names or ARNs; names are resolved with `thingArn`, or DescribeThing when it is absent. */
	readonly things: readonly string[];
	readonly thingArn?: (name: string) => string;
	readonly jobId?: string;
	readonly bucket?: string;
	/** The role AWS IoT presigns with; required on AWS, optional locally. */
	readonly roleArn?: string;
	readonly expiresInSec?: number;
}

export async function publishFirmware(o: PublishOptions): Promise<{ jobId: string; document: FirmwareDocument }> {
	const bucket = o.bucket ?? 'firmware';
	const key = 'firmware/' + o.version + '/robot.bin';
	const signed = signImage(o.image, o.signingKey);
	const document = firmwareDocument(o.version, o.image, signed, bucket, key);
	await o.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: o.image, ContentType: 'application/octet-stream', Metadata: { sha256: signed.sha256, version: o.version } }));
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
		}),
	);
	return { jobId, document };
}

const USAGE = 'usage: npx tsx tools/ota/ota.ts keygen --out DIR | publish --image FILE --version X.Y.Z --key PEM --thing NAME... [--job-id ID] [--bucket B] [--role-arn ARN] (--local [--iot URL] [--s3 URL] | --aws [--region R])';

export async function main(argv: readonly string[], out: (l: string) => void, errOut: (l: string) => void): Promise<number> {
	let a: ReturnType<typeof parse>;
	function parse() {
		return parseArgs({
			args: [...argv],
			allowPositionals: true,
			options: {
				out: { type: 'string' }, image: { type: 'string' }, version: { type: 'string' }, key: { type: 'string' }, thing: { type: 'string', multiple: true },
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
	if (cmd === 'keygen') {
		if (!v.out) return errOut(USAGE), 2;
		const id = await createSigningIdentity();
		await mkdir(v.out, { recursive: true });
		await writeFile(path.join(v.out, 'signing-key.pem'), id.keyPem, { mode: 0o600 });
		await writeFile(path.join(v.out, 'signing-cert.der'), id.certificateDer);
		await writeFile(path.join(v.out, 'signing-cert.pem'), id.certificatePem);
		out(JSON.stringify({ dir: v.out }));
		return 0;
	}
	if (cmd !== 'publish' || !v.image || !v.version || !v.key || !v.thing?.length || v.local === v.aws) return errOut(USAGE), 2;
	const local = v.local === true;
	const common = local ? { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } } : v.region ? { region: v.region } : {};
	const iot = new IoTClient({ ...common, ...(local ? { endpoint: v.iot ?? 'http://127.0.0.1:4568' } : {}) });
	const s3 = new S3Client({ ...common, ...(local ? { endpoint: v.s3 ?? 'http://127.0.0.1:4569', forcePathStyle: true } : {}) });
	try {
		const r = await publishFirmware({
			iot, s3, image: new Uint8Array(await readFile(v.image)), version: v.version, signingKey: await readFile(v.key, 'utf8'), things: v.thing, ...(local ? { thingArn: localThingArn } : {}),
			...(v['job-id'] ? { jobId: v['job-id'] } : {}), ...(v.bucket ? { bucket: v.bucket } : {}), ...(v['role-arn'] ? { roleArn: v['role-arn'] } : {}),
		});
		out(JSON.stringify(r));
		return 0;
	} catch (e) {
		errOut('ota: ' + (e as Error).message);
		return 1;
	} finally {
		iot.destroy();
		s3.destroy();
	}
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
	main(process.argv.slice(2), (l) => process.stdout.write(l + '\n'), (l) => process.stderr.write(l + '\n')).then((code) => process.exit(code));
}
