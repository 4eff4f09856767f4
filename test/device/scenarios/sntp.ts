/*
 * The SNTP clock adapter (platform/moddable/sntp.ts) against the runner's responder on
 * UDP 127.0.0.1:123 (sntp.js always uses port 123). The first host does not resolve,
 * so the adapter must move on to the second; the responder ignores the first request
 * there, so sntp.js must repeat it (after 5 s). PASS when the time set is the
 * responder's SNTP_TEST_SECONDS, which no other server would give.
 * On lin Time.set does nothing (Date.now() is the host clock), so the clock port itself
 * is not changed here; the runner checks what the responder saw.
 */
import { startSntp } from '../../../firmware/platform/moddable/platform';
import type { Scenario } from './index';
import { SNTP_TEST_SECONDS } from './fixtures';

const scenario: Scenario = {
	timeoutMs: 20_000,
	run(c) {
		const failed: string[] = [];
		c.onLog((event, fields) => {
			if (event === 'sntp.host_failed') failed.push(String(fields?.host));
		});
		const sntp = startSntp({
			hosts: ['sntp.invalid', '127.0.0.1'],
			log: c.ports.log,
			refreshMs: 0,
			onTime(seconds) {
				sntp.stop();
				c.step('time', { seconds, failedHosts: failed.join(',') });
				if (seconds !== SNTP_TEST_SECONDS) return c.fail('SNTP time ' + seconds + ', expected ' + SNTP_TEST_SECONDS);
				if (failed.join(',') !== 'sntp.invalid') return c.fail('hosts that failed first: ' + JSON.stringify(failed) + ', expected ["sntp.invalid"]');
				c.pass();
			},
		});
	},
};
export default scenario;
