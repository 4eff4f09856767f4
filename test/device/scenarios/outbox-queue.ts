/*
 * (b), run 1 of 2: the broker is down. Queue N durable QoS 1 messages; each is on
 * storage when publish() returns, so PASS right away (the runner then kills the app).
 */
import type { Scenario } from './index';
import { text } from './bytes';

export const OUTBOX_MESSAGES = 3;

const scenario: Scenario = {
	timeoutMs: 10_000,
	run(c) {
		if (c.link.outbox.size !== 0) return c.fail('outbox not empty at start (' + c.link.outbox.size + '): the runner must clear storage first');
		c.link.start(); // nothing listens: the link keeps retrying while we queue
		const topic = 'robots/' + c.thing + '/outbox';
		for (let i = 1; i <= OUTBOX_MESSAGES; i++) {
			const r = c.link.publish(topic, text('outbox-' + i), 1, true);
			if (!r.ok) return c.fail('publish ' + i + ' refused: ' + r.error.code);
		}
		const queued: number = c.link.outbox.size;
		if (queued !== OUTBOX_MESSAGES) return c.fail('outbox holds ' + queued);
		c.step('queued', { messages: OUTBOX_MESSAGES });
		c.pass();
	},
};
export default scenario;
