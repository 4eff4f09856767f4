/*
 * The platform's known answers on the real runtime (was the crypto-kat scenario's own wiring):
 * the product's `self-test` command runs firmware/platform/moddable/selftest.ts (AES-256-GCM,
 * SHA-2, HMAC, OAEP unwrap and PKCS#1 v1.5 signature with the RSA device key, randomness).
 * Metrics: the RSA operations and native AES-GCM throughput.
 */
import { metric, say, type Scenario } from '../suite';

const scenario: Scenario = {
	name: 'self-test',
	async run(s) {
		s.clearStorage();
		await s.up();
		await s.provision();
		const d = s.power('self-test');
		const r = (await d.command({ cmd: 'self-test' })).selfTest as { passed: number; failed: string[]; timings: Record<string, number> };
		await d.off();
		metric({ name: 'device.self_test', passed: r.passed, failed: r.failed.length, ...r.timings });
		if (r.failed.length) return `${r.failed.length} known-answer check(s) failed: ${r.failed.join('; ')}`;
		if (r.passed < 12) return `only ${r.passed} checks ran`;
		say(`self-test: ${r.passed} known answers held; ${JSON.stringify(r.timings)}`);
		return undefined;
	},
};
export default scenario;
