/* A portable CodeSigningPort (@noble/hashes SHA-256 and the core's P-256): tests, XS without the native crypt modules. */
import { sha256 } from '@noble/hashes/sha2.js';
import type { CodeSigningPort } from '../../ports';
import { publicKeyOfCertificate, verifyP256 } from '../../core/crypto/p256';

export const portableCodeSigning: CodeSigningPort = {
	sha256() {
		const h = sha256.create();
		return { update: (d) => void h.update(d), digest: () => h.digest() };
	},
	verifyP256Sha256(certificate, digest, signature) {
		const key = publicKeyOfCertificate(certificate);
		return key !== undefined && verifyP256(key, digest, signature);
	},
};
