/*
 * CodeSigningPort on Moddable: SHA-256 from the native `crypt` Digest, streamed (the
 * image is hashed block by block as the agent reads it back), and ECDSA P-256 from
 * the SDK's `ecdsa` over its native elliptic-curve arithmetic (`ec`, `ecp`, `mont`:
 * the same code the TLS client verifies ECDSA server keys with), the key taken from
 * the certificate by the SDK's `x509`.
 *
 * The signature is parsed by the core (parseSignature: DER or raw r||s) and r, s are
 * range-checked here: the SDK's verify inverts s without checking it (s = 0 would throw
 * in mulinv, not answer false).
 *
 * `moddableOta` assembles the robot's `ota` config (core/robot/robot.ts) for firmware/main.ts
 * and the device test build alike: the slots of this platform (slots/firmware-slots.ts on
 * lin, slots/esp32.ts on ESP32, chosen by manifest.json), this signing port, HTTP for the
 * image, and the code-signing certificate, which is public: a build resource
 * `code-signing.der` (DER X.509, EC P-256, from `npm run ota -- keygen`). The firmware
 * version is config.firmware.version, the self-test deadline config.firmware.selfTestMs,
 * where images may come from config.firmware.sources (URL prefixes, an array or one string
 * separated by spaces or commas: https, http only on loopback for a local cloud; checked
 * here so a bad build says so at startup), the product id config.firmware.product and the
 * build's security counter config.firmware.securityCounter.
 */
/// <reference path="./moddable-crypto.d.ts" />
/// <reference path="./firmware-modules.d.ts" />
import config from 'mc/config';
import { Digest } from 'crypt';
import ECDSA from 'ecdsa';
import Resource from 'Resource';
import X509 from 'x509';
import { parseSignature } from '../../core/crypto/p256';
import { PRODUCT, sourcesError } from '../../core/ota/document';
import type { RobotOta } from '../../core/robot/robot';
import type { CodeSigningPort, HttpPort, LogPort, Sha256Stream, StoragePort } from '../../ports';
import { createFirmwareSlots } from './slots/firmware-slots';

export const CODE_SIGNING_RESOURCE = 'code-signing.der';
const DEFAULT_SELF_TEST_MS = 60_000;
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_OID = '1,2,840,10045,2,1';

function sha256(): Sha256Stream {
	let d: Digest | undefined = new Digest('SHA256');
	return {
		update(data) {
			if (!d) throw new Error('sha256: digest already taken');
			if (data.length) d.write(data as unknown as ArrayBuffer); // a view is fine: xsmcGetBufferReadable
		},
		digest() {
			if (!d) throw new Error('sha256: digest already taken');
			const out = new Uint8Array(d.close());
			d = undefined;
			return out;
		},
	};
}

function raw32(v: bigint): Uint8Array {
	const out = new Uint8Array(32);
	for (let i = 31; i >= 0; i--) {
		out[i] = Number(v & 0xffn);
		v >>= 8n;
	}
	return out;
}

/** The certificate's EC P-256 public key as the SDK's ECDSA takes it, or why there is none. */
function p256Key(certificate: Uint8Array): { pub: unknown; curve: unknown } | string {
	let spki: { pub?: unknown; curve?: { orderSize?: number }; algo?: { toString(): string } };
	try {
		spki = X509.decode(certificate.slice().buffer as ArrayBuffer).spki;
	} catch (e) {
		return 'not an X.509 certificate the SDK reads: ' + String((e as Error)?.message ?? e);
	}
	if (!spki?.pub || spki.curve?.orderSize !== 32 || spki.algo?.toString() !== P256_OID) return 'not an EC P-256 key';
	return { pub: spki.pub, curve: spki.curve };
}

export const moddableCodeSigning: CodeSigningPort = Object.freeze({
	sha256,
	verifyP256Sha256(certificate: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean {
		if (digest.length !== 32) return false;
		const sig = parseSignature(signature);
		if (!sig || sig.r <= 0n || sig.r >= P256_N || sig.s <= 0n || sig.s >= P256_N) return false;
		// moddableOta refuses a certificate without a P-256 key at startup; here it only means "not signed by it"
		const key = p256Key(certificate);
		if (typeof key === 'string') return false;
		const rs = new Uint8Array(64);
		rs.set(raw32(sig.r), 0);
		rs.set(raw32(sig.s), 32);
		return new ECDSA(key.pub, key.curve).verify(digest.slice().buffer as ArrayBuffer, rs.buffer as ArrayBuffer, false) === true;
	},
});

export interface ModdableOtaOptions {
	readonly http: HttpPort;
	readonly log: LogPort;
	readonly storage: StoragePort;
	/** The device restarts by itself on ESP32; on lin the app asks its runner to start it again. */
	readonly onReboot: () => void;
}

/** The robot's `ota` config on this platform, or why there is none (no certificate, no version). */
export function moddableOta(o: ModdableOtaOptions): RobotOta | string {
	const fw = (config as { firmware?: { version?: string; selfTestMs?: number | string; sources?: string | string[]; product?: string; securityCounter?: number | string } }).firmware ?? {};
	const version = String(fw.version ?? '');
	if (!/^\d+\.\d+\.\d+$/.test(version)) return 'config.firmware.version expected X.Y.Z, got ' + JSON.stringify(version);
	const selfTestMs = Number(fw.selfTestMs ?? DEFAULT_SELF_TEST_MS);
	if (!(selfTestMs > 0)) return 'config.firmware.selfTestMs expected a positive number, got ' + JSON.stringify(fw.selfTestMs);
	const sources = (Array.isArray(fw.sources) ? fw.sources : String(fw.sources ?? '').split(/[\s,]+/)).map((x) => String(x).trim()).filter((x) => x.length > 0);
	const badSources = sourcesError(sources);
	if (badSources) return 'config.firmware.sources: ' + badSources;
	const securityCounter = Number(fw.securityCounter ?? 0);
	if (!Number.isInteger(securityCounter) || securityCounter < 0) return 'config.firmware.securityCounter expected an integer >= 0, got ' + JSON.stringify(fw.securityCounter);
	if (!Resource.exists(CODE_SIGNING_RESOURCE)) return 'no code-signing certificate (resource ' + CODE_SIGNING_RESOURCE + ')';
	const certificate = new Uint8Array(new Resource(CODE_SIGNING_RESOURCE).slice(0));
	const key = p256Key(certificate);
	if (typeof key === 'string') return 'code-signing certificate (resource ' + CODE_SIGNING_RESOURCE + '): ' + key;
	const slot = createFirmwareSlots({ factoryVersion: version, onReboot: o.onReboot, log: o.log, storage: o.storage });
	return { slot, signing: moddableCodeSigning, http: o.http, certificate, sources, product: String(fw.product ?? PRODUCT), securityCounter, selfTest: { deadlineMs: selfTestMs } };
}
