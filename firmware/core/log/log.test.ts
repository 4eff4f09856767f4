import * as assert from '../testing/assert';
import { fakeTime, memoryLog, text } from '../testing/fakes';
import type { LinkError, Message } from '../link/link';
import { err, ok, type Result } from '../util/result';
import { utf8Decode, utf8Length } from '../util/utf8';
import { LogRing, ringLog } from './ring';
import { LogShipper, logBatches, logsRequestTopic, logsTopic, parseLogsRequest } from './ship';

const parse = (line: string) => JSON.parse(line) as Record<string, unknown>;

describe('log ring', () => {
	it('keeps lines as JSON with their number, wall and monotonic time, level, event and fields', () => {
		const time = fakeTime(5000);
		let wall: number | undefined;
		const ring = new LogRing({ now: () => wall, monotonic: () => time.now() });
		const inner = memoryLog();
		const log = ringLog(inner, ring);
		log.log('warn', 'link.refused', { host: 'a.example', port: 8883, tls: true, skip: undefined });
		wall = 1_800_000_000_000;
		log.log('info', 'link.online');
		assert.deepEqual(inner.events(), ['link.refused', 'link.online'], 'the inner port still gets every line');
		const s = ring.read(0, 4096);
		assert.deepEqual(s.lines.map(parse), [
			{ n: 1, t: null, m: 5000, l: 'warn', e: 'link.refused', host: 'a.example', port: 8883, tls: true },
			{ n: 2, t: 1_800_000_000_000, m: 5000, l: 'info', e: 'link.online' },
		]);
		assert.deepEqual([s.last, s.more, s.lost], [2, false, 0]);
	});

	it('is bounded in bytes: the oldest lines go, and a reader is told how many it missed', () => {
		const time = fakeTime();
		const ring = new LogRing(time.clock, { bytes: 1024 });
		for (let i = 0; i < 200; i++) ring.record('info', 'tick', { i });
		assert.ok(ring.used <= 1024, 'used ' + ring.used);
		assert.equal(ring.last, 200);
		const s = ring.read(0, 100_000);
		assert.equal(s.lines.length + s.lost, 200);
		assert.equal(parse(s.lines[0]!).n, s.lost + 1);
		assert.equal(parse(s.lines[s.lines.length - 1]!).i, 199);
	});

	it('skips lines below its level; cuts a line over maxLine to its head', () => {
		const time = fakeTime();
		const ring = new LogRing(time.clock, { bytes: 2048, maxLine: 128, level: 'info' });
		ring.record('debug', 'chatty');
		ring.record('error', 'huge', { detail: 'x'.repeat(1000) });
		ring.record('error', 'e'.repeat(200));
		const lines = ring.read(0, 4096).lines.map(parse);
		assert.deepEqual(
			lines.map((l) => [l.n, l.e, l.cut]),
			[
				[1, 'huge', true],
				[2, undefined, true],
			],
		);
	});

	it('reads in slices that fit a byte budget, each picking up after the last', () => {
		const time = fakeTime();
		const ring = new LogRing(time.clock, { bytes: 8192 });
		for (let i = 0; i < 40; i++) ring.record('info', 'e', { i });
		const seen: number[] = [];
		let since = 0;
		for (let guard = 0; guard < 40; guard++) {
			const s = ring.read(since, 300);
			assert.ok(s.lines.join(',').length <= 300);
			for (const l of s.lines) seen.push(parse(l).i as number);
			since = s.last;
			if (!s.more) break;
		}
		assert.deepEqual(
			seen,
			Array.from({ length: 40 }, (_, i) => i),
		);
		assert.deepEqual(ring.read(40, 300), { lines: [], last: 40, more: false, lost: 0 });
		assert.deepEqual(ring.read(99, 300), { lines: [], last: 99, more: false, lost: 0 });
	});

	it('refuses bounds and arguments it cannot work with', () => {
		const time = fakeTime();
		assert.throws(() => new LogRing(time.clock, { bytes: 100 }), /"bytes"/);
		assert.throws(() => new LogRing(time.clock, { bytes: 1024, maxLine: 2048 }), /"maxLine"/);
		assert.throws(() => new LogRing(time.clock, { level: 'loud' as 'info' }), /"level"/);
		assert.throws(() => new LogRing(time.clock).read(-1, 10), /"since"/);
	});
});

describe('log shipping over MQTT', () => {
	function setup(options: { online?: boolean; ringBytes?: number } = {}) {
		const time = fakeTime();
		const ring = new LogRing(time.clock, { bytes: options.ringBytes ?? 8192 });
		const log = memoryLog();
		const published: { topic: string; payload: string; qos: number }[] = [];
		const handlers = new Map<string, (m: Message) => void>();
		let online = options.online ?? true;
		const link = {
			subscribe(filter: string, handler: (m: Message) => void, qos?: 0 | 1): Result<void, LinkError> {
				assert.equal(qos, 0, 'the request is subscribed at QoS 0');
				handlers.set(filter, handler);
				return ok(undefined);
			},
			publish(topic: string, payload: Uint8Array, qos: 0 | 1): Result<number, LinkError> {
				if (!online) return err({ code: 'offline' });
				published.push({ topic, payload: utf8Decode(payload)!, qos });
				return ok(0);
			},
		};
		const shipper = new LogShipper('robot-1', link, ring, { clock: time.clock, log: ringLog(log, ring) });
		const request = (body: string) => handlers.get(logsRequestTopic('robot-1'))!({ topic: logsRequestTopic('robot-1'), payload: text(body), qos: 0, dup: false, retain: false });
		return { time, ring, log, published, request, shipper, setOnline: (o: boolean) => (online = o) };
	}

	it('answers a request with every line since, in batches of at most 4,000 bytes at QoS 0 on robots/<thing>/logs', () => {
		const t = setup();
		for (let i = 0; i < 60; i++) t.ring.record('warn', 'link.connect_failed', { attempt: i, reason: 'TLS alert 48 unknown ca' });
		t.request('{"id":"op-1"}');
		assert.ok(t.published.length >= 2, 'several batches: ' + t.published.length);
		const lines: Record<string, unknown>[] = [];
		t.published.forEach((p, i) => {
			assert.equal(p.topic, logsTopic('robot-1'));
			assert.equal(p.qos, 0);
			assert.ok(utf8Length(p.payload) <= 4000, 'batch ' + (i + 1) + ' is ' + utf8Length(p.payload) + ' bytes');
			const b = JSON.parse(p.payload) as { id: string; batch: number; more: boolean; lines: Record<string, unknown>[] };
			assert.equal(b.id, 'op-1');
			assert.equal(b.batch, i + 1);
			assert.equal(b.more, i < t.published.length - 1);
			lines.push(...b.lines);
		});
		assert.deepEqual(
			lines.slice(0, 60).map((l) => l.attempt),
			Array.from({ length: 60 }, (_, i) => i),
		);
		assert.ok(t.published.length <= Math.ceil(t.ring.used / 3800) + 1, 'bounded by the ring: ' + t.published.length);
		assert.ok(t.log.events().includes('logs.shipped'));
	});

	it('`since` ships only newer lines; lines pushed out of the ring are counted as lost', () => {
		const t = setup({ ringBytes: 1024 });
		for (let i = 0; i < 100; i++) t.ring.record('info', 'e', { i });
		t.request('{"id":"a","since":95}');
		const b = JSON.parse(t.published[0]!.payload) as { lines: { n: number }[]; lost: number; last: number };
		assert.deepEqual(
			b.lines.map((l) => l.n),
			[96, 97, 98, 99, 100],
		);
		assert.equal(b.lost, 0);
		t.request('{"id":"b","since":0}');
		const c = JSON.parse(t.published[1]!.payload) as { lines: { n: number }[]; lost: number };
		assert.ok(c.lost > 0);
		assert.equal(c.lines[0]!.n, c.lost + 1);
	});

	it('a malformed request is logged and not answered', () => {
		const t = setup();
		for (const bad of ['nope', '[]', '{}', '{"id":"has space"}', '{"id":"x","since":-1}', '{"id":"x","since":1.5}', '{"id":"x","extra":1}', '{"id":"' + 'x'.repeat(65) + '"}']) t.request(bad);
		assert.deepEqual(t.published, []);
		assert.equal(t.log.lines.filter((l) => l.event === 'logs.request_invalid').length, 8);
	});

	it('at most 3 requests at once, then one a minute: a flood is not answered', () => {
		const t = setup();
		t.ring.record('info', 'e');
		for (let i = 0; i < 10; i++) t.request('{"id":"r' + i + '"}');
		assert.equal(t.published.length, 3);
		assert.equal(t.log.lines.filter((l) => l.event === 'logs.request_refused').length, 7);
		t.time.advance(60_000);
		t.request('{"id":"later"}');
		assert.equal(t.published.length, 4);
	});

	it('offline (the reply cannot go): logged, the lines stay for the next request', () => {
		const t = setup({ online: false });
		t.ring.record('info', 'e');
		t.request('{"id":"x"}');
		assert.ok(t.log.events().includes('logs.ship_failed'));
		t.setOnline(true);
		t.request('{"id":"y"}');
		assert.equal(t.published.length, 1);
	});

	it('parses requests exactly; batches of an empty ring are one empty batch', () => {
		assert.deepEqual(parseLogsRequest(text('{"id":"A-1_z","since":3}')), { id: 'A-1_z', since: 3 });
		const time = fakeTime();
		assert.deepEqual(logBatches(new LogRing(time.clock), { id: 'x', since: 0 }, 4000), ['{"id":"x","batch":1,"more":false,"lost":0,"last":0,"lines":[]}']);
	});
});
