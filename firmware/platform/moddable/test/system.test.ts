/*
 * Clock, timers and log on Moddable (../system.ts) inside XS over the fake `time` and
 * `timer` (fakes/time.ts, fakes/timer.ts): the monotonic clock across ESP32's signed 32-bit
 * tick counter, the wall clock unknown before it was set, timers on the main loop, one JSON
 * line per log call through trace().
 */
import * as assert from '../../../core/testing/assert';
import { moddableClock, moddableTimers, setWallClock, traceLog } from '../system';
import { loop } from './fakes/loop';
import { timeFake } from './fakes/time';

describe('moddable system adapters over time, timer and trace', () => {
	beforeEach(() => {
		loop.reset();
		timeFake.reset();
	});

	it('the monotonic clock goes forward through the ESP32 tick counter going negative (2^31 ms) and wrapping (2^32 ms)', () => {
		// one module-level clock: read it once to take its origin, then read deltas
		const start = moddableClock.monotonic();
		timeFake.setTicks(2 ** 31 - 500, 'esp32');
		// the first reading after the switch is a jump of the fake's origin: take a new base
		const base = moddableClock.monotonic();
		const seen: number[] = [];
		for (let i = 0; i < 6; i++) {
			loop.advance(300); // crosses 2^31: Time.ticks turns negative
			seen.push(moddableClock.monotonic() - base);
		}
		assert.deepEqual(seen, [300, 600, 900, 1200, 1500, 1800]);
		timeFake.setTicks(2 ** 32 - 100 - loop.now, 'esp32');
		const base2 = moddableClock.monotonic();
		loop.advance(250); // crosses 2^32: back through 0
		assert.equal(moddableClock.monotonic() - base2, 250);
		assert.ok(base >= start);
	});

	it('the wall clock is unknown before 2024 (no RTC, no SNTP yet) and known after', () => {
		const realNow = Date.now;
		try {
			Date.now = () => 5_000; // an ESP32 after power loss counts from 1970
			assert.equal(moddableClock.now(), undefined);
			Date.now = () => Date.UTC(2026, 11, 6);
			assert.equal(moddableClock.now(), Date.UTC(2026, 11, 6));
		} finally {
			Date.now = realNow;
		}
	});

	it('setWallClock: where Time.set takes (ESP32) the clock reads the platform; where it does not (lin) the clock keeps the difference', () => {
		const realNow = Date.now;
		const sntp = Date.UTC(2030, 0, 2, 3, 4, 5) / 1000;
		try {
			let platform = Date.UTC(2026, 11, 6);
			Date.now = () => platform;
			// lin: Time.set changes nothing, so the reading is the platform's plus the difference
			setWallClock(sntp);
			assert.deepEqual(timeFake.sets, [sntp]);
			assert.equal(moddableClock.now(), sntp * 1000);
			platform += 2_500;
			assert.equal(moddableClock.now(), sntp * 1000 + 2_500);
			// ESP32: Time.set took (the platform now reads the set time), no difference is kept
			platform = sntp * 1000 + 10;
			setWallClock(sntp);
			assert.equal(moddableClock.now(), sntp * 1000 + 10);
			assert.throws(() => setWallClock(Number.NaN), /"seconds" expected/);
			assert.equal(moddableClock.now(), sntp * 1000 + 10);
		} finally {
			Date.now = realNow;
			setWallClock(realNow() / 1000);
		}
	});

	it('timers run from the loop after their delay, never inside set, and a cleared one never runs', () => {
		const ran: string[] = [];
		const a = moddableTimers.set(() => ran.push('a'), 100);
		moddableTimers.set(() => ran.push('b'), 0);
		const c = moddableTimers.set(() => ran.push('c'), 50);
		assert.deepEqual(ran, []);
		moddableTimers.clear(c);
		loop.advance(99);
		assert.deepEqual(ran, ['b']);
		loop.advance(1);
		assert.deepEqual(ran, ['b', 'a']);
		moddableTimers.clear(a); // already fired: allowed (modTimer.c)
		assert.equal(loop.timers, 0);
	});

	it('logs one JSON line per call through trace(), with Time.ticks, at or above its level', () => {
		const g = globalThis as unknown as { trace: (s: string) => void };
		const realTrace = g.trace;
		const lines: string[] = [];
		try {
			g.trace = (s: string) => lines.push(s);
			timeFake.setTicks(1234, 'lin');
			const log = traceLog('info');
			log.log('debug', 'not.shown', {});
			log.log('info', 'link.connected', { host: 'h', port: 8883 });
			log.log('error', 'x.failed', { message: 'a "quoted"\nline' });
		} finally {
			g.trace = realTrace;
		}
		assert.equal(lines.length, 2);
		assert.ok(
			lines.every((l) => l.endsWith('\n') && l.indexOf('\n') === l.length - 1),
			'one line each',
		);
		assert.deepEqual(JSON.parse(lines[0]!), { t: 1234, level: 'info', event: 'link.connected', host: 'h', port: 8883 });
		assert.equal(JSON.parse(lines[1]!).message, 'a "quoted"\nline');
	});
});
