/*
 * The firmware job document and the signed manifest it points with.
 *
 * What the robot acts on is the MANIFEST, signed by the code-signing key (ECDSA P-256 over the
 * SHA-256 of its exact bytes, carried as a string so nothing re-serialises it):
 *
 *   {"product":"robot-cleaner","version":"1.4.0","size":524288,"sha256":"<64 hex>","counter":3}
 *
 * The job document is only a pointer: whoever can create a job can write anything in it, so
 * nothing in it but the manifest, its signature and the URL is read, and the URL is checked
 * against the robot's configured sources before a byte is fetched:
 *
 *   { "operation": "firmware-update", "manifest": "<the manifest text>",
 *     "signature": "<base64 DER ECDSA P-256 over SHA-256(manifest)>",
 *     "url": "${aws:iot:s3-presigned-url:https://s3.../firmware/1.4.0/robot.bin}" }
 *
 * AWS IoT replaces the placeholder with a presigned URL when it hands the document to the
 * device. The image is then checked against the manifest's size and SHA-256; the version
 * (newer than the running one) and the security counter (not below the highest installed)
 * are the machine's decisions (machine.ts).
 */
import type { CodeSigningPort } from '../../ports';
import { base64Decode } from '../util/base64';
import { utf8Encode } from '../util/utf8';
import { pattern } from '../util/pattern';

export const OPERATION = 'firmware-update';
/** The product (hardware) id a manifest must name; tools/ota signs with it by default. */
export const PRODUCT = 'robot-cleaner';
/** Larger images cannot be in a slot (4 MB flash, two slots). */
export const MAX_IMAGE = 1_966_080;
/** A manifest is a few fields: anything longer is refused before hashing. */
export const MAX_MANIFEST = 512;
/** The security counter's range (it only goes up). */
export const MAX_COUNTER = 0x7fffffff;

/** What the manifest says, after its signature was checked, and where to fetch the image. */
export interface FirmwareJob {
	readonly version: string;
	readonly size: number;
	readonly sha256: Uint8Array;
	readonly counter: number;
	readonly url: string;
}

export interface Manifest {
	readonly product: string;
	readonly version: string;
	readonly size: number;
	/** 64 lowercase hex digits. */
	readonly sha256: string;
	readonly counter: number;
}

const VERSION = pattern(() => /^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$/);
const PRODUCT_ID = pattern(() => /^[a-z0-9][a-z0-9._-]{0,63}$/);

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
	if (!/^[0-9a-f]*$/.test(s) || s.length % 2) return undefined;
	const out = new Uint8Array(s.length / 2);
	for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
	return out;
}

/** The manifest's one text form (fixed key order): what tools/ota signs. */
export function encodeManifest(m: Manifest): string {
	const why = manifestError(m as unknown as Record<string, unknown>);
	if (why) throw new RangeError('"manifest" ' + why);
	return JSON.stringify({ product: m.product, version: m.version, size: m.size, sha256: m.sha256, counter: m.counter });
}

function manifestError(m: Record<string, unknown>): string | undefined {
	if (typeof m.product !== 'string' || !PRODUCT_ID.test(m.product)) return 'product is not a product id';
	if (!isVersion(m.version)) return 'version is not MAJOR.MINOR.PATCH';
	if (typeof m.size !== 'number' || !Number.isInteger(m.size) || m.size < 1 || m.size > MAX_IMAGE) return 'size is not an integer in 1..' + MAX_IMAGE;
	if (typeof m.sha256 !== 'string' || m.sha256.length !== 64 || !hex(m.sha256)) return 'sha256 is not 64 lowercase hex digits';
	if (typeof m.counter !== 'number' || !Number.isInteger(m.counter) || m.counter < 0 || m.counter > MAX_COUNTER) return 'counter is not an integer in 0..' + MAX_COUNTER;
	return undefined;
}

/**
 * Where images may come from: URL prefixes such as `https://s3.amazonaws.com/firmware/`. A URL
 * matches a prefix with the same scheme, host and path prefix (a prefix without a port matches
 * any port). `http:` is allowed only for a loopback host: the local cloud on the same machine.
 * Answers why a configuration is refused, or undefined.
 */
export function sourcesError(sources: readonly string[]): string | undefined {
	if (!Array.isArray(sources) || sources.length === 0) return 'expected at least one URL prefix';
	for (const s of sources) {
		const u = typeof s === 'string' ? splitUrl(s) : undefined;
		if (!u) return JSON.stringify(s) + ' is not an http(s) URL prefix';
		if (u.scheme === 'http' && !LOOPBACK.includes(u.host)) return JSON.stringify(s) + ': http only for a loopback host (the local cloud); use https';
		if (!u.path.endsWith('/')) return JSON.stringify(s) + ': a prefix ends with "/"';
	}
	return undefined;
}

const LOOPBACK = ['127.0.0.1', 'localhost', '[::1]'];

function splitUrl(url: string): { scheme: 'http' | 'https'; host: string; port: string | undefined; path: string } | undefined {
	// no userinfo (user@host could pass for another host to a careless reader), no whitespace
	const m = /^(https?):\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?(\/[^\s#]*)?$/.exec(url);
	if (!m) return undefined;
	return { scheme: m[1] as 'http' | 'https', host: m[2]!.toLowerCase(), port: m[3], path: m[4] ?? '/' };
}

/** Whether `url` is under one of the configured `sources` (sourcesError(sources) must be undefined). */
export function urlAllowed(url: string, sources: readonly string[]): boolean {
	const u = splitUrl(url);
	if (!u || u.path.includes('/../') || u.path.includes('/./')) return false;
	return sources.some((s) => {
		const p = splitUrl(s);
		return !!p && p.scheme === u.scheme && p.host === u.host && (p.port === undefined || p.port === u.port) && u.path.startsWith(p.path);
	});
}

export interface DocumentCheck {
	/** DER X.509 code-signing certificate (EC P-256) built into the firmware. */
	readonly certificate: Uint8Array;
	readonly signing: CodeSigningPort;
	/** The product id this firmware is (PRODUCT by default). */
	readonly product: string;
	readonly sources: readonly string[];
}

/**
 * Checks an untrusted job document: its shape, the URL against the sources, the manifest's
 * signature, then the manifest. The error is the reason reported with REJECTED.
 */
export function checkJobDocument(doc: unknown, c: DocumentCheck): { ok: true; value: FirmwareJob } | { ok: false; error: string } {
	if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, error: 'document is not an object' };
	const d = doc as Record<string, unknown>;
	if (d.operation !== OPERATION) return { ok: false, error: 'operation is not ' + OPERATION };
	if (typeof d.manifest !== 'string' || d.manifest.length === 0 || d.manifest.length > MAX_MANIFEST) return { ok: false, error: 'manifest is not a string of 1..' + MAX_MANIFEST + ' characters' };
	let sig: Uint8Array | undefined;
	try {
		sig = typeof d.signature === 'string' ? base64Decode(d.signature) : undefined;
	} catch {
		sig = undefined;
	}
	if (!sig || sig.length < 8 || sig.length > 72) return { ok: false, error: 'signature is not base64 of an ECDSA P-256 signature' };
	if (typeof d.url !== 'string' || !splitUrl(d.url)) return { ok: false, error: 'url is not an http(s) URL' };
	if (!urlAllowed(d.url, c.sources)) return { ok: false, error: 'url is not under a configured firmware source' };
	const h = c.signing.sha256();
	h.update(utf8Encode(d.manifest));
	if (!c.signing.verifyP256Sha256(c.certificate, h.digest(), sig)) return { ok: false, error: 'manifest signature does not verify with the code-signing certificate' };
	let m: Record<string, unknown>;
	try {
		m = JSON.parse(d.manifest) as Record<string, unknown>;
	} catch {
		return { ok: false, error: 'signed manifest is not JSON' };
	}
	if (typeof m !== 'object' || m === null || Array.isArray(m)) return { ok: false, error: 'signed manifest is not an object' };
	const why = manifestError(m);
	if (why) return { ok: false, error: 'signed manifest: ' + why };
	const manifest = m as unknown as Manifest;
	if (manifest.product !== c.product) return { ok: false, error: 'signed manifest is for product ' + manifest.product + ', this is ' + c.product };
	return { ok: true, value: { version: manifest.version, size: manifest.size, sha256: hex(manifest.sha256)!, counter: manifest.counter, url: d.url } };
}
