/*
 * Job documents: validation at CreateJob, and the presigned-URL placeholders that AWS IoT
 * replaces each time it hands the document to a device ("Presigned URLs" in the Jobs guide):
 *   ${aws:iot:s3-presigned-url:https://s3.amazonaws.com/<bucket>/<key>}
 * Locally the URL is a real SigV4 presigned GET for the local S3 endpoint, signed with the
 * local credentials, valid for the job's presignedUrlConfig.expiresInSec.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

/** AWS IoT: a job document is at most 32 KB of JSON. */
export const MAX_DOCUMENT_BYTES = 32 * 1024;

const PLACEHOLDER = /\$\{aws:iot:s3-presigned-url:([^}]*)\}/g;

export interface ObjectRef {
	readonly bucket: string;
	readonly key: string;
}

/** Signs a GET for one object, valid `expiresInSec` seconds. */
export type Presign = (object: ObjectRef, expiresInSec: number) => Promise<string>;

export type Checked = { readonly ok: true; readonly placeholders: readonly ObjectRef[] } | { readonly ok: false; readonly message: string };

/**
 * A document is a JSON object of at most 32 KB whose placeholders all name an S3 object;
 * `localS3` is the origin of the local S3 endpoint, accepted in path style beside AWS's hosts.
 */
export function checkDocument(document: string, localS3?: string): Checked {
	const bytes = new TextEncoder().encode(document).byteLength;
	if (bytes > MAX_DOCUMENT_BYTES) return { ok: false, message: `document expected at most ${MAX_DOCUMENT_BYTES} bytes, got ${bytes}` };
	let parsed: unknown;
	try {
		parsed = JSON.parse(document);
	} catch (e) {
		return { ok: false, message: 'document expected JSON, got: ' + (e as Error).message };
	}
	if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, message: 'document expected a JSON object' };
	const placeholders: ObjectRef[] = [];
	for (const m of document.matchAll(PLACEHOLDER)) {
		const ref = objectOf(m[1] ?? '', localS3);
		if (!ref) return { ok: false, message: `placeholder ${m[0]} expected an S3 object URL such as https://s3.amazonaws.com/<bucket>/<key>` };
		placeholders.push(ref);
	}
	return { ok: true, placeholders };
}

/** The document as the device receives it: every placeholder replaced by a fresh presigned URL. */
export async function substitute(document: string, presign: Presign, expiresInSec: number, localS3?: string): Promise<unknown> {
	// CreateJob checked every placeholder; one naming a local S3 origin that has since moved stays as it is
	const urls = await Promise.all(
		[...document.matchAll(PLACEHOLDER)].map((m) => {
			const ref = objectOf(m[1] ?? '', localS3);
			return ref ? presign(ref, expiresInSec) : Promise.resolve(m[0]);
		}),
	);
	let i = 0;
	// the placeholder sits inside a JSON string: escape the URL as one
	const text = document.replace(PLACEHOLDER, () => JSON.stringify(urls[i++]).slice(1, -1));
	return JSON.parse(text) as unknown;
}

/**
 * Bucket and key of an S3 URL: path style on s3.amazonaws.com, s3.<region>.amazonaws.com,
 * s3-<region>.amazonaws.com or the local endpoint; virtual-hosted on <bucket>.s3[.-<region>].amazonaws.com.
 */
export function objectOf(text: string, localS3?: string): ObjectRef | undefined {
	let url: URL;
	try {
		url = new URL(text);
	} catch {
		return undefined;
	}
	const path = url.pathname.split('/').slice(1).map(decodeSegment);
	if (path.some((s) => s === undefined)) return undefined;
	const segments = path as string[];
	const host = url.hostname.toLowerCase();
	const pathStyle = (): ObjectRef | undefined => {
		const [bucket, ...rest] = segments;
		const key = rest.join('/');
		return bucket && key ? { bucket, key } : undefined;
	};
	if (localS3 !== undefined && url.origin === new URL(localS3).origin) return pathStyle();
	if (url.protocol !== 'https:') return undefined;
	if (/^s3([.-][a-z0-9-]+)?\.amazonaws\.com$/.test(host)) return pathStyle();
	const hosted = /^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\.s3([.-][a-z0-9-]+)?\.amazonaws\.com$/.exec(host);
	if (hosted?.[1]) {
		const key = segments.join('/');
		return key ? { bucket: hosted[1], key } : undefined;
	}
	return undefined;
}

export interface S3PresignOptions {
	/** The local S3 endpoint, e.g. http://127.0.0.1:4569; presigned in path style. */
	readonly endpoint: string;
	readonly region: string;
	readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** Presigns with the stock AWS SDK signer, exactly as the cloud handlers would. */
export function s3Presigner(o: S3PresignOptions): Presign {
	const client = new S3Client({
		endpoint: o.endpoint,
		region: o.region,
		credentials: { ...o.credentials },
		forcePathStyle: true,
		// else GetObject carries an x-amz-checksum-mode header a plain GET of the URL would lack
		responseChecksumValidation: 'WHEN_REQUIRED',
	});
	return (object, expiresInSec) => getSignedUrl(client, new GetObjectCommand({ Bucket: object.bucket, Key: object.key }), { expiresIn: expiresInSec });
}

function decodeSegment(s: string): string | undefined {
	try {
		return decodeURIComponent(s);
	} catch {
		return undefined;
	}
}
