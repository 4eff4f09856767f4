/*
 * (e) A malformed frame from the broker (the runner's TLS relay injects one after
 * the first CONNACK): the link must close with a clear `mqtt.bad_frame` log line,
 * reconnect, and deliver a QoS 1 message afterwards (PASS on its PUBACK).
 */
import type { Scenario } from './index';
import { text } from './bytes';

const scenario: Scenario = {
	timeoutMs: 30_000,
	run(c) {
		const topic = 'robots/' + c.thing + '/after-bad-frame';
		let online = 0;
		let badFrame = false;
		c.link.listen({
			state(s) {
				if (s.value === 'connected') {
					online++;
					c.step('online', { n: online });
					if (online === 2) {
						if (!badFrame) return c.fail('reconnected without a bad-frame close');
						const r = c.link.publish(topic, text('after-bad-frame'), 1);
						if (!r.ok) c.fail('publish refused: ' + r.error.code);
					}
				} else if (s.value === 'waiting' && online === 1 && !badFrame) {
					if (s.reason.indexOf('bad frame') !== 0) return c.fail('closed for another reason: ' + s.reason);
					badFrame = true;
					c.step('bad-frame-closed', { reason: s.reason });
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
