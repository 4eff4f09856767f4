/*
 * (b), run 2 of 2: a new app start with the broker up. The outbox must come back from
 * storage with the N messages of run 1 and deliver them all; PASS after the last
 * `delivered` and an empty outbox.
 */
import type { Scenario } from './index';
import { OUTBOX_MESSAGES } from './outbox-queue';

const scenario: Scenario = {
	timeoutMs: 20_000,
	run(c) {
		const loaded = c.link.outbox.size;
		if (loaded !== OUTBOX_MESSAGES) return c.fail('outbox came back with ' + loaded + ' of ' + OUTBOX_MESSAGES + ' messages');
		c.step('loaded', { messages: loaded });
		let delivered = 0;
		c.link.listen({
			delivered(seq, topic) {
				delivered++;
				c.step('delivered', { seq, topic });
				if (delivered === OUTBOX_MESSAGES) {
					if (c.link.outbox.size !== 0) return c.fail('outbox still holds ' + c.link.outbox.size + ' after all PUBACKs');
					c.pass();
				}
			},
		});
		c.link.start();
	},
};
export default scenario;
