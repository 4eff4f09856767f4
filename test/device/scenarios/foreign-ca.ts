/*
 * (d) A device certificate issued by another CA (Preference domain "rogue", which the runner
 * writes beside the device's own "cred"; the trust anchor for the broker is still the right
 * CA). The broker must refuse the handshake: PASS after two refused attempts, FAIL if the
 * link ever gets a CONNACK.
 */
import type { Scenario } from './index';

const scenario: Scenario = {
	timeoutMs: 20_000,
	credentials: 'rogue',
	run(c) {
		let refused = 0;
		c.link.listen({
			state(s) {
				if (s.value === 'connected') return c.fail('connected with a certificate from a foreign CA');
				if (s.value === 'waiting') {
					refused++;
					c.step('refused', { attempt: s.attempt, reason: s.reason });
					if (refused === 2) c.pass();
				}
			},
		});
		c.link.start();
	},
};
export default scenario;
