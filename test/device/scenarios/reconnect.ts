/*
 * The shape both link-loss scenarios share: connect, lose the connection once for a
 * reason the scenario checks, reconnect, and deliver a QoS 1 message (PASS on its
 * PUBACK). `lost` returns a failure text when the loss had the wrong reason.
 */
import type { Scenario } from './index';
import { text } from './bytes';

export function reconnectThenDeliver(name: string, lost: (reason: string) => string | undefined, lostStep: string): Scenario {
	return {
		timeoutMs: 30_000,
		run(c) {
			const topic = 'robots/' + c.thing + '/' + name;
			let online = 0;
			let wasLost = false;
			c.link.listen({
				state(s) {
					if (s.value === 'connected') {
						online++;
						c.step('online', { n: online });
						if (online === 2) {
							if (!wasLost) return c.fail('second CONNACK without a lost connection');
							const r = c.link.publish(topic, text(name), 1);
							if (!r.ok) c.fail('publish refused: ' + r.error.code);
						}
					} else if (s.value === 'waiting' && online === 1 && !wasLost) {
						const wrong = lost(s.reason);
						if (wrong) return c.fail(wrong);
						wasLost = true;
						c.step(lostStep, { reason: s.reason, attempt: s.attempt });
					}
				},
				delivered(_seq, t) {
					if (t === topic && online >= 2) c.pass();
				},
			});
			c.link.start();
		},
	};
}
