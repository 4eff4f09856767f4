/*
 * The firmware job document (what tools/ota creates) and the version order.
 *
 *   { "operation": "firmware-update", "version": "1.4.0", "size": 524288,
 *     "sha256": "<64 hex>", "signature": "<base64 ECDSA P-256 over SHA-256, DER>",
 *     "url": "${aws:iot:s3-presigned-url:https://s3.../firmware/robot-1.4.0.bin}" }
 *
 * AWS IoT replaces the placeholder with a presigned URL when it hands the document
 * to the device; the device never sees the placeholder.
 */
import { base64Decode } from '../util/base64';

export const OPERATION = 'firmware-update';
/** Larger images cannot be in a slot (4 MB flash, two slots). */
export const MAX_IMAGE = 1_966_080;

export interface FirmwareJob {
	readonly version: string;
	readonly size: number;
	readonly sha256: Uint8Array;
	readonly signature: Uint8Array;
	readonly url: string;
}

const VERSION = /^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$/;

/** -1, 0, 1 as `a` is older, the same, newer than `b`; versions are MAJOR.MINOR.PATCH. */
export function compareVersions(a: string, b: string): number {
	const x = VERSION.exec(a);
	const y = VERSION.exec(b);
	if (!x || !y) throw new RangeError('version expected MAJOR.MINOR.PATCH, got ' + JSON.stringify(x ? b : a));
	for (let i = 1; i <= 3; i++) {
		const d = Number(x[i]) - Number(y[i]);
		if (d !== 0) return d < 0 ? -1 : 1;
	}
	return 0;
}

export function isVersion(v: unknown): v is string {
	return typeof v === 'string' && VERSION.test(v);
}

function hex(s: string): Uint8Array | undefined {
	if (!/^[0-9a-fA-F]*$/.test(s) || s.length % 2) return undefined;
	const out = new Uint8Array(s.length / 2);
	for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
	return out;
}

/** Checks an untrusted job document; the error is the reason reported with REJECTED. */
export function parseJobDocument(doc: unknown): { ok: true; value: FirmwareJob } | { ok: false; error: string } {
	if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, error: 'document is not an object' };
	const d = doc as Record<string, unknown>;
	if (d.operation !== OPERATION) return { ok: false, error: 'operation is not ' + OPERATION };
	if (!isVersion(d.version)) return { ok: false, error: 'version is not MAJOR.MINOR.PATCH' };
	if (typeof d.size !== 'number' || !Number.isInteger(d.size) || d.size < 1 || d.size > MAX_IMAGE) return { ok: false, error: 'size is not an integer in 1..' + MAX_IMAGE };
	const sha = typeof d.sha256 === 'string' ? hex(d.sha256) : undefined;
	if (!sha || sha.length !== 32) return { ok: false, error: 'sha256 is not 64 hex digits' };
	let sig: Uint8Array | undefined;
	try {
		sig = typeof d.signature === 'string' ? base64Decode(d.signature) : undefined;
	} catch {
		sig = undefined;
	}
	if (!sig || sig.length < 8 || sig.length > 72) return { ok: false, error: 'signature is not base64 of an ECDSA P-256 signature' };
	if (typeof d.url !== 'string' || !/^https?:\/\/[^\s]+$/.test(d.url)) return { ok: false, error: 'url is not an http(s) URL' };
	return { ok: true, value: { version: d.version, size: d.size, sha256: sha, signature: sig, url: d.url } };
}
