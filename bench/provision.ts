/*
 * provision: factory provisioning rate with the CA key in SoftHSM2 (tools/provision).
 * A batch of N robots that bring their own CSR (the board's path): each CSR is checked,
 * its certificate signed in the token, the bundle written and the record appended.
 * CSR generation is outside the timing (a robot makes its own); the CSRs use a pool of
 * RSA keys, each CSR signed for its own CN. The simulator's path (the tool makes an
 * RSA-2048 key too) is timed on a smaller batch.
 */
import { webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openHsm } from '../tools/provision/hsm';
import { openProvisioner, provisionBatch, simulatorCsr, type ProvisionRequest } from '../tools/provision/provision';
import { createTestToken } from '../tools/provision/softhsm';
import { benchSection } from './section';
import { table } from './table';

export interface ProvisionBenchResult {
	readonly batch: number;
	readonly seconds: number;
	readonly certsPerSecond: number;
	readonly msPerCert: number;
	readonly simulatorBatch: number;
	readonly simulatorCertsPerSecond: number;
	readonly keyPool: number;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export async function benchProvision(batch = 1000, simulatorBatch = 20, keyPool = 16): Promise<ProvisionBenchResult> {
	const token = createTestToken('bench-ca', '1234');
	const dir = mkdtempSync(join(tmpdir(), 'bench-provision-'));
	const hsm = openHsm({ module: token.module, tokenLabel: 'bench-ca', pin: token.pin });
	try {
		const p = await openProvisioner(hsm, { dir });
		const keys: webcrypto.CryptoKeyPair[] = [];
		for (let i = 0; i < keyPool; i++) {
			keys.push((await webcrypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair);
		}
		const requests: ProvisionRequest[] = [];
		for (let i = 0; i < batch; i++) {
			const serial = 'BENCH' + String(i).padStart(6, '0');
			requests.push({ serial, csr: (await simulatorCsr(serial, keys[i % keyPool])).csrPem });
		}
		const r = await provisionBatch(p, requests);
		if (r.issued.length !== batch) throw new Error('issued ' + r.issued.length + ' of ' + batch + ': ' + JSON.stringify(r.failed.slice(0, 3)));
		const sims = await provisionBatch(
			p,
			Array.from({ length: simulatorBatch }, (_, i) => ({ serial: 'SIMB' + String(i).padStart(6, '0') })),
		);
		return {
			batch,
			seconds: round(r.seconds),
			certsPerSecond: round(batch / r.seconds, 1),
			msPerCert: round((r.seconds * 1000) / batch),
			simulatorBatch,
			simulatorCertsPerSecond: round(simulatorBatch / sims.seconds, 1),
			keyPool,
		};
	} finally {
		hsm.close();
		token.close();
		rmSync(dir, { recursive: true, force: true });
	}
}

export function provisionMarkdown(v: ProvisionBenchResult, table: (head: string[], rows: string[][]) => string): string[] {
	return [
		table(
			['metric', 'value'],
			[
				['robots in batch (CSR given)', String(v.batch)],
				['batch time', v.seconds + ' s'],
				['certificates per second', String(v.certsPerSecond)],
				['per certificate', v.msPerCert + ' ms'],
				[`simulator path (tool makes the RSA-2048 key), ${v.simulatorBatch} robots`, v.simulatorCertsPerSecond + ' certificates/s'],
			],
		),
		'',
		`CA key RSA-2048 in SoftHSM2, signed through node-webcrypto-p11; per robot: CSR checks (signature, RSA-2048, CN = thing name), certificate signed in the token, bundle (simulator directory + Moddable form) written, record line appended. CSRs made beforehand from a pool of ${v.keyPool} RSA keys (a robot makes its own key).`,
		'',
	];
}

export const provisionSection = benchSection({ name: 'provision', title: 'factory provisioning, CA key in SoftHSM2', run: () => benchProvision(1000), markdown: (x) => provisionMarkdown(x, table) });
