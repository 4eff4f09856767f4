import * as assert from '../testing/assert';
import { fakeTime, fixedRandom, memoryLog } from '../testing/fakes';
import { fakeMessenger } from '../testing/messenger';
import { err, ok } from '../util/result';
import { jsonObject, Requests } from './requests';
import { utf8Encode } from '../util/utf8';

describe('requests (request/reply over the link)', () => {
	function setup(state: Parameters<typeof fakeMessenger>[0] = 'connected') {
		const time = fakeTime();
		const link = fakeMessenger(state);
		const log = memoryLog();
		const requests = new Requests(link, { timers: time.timers, random: fixedRandom(0.5), log }, { name: 'test', timeoutMs: 1000, tokenPrefix: 't' });
		return { time, link, log, requests };
	}

	it('publishes with a fresh clientToken and resolves with the reply that names it', async () => {
		const { link, requests } = setup();
		const a = requests.send('x/get', { n: 1 }, 'get');
		const b = requests.send('x/get', { n: 2 }, 'get');
		const [ta, tb] = link.sent.map((s) => s.body.clientToken as string);
		assert.ok(ta !== tb && ta!.startsWith('t') && tb!.startsWith('t'));
		assert.deepEqual(link.sent[0]!.body, { n: 1, clientToken: ta });
		assert.equal(requests.answer({ clientToken: 'other' }, true), false, "another client's reply");
		assert.equal(requests.answer({ clientToken: tb, v: 2 }, false), true);
		assert.equal(requests.answer({ clientToken: ta, v: 1 }, true), true);
		assert.deepEqual(await a, ok({ accepted: true, body: { clientToken: ta, v: 1 } }));
		assert.deepEqual(await b, ok({ accepted: false, body: { clientToken: tb, v: 2 } }));
		assert.equal(requests.answer({ clientToken: ta }, true), false, 'a second reply finds nobody');
		assert.deepEqual(link.withdrawn, [2], 'a refused request is withdrawn if still queued');
	});

	it('times out, withdraws the request and logs; a late reply is ignored', async () => {
		const { link, requests, time, log } = setup();
		const p = requests.send('x/get', {}, 'get');
		time.advance(999);
		assert.equal(requests.size, 1);
		time.advance(1);
		assert.deepEqual(await p, err({ code: 'timeout' }));
		assert.deepEqual(link.withdrawn, [1]);
		assert.ok(log.events().includes('test.timeout'));
		assert.equal(requests.answer({ clientToken: link.sent[0]!.body.clientToken }, true), false);
	});

	it('abandons what is in flight when the link drops, and refuses while it is down', async () => {
		const { link, requests } = setup('connecting');
		const p = requests.send('x/get', {}, 'get');
		assert.equal(link.sent.length, 1, 'connecting: the request rides in the first write');
		link.set('waiting');
		assert.deepEqual(await p, err({ code: 'offline' }));
		assert.deepEqual(link.withdrawn, [1]);
		assert.deepEqual(await requests.send('x/get', {}, 'get'), err({ code: 'offline' }));
		assert.equal(link.sent.length, 1);
	});

	it("returns the link's refusal as a value", async () => {
		const { link, requests } = setup();
		link.refuse = { code: 'invalid', message: 'too large' };
		assert.deepEqual(await requests.send('x/get', {}, 'get'), err({ code: 'link', error: { code: 'invalid', message: 'too large' } }));
		assert.equal(requests.size, 0);
	});

	it('reads a payload as a JSON object or nothing', () => {
		assert.deepEqual(jsonObject(utf8Encode('{"a":1}')), { a: 1 });
		for (const bad of ['[1]', 'null', '3', 'nope', '']) assert.equal(jsonObject(utf8Encode(bad)), undefined, bad);
		assert.equal(jsonObject(new Uint8Array([0xff, 0xfe])), undefined);
	});

	it('checks its timeout', () => {
		const time = fakeTime();
		assert.throws(() => new Requests(fakeMessenger(), { timers: time.timers, random: fixedRandom(0), log: memoryLog() }, { name: 'x', timeoutMs: 0 }), /"timeoutMs"/);
	});
});
