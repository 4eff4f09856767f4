/*
 * The local stand-in for IoT DescribeCertificate: the certificates the local cloud has
 * seen, by certificate id (the SHA-256 hex of the DER, what principal() gives). The local
 * cloud registers the dev PKI's device certificates at start and every certificate a
 * device publishes with (the broker hands rules the DER of the connection's certificate),
 * so any certificate that could have produced a principal() is known. Every certificate the
 * broker accepted chains to the dev CA, so all are ACTIVE.
 */
import { X509Certificate } from 'node:crypto';
import type { CertificateDirectory } from '../functions/upload-slot/iot';
import { certificateId } from './rules/index';

export interface LocalCertificates extends CertificateDirectory {
	/** Registers a DER certificate; returns its id. */
	register(der: Uint8Array): string;
	readonly size: number;
}

export function createLocalCertificates(): LocalCertificates {
	const pems = new Map<string, string>();
	return {
		register(der) {
			const id = certificateId(der);
			if (!pems.has(id)) pems.set(id, new X509Certificate(der).toString());
			return id;
		},
		async get(id) {
			return pems.get(id);
		},
		get size() {
			return pems.size;
		},
	};
}
