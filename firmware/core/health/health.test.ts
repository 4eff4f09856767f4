/* Health reporting: the policy as a table, and the reporter's bounds on a fake clock. */
import * as assert from '../testing/assert';
import { fakeTime, memoryLog } from '../testing/fakes';
import type { LinkListener } from '../link/link';
import type { LinkState } from '../link/machine';
import { DEFAULT_HEALTH, changes, checkHealthPolicy, decide, type HealthReport } from './policy';
import { HealthReporter } from './reporter';

const P = DEFAULT_HEALTH;
const base: HealthReport = {
	firmware: '1.0.0',
	uptimeS: 100,
	rebootReason: 'power-on',
	reconnects: 1,
	lastLinkError: null,
	rssi: -60,
	freeHeap: 100_000,
	largestFreeBlock: 40_000,
	storageUsed: 10_000,
	storageTotal: 24_576,
};

describe('health policy', () => {
	/** [what changed, next report, fields that count] */
	const ROWS: readonly (readonly [string, HealthReport, readonly string[]])[] = [
		['uptime alone', { ...base, uptimeS: 99_999 }, []],
		['firmware', { ...base, firmware: '1.1.0' }, ['firmware']],
		['reboot reason', { ...base, rebootReason: 'watchdog' }, ['rebootReason']],
		['a link error', { ...base, lastLinkError: 'closed by peer' }, ['lastLinkError']],
		['a reconnect', { ...base, reconnects: 2 }, ['reconnects']],
		['heap by 20% exactly: not beyond', { ...base, freeHeap: 80_000 }, []],
		['heap by 21%', { ...base, freeHeap: 79_000 }, ['freeHeap']],
		['largest block halved', { ...base, largestFreeBlock: 20_000 }, ['largestFreeBlock']],
		['storage grew by a third', { ...base, storageUsed: 13_400 }, ['storageUsed']],
		['rssi by 9 dB', { ...base, rssi: -69 }, []],
		['rssi by 10 dB', { ...base, rssi: -70 }, ['rssi']],
		['rssi gone', { ...base, rssi: undefined }, ['rssi']],
		['heap figure gone', { ...base, freeHeap: undefined }, ['freeHeap']],
	];
	for (const [what, next, want] of ROWS) it(what + ' -> ' + (want.join(',') || 'nothing'), () => assert.deepEqual(changes(base, next, P), want));

	it('the first report goes at once; later ones only after minIntervalMs and only on a change', () => {
		assert.deepEqual(decide(undefined, base, 0, P), { report: true, why: ['first'] });
		const last = { report: base, at: 1000 };
		const changed = { ...base, rebootReason: 'panic' };
		assert.deepEqual(decide(last, changed, 1000 + P.minIntervalMs - 1, P), { report: false });
		assert.deepEqual(decide(last, changed, 1000 + P.minIntervalMs, P), { report: true, why: ['rebootReason'] });
		assert.deepEqual(decide(last, { ...base, uptimeS: 5000 }, 1000 + 10 * P.minIntervalMs, P), { report: false });
	});

	it('refuses a policy it cannot use, naming the field', () => {
		assert.throws(() => checkHealthPolicy({ ...P, checkMs: 0 }), /"checkMs"/);
		assert.throws(() => checkHealthPolicy({ ...P, fraction: 0 }), /"fraction"/);
		assert.throws(() => checkHealthPolicy({ ...P, minIntervalMs: -1 }), /"minIntervalMs"/);
	});
});

describe('health reporter', () => {
	function setup(accept = true) {
		const time = fakeTime();
		const log = memoryLog();
		const listeners: LinkListener[] = [];
		let state: LinkState = { value: 'offline' };
		const link = {
			listen: (l: LinkListener) => (listeners.push(l), () => {}),
			get state() {
				return state;
			},
		};
		const updates: unknown[] = [];
		let ok = accept;
		const shadow = {
			update: (s: { reported?: unknown }) => {
				updates.push(s.reported);
				return Promise.resolve(ok ? { ok: true as const, value: { state: {}, version: updates.length, timestamp: 0 } } : { ok: false as const, error: { code: 'timeout' as const } });
			},
		};
		let current: HealthReport = base;
		const reporter = new HealthReporter(link, shadow, { clock: time.clock, timers: time.timers, log }, () => current, { ...P, minIntervalMs: 30 * 60_000, checkMs: 60_000 });
		const connect = (up: boolean) => {
			state = up ? { value: 'connected', sessionPresent: true, attempt: 0, flaps: 0, since: 0 } : { value: 'waiting', attempt: 1, flaps: 0, reason: 'x' };
			for (const l of listeners) l.state?.(state);
		};
		const settle = async () => {
			for (let i = 0; i < 5; i++) await Promise.resolve();
		};
		return { time, log, reporter, updates, connect, settle, set: (r: HealthReport) => (current = r), accept: (v: boolean) => (ok = v) };
	}

	it('reports once when the link comes up, then stays quiet while nothing changes, over a day', async () => {
		const t = setup();
		t.reporter.start();
		t.connect(true);
		await t.settle();
		assert.equal(t.updates.length, 1);
		assert.deepEqual(t.updates[0], {
			health: {
				firmware: '1.0.0',
				uptimeS: 100,
				rebootReason: 'power-on',
				reconnects: 1,
				lastLinkError: null,
				rssi: -60,
				freeHeap: 100_000,
				largestFreeBlock: 40_000,
				storageUsed: 10_000,
				storageTotal: 24_576,
			},
		});
		for (let m = 0; m < 24 * 60; m++) {
			t.set({ ...base, uptimeS: 100 + m * 60 });
			t.time.advance(60_000);
			await t.settle();
		}
		assert.equal(t.updates.length, 1);
	});

	it('a change reports at most once per minIntervalMs, however often it changes', async () => {
		const t = setup();
		t.reporter.start();
		t.connect(true);
		await t.settle();
		for (let m = 1; m <= 120; m++) {
			// a flapping link: a reconnect every minute
			t.set({ ...base, reconnects: 1 + m });
			t.time.advance(60_000);
			await t.settle();
		}
		// the first at once, then one per 30 minutes over two hours
		assert.equal(t.updates.length, 1 + 4);
		assert.equal(t.reporter.sent, 5);
	});

	it('nothing while offline; a report the cloud did not accept is tried again at the next check', async () => {
		const t = setup(false);
		t.reporter.start();
		t.time.advance(5 * 60_000);
		await t.settle();
		assert.equal(t.updates.length, 0);
		t.connect(true);
		await t.settle();
		assert.equal(t.updates.length, 1);
		assert.ok(t.log.events().includes('health.report_failed'));
		t.accept(true);
		t.time.advance(60_000);
		await t.settle();
		assert.equal(t.updates.length, 2);
		assert.equal(t.reporter.sent, 1);
		t.reporter.stop();
		t.set({ ...base, firmware: '2.0.0' });
		t.time.advance(24 * 3_600_000);
		await t.settle();
		assert.equal(t.updates.length, 2, 'stopped');
	});
});
