/*
 * Who signs firmware manifests. The product's code-signing key lives where the CA key does: in
 * a PKCS#11 token (an HSM; SoftHSM2 in tests), generated there non-extractable, used only to
 * sign (`hsmSigner`). A key in a PEM file (`devSigner`) is for development and tests only; the
 * CLI takes one only behind `--dev-key`.
 */
import type { webcrypto } from 'node:crypto';
import { CODE_SIGNING_KEY_ALG, ensureCaKeys, type Hsm } from '../provision/hsm';
import { codeSigningCertificate, type FirmwareSigner } from '../../cloud/ota/publish';

export const DEFAULT_SIGNING_LABEL = 'robot-firmware-signing';

/** The token's code-signing key labelled `label` (made with `hsmSigningIdentity`). */
export async function hsmSigner(hsm: Hsm, label = DEFAULT_SIGNING_LABEL): Promise<FirmwareSigner> {
	const keys = await ensureCaKeys(hsm, label, false, CODE_SIGNING_KEY_ALG);
	return {
		where: 'pkcs11:' + hsm.tokenLabel + '/' + label,
		async sign(data) {
			const raw = new Uint8Array(await hsm.crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey as never, data));
			return derSignature(raw);
		},
	};
}

/**
 * Generates the code-signing key pair in the token (or finds it) and its self-signed
 * certificate, signed in the token: the certificate (DER) is what the firmware is built with.
 */
export async function hsmSigningIdentity(hsm: Hsm, label = DEFAULT_SIGNING_LABEL, name = 'robot firmware signing'): Promise<{ certificateDer: Uint8Array; certificatePem: string; created: boolean }> {
	const keys = await ensureCaKeys(hsm, label, true, CODE_SIGNING_KEY_ALG);
	const cert = await codeSigningCertificate(keys as unknown as webcrypto.CryptoKeyPair, hsm.crypto as unknown as webcrypto.Crypto, name);
	return { ...cert, created: keys.created };
}

/** WebCrypto's r||s (IEEE P1363) as a DER SEQUENCE of two INTEGERs. */
export function derSignature(raw: Uint8Array): Uint8Array {
	if (raw.length !== 64) throw new RangeError('"signature" expected 64 bytes r||s, got ' + raw.length);
	const int = (b: Uint8Array): number[] => {
		let i = 0;
		while (i < b.length - 1 && b[i] === 0) i++;
		const v = [...b.subarray(i)];
		return v[0]! & 0x80 ? [0, ...v] : v;
	};
	const r = int(raw.subarray(0, 32));
	const s = int(raw.subarray(32));
	return new Uint8Array([0x30, 4 + r.length + s.length, 0x02, r.length, ...r, 0x02, s.length, ...s]);
}
