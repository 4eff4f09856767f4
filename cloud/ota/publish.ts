/*
 * Publishing a firmware update through AWS IoT Jobs (or cloud/local): sign a manifest of the
 * image (core/ota/document.ts) with the code-signing key, upload the image to S3, create the
 * job whose document carries manifest, signature and a presigned-URL placeholder. The operator's
 * CLI (tools/ota/ota.ts, which adds the key in a PKCS#11 token) and the console both publish
 * through this, and the firmware's tests sign their images with it.
 */
import crypto, { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { CreateJobCommand, DescribeThingCommand, type IoTClient, type CreateJobCommandInput } from '@aws-sdk/client-iot';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../local/credentials';
import { encodeManifest, PRODUCT } from '../../firmware/core/ota/document';

/** Who signs a manifest: the PKCS#11 token's key (tools/ota/signer.ts), or a PEM key in development. */
export interface FirmwareSigner {
	/** ECDSA P-256 over SHA-256 of `data`, DER-encoded. */
	sign(data: Uint8Array): Promise<Uint8Array>;
	/** Where the key is, for logs: "pkcs11:<token>/<label>" or "dev-key (PEM)". */
	readonly where: string;
}

/** A PEM private key on disk: development and tests only. */
export function devSigner(pem: string | crypto.KeyObject): FirmwareSigner {
	const key = typeof pem === 'string' ? crypto.createPrivateKey(pem) : pem;
	if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new TypeError('"key" expected an EC P-256 private key');
	return {
		where: 'dev-key (PEM)',
		sign: async (data) => new Uint8Array(crypto.sign('sha256', data, key)),
	};
}

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
	const cert = await codeSigningCertificate(keys, webcrypto, name);
	const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
	const keyPem = crypto.createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;
	return { keyPem, ...cert };
}

/**
 * The self-signed certificate of a code-signing key pair, made by `provider` (Node's WebCrypto
 * for a development key, the PKCS#11 token's for the product key: tools/ota/signer.ts), valid
 * ten years, for digitalSignature and codeSigning only. Its DER is what the firmware is built with.
 */
export async function codeSigningCertificate(keys: webcrypto.CryptoKeyPair, provider: webcrypto.Crypto, name: string): Promise<{ certificateDer: Uint8Array; certificatePem: string }> {
	const now = Date.now();
	const cert = await x509.X509CertificateGenerator.createSelfSigned(
		{
			serialNumber: crypto
				.randomBytes(8)
				.toString('hex')
				.replace(/^[89a-f]/, '1'),
			name: [{ CN: [name] }],
			notBefore: new Date(now - 60_000),
			notAfter: new Date(now + 10 * 365 * 86_400_000),
			keys,
			signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
			extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning], false)],
		},
		provider,
	);
	return { certificateDer: new Uint8Array(cert.rawData), certificatePem: cert.toString('pem') };
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
