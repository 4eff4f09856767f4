import * as assert from '../testing/assert';
import { fakeTime, fixedRandom, memoryLog } from '../testing/fakes';
import type { LinkError, Message, MessageHandler } from '../link/link';
import type { LinkState } from '../link/machine';
import { err, ok, type Result } from '../util/result';
import { utf8Decode, utf8Encode } from '../util/utf8';
import { topicMatches } from '../mqtt/topic';
import { ShadowClient } from './client';
import { fakeMessenger } from '../testing/messenger';

describe('shadow client', () => {
	const P = '$aws/things/robot-1/shadow/name/schedule';
	function setup(state: LinkState['value'] = 'connected') {
		const time = fakeTime();
		const link = fakeMessenger(state);
		const log = memoryLog();
		const shadow = new ShadowClient(link, { timers: time.timers, random: fixedRandom(0.5), log }, { thing: 'robot-1', name: 'schedule', timeoutMs: 1000 });
		return { time, link, log, shadow };
	}

	it('subscribes to the reply topics only: three filters', () => {
		const { link } = setup();
		assert.deepEqual([...link.subs.keys()], [P + '/+/accepted', P + '/+/rejected', P + '/update/delta']);
	});

	it('get resolves with the accepted document matched by clientToken and tracks the version', async () => {
		const { link, shadow } = setup();
		const p = shadow.get();
		assert.equal(link.sent[0]!.topic, P + '/get');
		const token = link.sent[0]!.body.clientToken as string;
		assert.ok(token.length > 0 && token.length <= 64);
		link.deliver(P + '/get/accepted', { state: { desired: { a: 1 } }, version: 7, timestamp: 1, clientToken: 'someone-else' });
		link.deliver(P + '/get/accepted', { state: { reported: { a: 1 } }, version: 9, timestamp: 2, clientToken: token });
		const r = await p;
		assert.ok(r.ok);
		assert.equal(r.value.version, 9);
		assert.deepEqual(r.value.state, { reported: { a: 1 } });
		assert.equal(shadow.version, 9);
	});

	it('a rejection is data with the status, distinct from a timeout', async () => {
		const { link, shadow } = setup();
		const p = shadow.update({ reported: { x: 1 } }, 3);
		assert.equal(link.sent[0]!.body.version, 3);
		link.deliver(P + '/update/rejected', { code: 409, message: 'Version conflict', clientToken: link.sent[0]!.body.clientToken });
		assert.deepEqual(await p, err({ code: 'rejected', status: 409, message: 'Version conflict' }));
		assert.deepEqual(link.withdrawn, [1], 'a failed request is withdrawn from the outbox if still queued');
	});

	it('times out, and a late reply is ignored', async () => {
		const { link, shadow, time, log } = setup();
		const p = shadow.get();
		time.advance(1000);
		assert.deepEqual(await p, err({ code: 'timeout' }));
		link.deliver(P + '/get/accepted', { state: {}, version: 1, timestamp: 1, clientToken: link.sent[0]!.body.clientToken });
		assert.ok(log.events().includes('shadow.timeout'));
		assert.equal(time.pending(), 0);
	});

	it('refuses requests while the link is down, and a link drop settles what is in flight', async () => {
		assert.deepEqual(await setup('waiting').shadow.get(), err({ code: 'offline' }));
		const { shadow, link } = setup('connecting');
		const p = shadow.get();
		assert.equal(link.sent.length, 1, 'connecting: the GET rides in the first write');
		link.set('waiting');
		assert.deepEqual(await p, err({ code: 'offline' }));
		assert.deepEqual(link.withdrawn, [1]);
	});

	it('delivers deltas and ignores malformed messages with a log line', () => {
		const { link, shadow, log } = setup();
		const got: unknown[] = [];
		shadow.onDelta((d) => got.push(d));
		link.deliver(P + '/update/delta', 'not json');
		link.deliver(P + '/update/delta', { state: { a: 2 }, metadata: { a: { timestamp: 5 } }, version: 12, timestamp: 6 });
		assert.deepEqual(got, [{ state: { a: 2 }, metadata: { a: { timestamp: 5 } }, version: 12, timestamp: 6 }]);
		assert.ok(log.events().includes('shadow.bad_message'));
		assert.equal(shadow.version, 12);
	});

	it('checks its arguments', () => {
		const time = fakeTime();
		const ports = { timers: time.timers, random: fixedRandom(0), log: memoryLog() };
		assert.throws(() => new ShadowClient(fakeMessenger(), ports, { thing: 'a/b' }), /"thing"/);
		assert.throws(() => new ShadowClient(fakeMessenger(), ports, { thing: 'r', name: '' }), /"name"/);
		const s = new ShadowClient(fakeMessenger(), ports, { thing: 'r' });
		assert.equal(s.prefix, '$aws/things/r/shadow');
		assert.throws(() => void s.update({}), /"state"/);
	});
});
