/*
 * (a) Mutual TLS, CONNECT, SUBSCRIBE and a QoS 1 round trip through the broker on the
 * robot's own topic robots/<thing>/echo. PASS when our PUBACK came (delivered) and
 * the message came back. Metric: app start to SUBACK granted.
 */
import Time from 'time';
import Timer from 'timer';
import type { Scenario } from './index';
import { str, text } from './bytes';

const scenario: Scenario = {
	timeoutMs: 20_000,
	run(c) {
		const topic = 'robots/' + c.thing + '/echo';
		const payload = 'echo-1';
		let delivered = false;
		let echoed = false;
		let done = false;
		const check = () => {
			if (done || !delivered || !echoed) return;
			done = true;
			// debug builds print an `instruments:` line once a second: stay up for one, still connected
			Timer.set(() => c.pass(), 1_100);
		};
		const linkStart = Time.ticks;
		let connectedAt = 0;
		c.link.listen({
			state(s) {
				if (s.value === 'connected' && !connectedAt) connectedAt = Time.ticks;
			},
			subscription(filter, granted) {
				if (filter !== topic) return;
				if (granted === 0x80) return c.fail('SUBSCRIBE ' + topic + ' refused');
				c.metric({ appStartToSubscribedMs: Time.ticks - c.startedAt, linkStartToSubscribedMs: Time.ticks - linkStart, linkStartToConnackMs: connectedAt - linkStart });
				const r = c.link.publish(topic, text(payload), 1);
				if (!r.ok) c.fail('publish refused: ' + r.error.code);
			},
			delivered(_seq, t) {
				if (t === topic) delivered = true;
				check();
			},
		});
		const sub = c.link.subscribe(topic, (m) => {
			if (str(m.payload) !== payload) return c.fail('echo payload ' + JSON.stringify(str(m.payload)));
			echoed = true;
			check();
		});
		if (!sub.ok) return c.fail('subscribe: ' + sub.error.code);
		c.link.start();
	},
};
export default scenario;
