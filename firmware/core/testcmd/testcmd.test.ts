/* The test-control channel: framing, requests, the interpreter (runs on Node and in XS). */
import * as assert from '../testing/assert';
import type { ClockPort, LogPort } from '../../ports';
import { LineReader, MAX_LINE_BYTES, type LineEvent } from './lines';
import { MAX_CLOCK_JUMP_MS, parseReply, parseRequest } from './protocol';
import { createTestControl, jumpableClock, jumpingTogether, robotTarget, type TestTarget } from './control';
import { LogRing } from '../log/ring';
import { createTestSession } from './channel';
import { MAX_QUEUED_BYTES, Output } from './output';

const enc = (s: string) => new TextEncoder().encode(s);
const silent: LogPort = { log() {} };

describe('testcmd: line framing', () => {
	it('joins pieces, splits lines, takes \\r\\n and \\n', () => {
		const r = new LineReader(64);
		const got: LineEvent[] = [];
		for (const piece of ['{"cmd":', '"status"}\r', '\n{"cmd":"online"}\n{"cm']) got.push(...r.push(enc(piece)));
		assert.deepEqual(got, [
			{ kind: 'line', text: '{"cmd":"status"}' },
			{ kind: 'line', text: '{"cmd":"online"}' },
		]);
		assert.deepEqual(r.push(enc('d":"mission"}\n')), [{ kind: 'line', text: '{"cmd":"mission"}' }]);
	});

	it('every split of the same bytes gives the same lines', () => {
		const bytes = enc('a\nbc\r\n\nday ü\n');
		const whole = new LineReader(16).push(bytes);
		for (let cut = 0; cut <= bytes.length; cut++) {
			const r = new LineReader(16);
			assert.deepEqual([...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))], whole);
		}
		assert.equal(whole.length, 4);
	});

	it('reports an overlong line once, skips it, and reads the next', () => {
		const r = new LineReader(8);
		assert.deepEqual(r.push(enc('0123456789abc')), []);
		assert.deepEqual(r.push(enc('def\nok\n')), [
			{ kind: 'overlong', bytes: 16 },
			{ kind: 'line', text: 'ok' },
		]);
		assert.deepEqual(r.push(enc('12345678\n')), [{ kind: 'line', text: '12345678' }]);
	});

	it('refuses ill-formed UTF-8 as one event', () => {
		assert.deepEqual(new LineReader().push(new Uint8Array([0xc0, 0x80, 0x0a])), [{ kind: 'bad-utf8' }]);
	});

	it('checks its bound', () => {
		assert.throws(() => new LineReader(0), /maxBytes/);
	});
});

describe('testcmd: requests', () => {
	const rows: [string, string | object][] = [
		['{"id":1,"cmd":"status"}', { id: 1, command: { cmd: 'status' } }],
		['{"cmd":"offline"}', { id: null, command: { cmd: 'offline' } }],
		['{"id":3,"cmd":"clock-jump","ms":-3600000}', { id: 3, command: { cmd: 'clock-jump', ms: -3600000 } }],
		['status', 'not JSON'],
		['[1]', 'expected a JSON object'],
		['{"id":-1,"cmd":"status"}', '"id" expected'],
		['{"id":1,"cmd":"reboot"}', '"cmd" expected one of'],
		['{"id":1}', '"cmd" expected one of'],
		['{"id":1,"cmd":"online","ms":5}', 'unknown field "ms"'],
		['{"id":1,"cmd":"clock-jump"}', '"ms" expected'],
		['{"id":1,"cmd":"clock-jump","ms":0}', '"ms" expected'],
		['{"id":1,"cmd":"clock-jump","ms":1.5}', '"ms" expected'],
		[`{"id":1,"cmd":"clock-jump","ms":${MAX_CLOCK_JUMP_MS + 1}}`, '"ms" expected'],
		['{"id":4,"cmd":"endpoint","endpoint":"127.0.0.1:8883","server":"localhost"}', { id: 4, command: { cmd: 'endpoint', endpoint: '127.0.0.1:8883', server: 'localhost' } }],
		['{"id":5,"cmd":"endpoint","endpoint":"a.iot.eu-west-1.amazonaws.com"}', { id: 5, command: { cmd: 'endpoint', endpoint: 'a.iot.eu-west-1.amazonaws.com' } }],
		['{"id":1,"cmd":"endpoint"}', '"endpoint" expected'],
		['{"id":1,"cmd":"endpoint","endpoint":"h","server":7}', '"server" expected'],
		['{"id":1,"cmd":"endpoint","endpoint":"h","ms":7}', 'unknown field "ms"'],
		['{"id":6,"cmd":"self-test"}', { id: 6, command: { cmd: 'self-test' } }],
		['{"id":7,"cmd":"logs"}', { id: 7, command: { cmd: 'logs', since: 0 } }],
		['{"id":8,"cmd":"logs","since":42}', { id: 8, command: { cmd: 'logs', since: 42 } }],
		['{"id":1,"cmd":"logs","since":-1}', '"since" expected'],
		['{"id":1,"cmd":"logs","since":"5"}', '"since" expected'],
		['{"id":1,"cmd":"logs","ms":5}', 'unknown field "ms"'],
	];
	for (const [line, want] of rows)
		it(line, () => {
			const r = parseRequest(line);
			if (typeof want === 'string') {
				assert.ok(!r.ok && r.error.reason.includes(want), JSON.stringify(r));
			} else {
				assert.ok(r.ok);
				assert.deepEqual(r.value, want);
			}
		});
});

describe('testcmd: interpreter', () => {
	function fake(): TestTarget & { calls: string[] } {
		const calls: string[] = [];
		let running = false;
		return {
			calls,
			offline: () => void calls.push('offline'),
			online: () => void calls.push('online'),
			mission() {
				calls.push('mission');
				if (running) return undefined;
				running = true;
				return 'm-1';
			},
			clockJump: (ms) => void calls.push('jump ' + ms),
			status: () => ({ link: 'connected' }),
		};
	}

	it('runs commands and answers each with its id', () => {
		const t = fake();
		const c = createTestControl(() => t, silent);
		assert.deepEqual(parseReply(c.handle('{"id":1,"cmd":"offline"}')), { reply: 1, ok: true });
		assert.deepEqual(parseReply(c.handle('{"id":2,"cmd":"mission"}')), { reply: 2, ok: true, mission: 'm-1' });
		assert.deepEqual(parseReply(c.handle('{"id":3,"cmd":"mission"}')), { reply: 3, ok: true, busy: true });
		assert.deepEqual(parseReply(c.handle('{"id":4,"cmd":"clock-jump","ms":60000}')), { reply: 4, ok: true });
		assert.deepEqual(parseReply(c.handle('{"id":5,"cmd":"status"}')), { reply: 5, ok: true, status: { link: 'connected' } });
		assert.deepEqual(t.calls, ['offline', 'mission', 'mission', 'jump 60000']);
	});

	it('refuses bad input without touching the robot, and says why', () => {
		const t = fake();
		const c = createTestControl(() => t, silent);
		const r = parseReply(c.handle('{"id":9,"cmd":"clock-jump","ms":"soon"}'));
		assert.ok(r && !r.ok && r.reply === 9 && r.error.code === 'bad' && r.error.reason.includes('"ms"'));
		assert.deepEqual(t.calls, []);
	});

	it('answers not-ready before boot and failed when the target throws', () => {
		assert.equal(JSON.parse(createTestControl(() => undefined, silent).handle('{"id":1,"cmd":"status"}')).error.code, 'not-ready');
		const broken: TestTarget = {
			...fake(),
			status: () => {
				throw new Error('boom');
			},
		};
		const r = JSON.parse(createTestControl(() => broken, silent).handle('{"id":2,"cmd":"status"}'));
		assert.equal(r.error.code, 'failed');
		assert.ok(String(r.error.reason).includes('boom'));
	});

	it('endpoint and self-test reach a target that has them, and fail on one that does not', () => {
		const seen: string[] = [];
		const t: TestTarget = { ...fake(), endpoint: (e, server) => void seen.push(e + ' ' + String(server)), selfTest: () => ({ passed: 3, failed: [] }) };
		const c = createTestControl(() => t, silent);
		assert.deepEqual(parseReply(c.handle('{"id":1,"cmd":"endpoint","endpoint":"h:1","server":"n"}')), { reply: 1, ok: true });
		assert.deepEqual(parseReply(c.handle('{"id":2,"cmd":"self-test"}')), { reply: 2, ok: true, selfTest: { passed: 3, failed: [] } });
		assert.deepEqual(seen, ['h:1 n']);
		const r = JSON.parse(createTestControl(() => fake(), silent).handle('{"id":3,"cmd":"self-test"}'));
		assert.equal(r.error.code, 'failed');
	});

	it('logs: the robot target answers with its ring in slices that fit the output queue; a target without one fails', () => {
		const time = { now: () => 1_800_000_000_000, monotonic: () => 5 };
		const ring = new LogRing(time, { bytes: 8192 });
		for (let i = 0; i < 40; i++) ring.record('warn', 'link.lost', { i, reason: 'x'.repeat(80) });
		const robotLike = { logs: ring } as unknown as Parameters<typeof robotTarget>[0];
		const t = robotTarget(robotLike, { startMission: () => undefined, clock: jumpableClock(time) });
		const c = createTestControl(() => t, silent);
		const seen: number[] = [];
		let since = 0;
		for (let n = 0; n < 40; n++) {
			const line = c.handle(JSON.stringify({ id: n, cmd: 'logs', since }));
			assert.ok(line.length + 1 <= MAX_LINE_BYTES, 'reply of ' + line.length + ' bytes: one line of the channel');
			const r = parseReply(line) as unknown as { ok: true; logs: { lines: { i: number }[]; last: number; more: boolean; lost: number } };
			seen.push(...r.logs.lines.map((l) => l.i));
			since = r.logs.last;
			if (!r.logs.more) break;
		}
		assert.deepEqual(
			seen,
			Array.from({ length: 40 }, (_, i) => i),
		);
		const none = JSON.parse(createTestControl(() => fake(), silent).handle('{"id":1,"cmd":"logs"}'));
		assert.equal(none.error.code, 'failed');
	});

	it('tells replies from log lines', () => {
		assert.equal(parseReply('{"level":"info","event":"link.connected"}'), undefined);
		assert.equal(parseReply('{"reply":1,"ok":tru'), undefined);
	});
});

describe('testcmd: jumpable clock', () => {
	it('moves the wall clock, never the monotonic one; unknown stays unknown', () => {
		let wall: number | undefined = 1_000_000;
		const base: ClockPort = { now: () => wall, monotonic: () => 42 };
		const j = jumpableClock(base);
		j.jump(-5000);
		j.jump(2000);
		assert.equal(j.clock.now(), 997_000);
		assert.equal(j.clock.monotonic(), 42);
		assert.equal(j.offsetMs, -3000);
		wall = undefined;
		assert.equal(j.clock.now(), undefined);
		assert.throws(() => j.jump(Number.NaN), /ms/);
	});

	it('clocks jumping together: one jump moves each by the same amount; the first one is read', () => {
		const link = jumpableClock({ now: () => 1_000_000, monotonic: () => 1 });
		const missions = jumpableClock({ now: () => 5_000_000, monotonic: () => 2 });
		const both = jumpingTogether(link, missions);
		both.jump(-3_600_000);
		assert.equal(both.clock.now(), 1_000_000 - 3_600_000);
		assert.equal(missions.clock.now(), 5_000_000 - 3_600_000);
		assert.equal(both.offsetMs, -3_600_000);
		assert.throws(() => both.jump(Number.POSITIVE_INFINITY), /ms/);
	});
});

describe('testcmd: a session over a byte stream', () => {
	const control = createTestControl(() => ({ offline() {}, online() {}, mission: () => 'm-1', clockJump() {}, status: () => ({ link: 'connected' }) }), silent);

	it('answers each request line once, whatever the pieces; skips blank lines', () => {
		const s = createTestSession(control, 64);
		assert.deepEqual(s.push(enc('{"id":1,"cmd":"sta')), []);
		const got = s.push(enc('tus"}\r\n\n  \n{"id":2,"cmd":"mission"}\n'));
		assert.deepEqual(
			got.map((l) => parseReply(l)),
			[
				{ reply: 1, ok: true, status: { link: 'connected' } },
				{ reply: 2, ok: true, mission: 'm-1' },
			],
		);
	});

	it('refuses framing errors with no id, then reads on', () => {
		const s = createTestSession(control, 16);
		const got = s.push(new Uint8Array([...enc('x'.repeat(40) + '\n'), 0xc0, 0x80, 0x0a, ...enc('nope\n')]));
		assert.deepEqual(
			got.map((l) => JSON.parse(l).error.reason as string),
			['line over 16 bytes', 'not UTF-8', 'not JSON'],
		);
		assert.deepEqual(
			got.map((l) => JSON.parse(l).reply as unknown),
			[null, null, null],
		);
	});
});

describe('testcmd: output to a stream that takes what it reported', () => {
	function stream() {
		const written: number[][] = [];
		const warnings: string[] = [];
		const out = new Output((b) => void written.push([...new Uint8Array(b)]), { log: (_l, e) => void warnings.push(e) });
		return { written, warnings, out };
	}

	it('holds lines until room is reported, then writes at most that much each time', () => {
		const { written, out } = stream();
		out.send('abcdef');
		assert.deepEqual(written, []);
		out.writable(4);
		out.send('gh');
		assert.deepEqual(
			written.map((w) => String.fromCharCode(...w)),
			['abcd'],
		);
		out.writable(100);
		assert.deepEqual(
			written.map((w) => String.fromCharCode(...w)),
			['abcd', 'ef\n', 'gh\n'],
		);
		// each write is its own ArrayBuffer of exactly the bytes written (the ESP32 serial takes its whole length)
		assert.equal(written[1]!.length, 3);
	});

	it('drops a reply past its bound and says so', () => {
		const { warnings, out, written } = stream();
		out.send('x'.repeat(MAX_QUEUED_BYTES - 1));
		out.send('y');
		assert.deepEqual(warnings, ['testcmd.reply_dropped']);
		out.writable(MAX_QUEUED_BYTES * 2);
		assert.equal(
			written.reduce((n, w) => n + w.length, 0),
			MAX_QUEUED_BYTES,
		);
	});
});
