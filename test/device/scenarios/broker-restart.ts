/*
 * (c) The broker restarts while we are connected. On the first CONNACK we trace
 * `step online` and the runner restarts the broker; the link must notice, back off,
 * reconnect, and then deliver a QoS 1 message (PASS on its PUBACK).
 */
import type { Scenario } from './index';
import { text } from './bytes';

const scenario: Scenario = {
	timeoutMs: 30_000,
	run(c) {
		const topic = 'robots/' + c.thing + '/after-restart';
		let online = 0;
		let lost = false;
		c.link.listen({
			state(s) {
				if (s.value === 'connected') {
					online++;
					c.step('online', { n: online });
					if (online === 2) {
						if (!lost) return c.fail('second CONNACK without a lost connection');
						const r = c.link.publish(topic, text('after-restart'), 1);
						if (!r.ok) c.fail('publish refused: ' + r.error.code);
					}
				} else if (s.value === 'waiting' && online === 1 && !lost) {
					lost = true;
					c.step('lost', { reason: s.reason, attempt: s.attempt });
				}
			},
			delivered(_seq, t) {
				if (t === topic && online >= 2) c.pass();
			},
		});
		c.link.start();
	},
};
export default scenario;
