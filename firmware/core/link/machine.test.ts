/* The supervisor machine as a table: [state, event] -> [state, effects], or undefined. */
import * as assert from '../testing/assert';
import { DEFAULT_TIMING, OFFLINE, checkTiming, step, type LinkEffect, type LinkEvent, type LinkState } from './machine';

const MIN = DEFAULT_TIMING.minConnectedMs;
const offline: LinkState = OFFLINE;
const connecting0: LinkState = { value: 'connecting', attempt: 0, flaps: 0 };
const connecting3: LinkState = { value: 'connecting', attempt: 3, flaps: 1 };
/** Connected at t=1000 after 2 failures, one of them a short connection. */
const connected: LinkState = { value: 'connected', sessionPresent: true, attempt: 2, flaps: 1, since: 1000 };
/** One short connection short of the warning. */
const connectedFlapping: LinkState = { value: 'connected', sessionPresent: true, attempt: 4, flaps: DEFAULT_TIMING.flapsToWarn - 1, since: 1000 };
const connectedWarned: LinkState = { value: 'connected', sessionPresent: true, attempt: 5, flaps: DEFAULT_TIMING.flapsToWarn, since: 1000 };
const waiting2: LinkState = { value: 'waiting', attempt: 2, flaps: 1, reason: 'closed by peer' };

const start: LinkEvent = { type: 'start' };
const stop: LinkEvent = { type: 'stop' };
const connack: LinkEvent = { type: 'connack', sessionPresent: false, at: 5 };
const connackPresent: LinkEvent = { type: 'connack', sessionPresent: true, at: 7 };
const lost: LinkEvent = { type: 'lost', reason: 'x', at: 1000 + MIN };
const lostSoon: LinkEvent = { type: 'lost', reason: 'x', at: 1000 + MIN - 1 };
const retry: LinkEvent = { type: 'retry' };

type Row = readonly [LinkState, LinkEvent, LinkState, readonly LinkEffect[]] | readonly [LinkState, LinkEvent, undefined];

const ROWS: readonly Row[] = [
	// offline: only start applies
	[offline, start, connecting0, [{ type: 'open' }]],
	[offline, stop, undefined],
	[offline, connack, undefined],
	[offline, lost, undefined],
	[offline, retry, undefined],
	// connecting: a CONNACK keeps the counts until the connection has lasted
	[connecting0, connack, { value: 'connected', sessionPresent: false, attempt: 0, flaps: 0, since: 5 }, [{ type: 'online', sessionPresent: false }]],
	[connecting3, connackPresent, { value: 'connected', sessionPresent: true, attempt: 3, flaps: 1, since: 7 }, [{ type: 'online', sessionPresent: true }]],
	[connecting0, lost, { value: 'waiting', attempt: 1, flaps: 0, reason: 'x' }, [{ type: 'close' }, { type: 'schedule', attempt: 1 }]],
	[connecting3, lost, { value: 'waiting', attempt: 4, flaps: 1, reason: 'x' }, [{ type: 'close' }, { type: 'schedule', attempt: 4 }]],
	[connecting3, stop, offline, [{ type: 'close' }]],
	[connecting0, start, undefined],
	[connecting0, retry, undefined],
	// connected: a loss after minConnectedMs starts the backoff afresh at attempt 1
	[connected, lost, { value: 'waiting', attempt: 1, flaps: 0, reason: 'x' }, [{ type: 'close' }, { type: 'offline', reason: 'x', upMs: MIN }, { type: 'schedule', attempt: 1 }]],
	// a loss sooner is one more failure in a row: the backoff keeps growing
	[connected, lostSoon, { value: 'waiting', attempt: 3, flaps: 2, reason: 'x' }, [{ type: 'close' }, { type: 'offline', reason: 'x', upMs: MIN - 1 }, { type: 'schedule', attempt: 3 }]],
	// the flapsToWarn-th short connection in a row is told, once
	[
		connectedFlapping,
		lostSoon,
		{ value: 'waiting', attempt: 5, flaps: DEFAULT_TIMING.flapsToWarn, reason: 'x' },
		[{ type: 'close' }, { type: 'offline', reason: 'x', upMs: MIN - 1 }, { type: 'flapping', flaps: DEFAULT_TIMING.flapsToWarn, upMs: MIN - 1 }, { type: 'schedule', attempt: 5 }],
	],
	[connectedWarned, lostSoon, { value: 'waiting', attempt: 6, flaps: DEFAULT_TIMING.flapsToWarn + 1, reason: 'x' }, [{ type: 'close' }, { type: 'offline', reason: 'x', upMs: MIN - 1 }, { type: 'schedule', attempt: 6 }]],
	// a clock that went backwards counts as no time up
	[connected, { type: 'lost', reason: 'x', at: 0 }, { value: 'waiting', attempt: 3, flaps: 2, reason: 'x' }, [{ type: 'close' }, { type: 'offline', reason: 'x', upMs: 0 }, { type: 'schedule', attempt: 3 }]],
	[connected, stop, offline, [{ type: 'disconnect' }, { type: 'close' }, { type: 'offline', reason: 'stopped', upMs: 0 }]],
	[connected, start, undefined],
	[connected, connack, undefined],
	[connected, retry, undefined],
	// waiting
	[waiting2, retry, { value: 'connecting', attempt: 2, flaps: 1 }, [{ type: 'open' }]],
	[waiting2, stop, offline, [{ type: 'cancel' }]],
	[waiting2, start, undefined],
	[waiting2, connack, undefined],
	[waiting2, lost, undefined],
];

const nat = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/** What is wrong with `s` as a LinkState (its value's fields exactly, each of its type), or undefined. */
function stateProblem(s: LinkState): string | undefined {
	const keys = Object.keys(s).sort().join(',');
	switch (s.value) {
		case 'offline':
			return keys === 'value' ? undefined : 'offline with ' + keys;
		case 'connecting':
			return keys === 'attempt,flaps,value' && nat(s.attempt) && nat(s.flaps) && s.flaps <= s.attempt ? undefined : 'bad connecting ' + JSON.stringify(s);
		case 'connected':
			return keys === 'attempt,flaps,sessionPresent,since,value' && nat(s.attempt) && nat(s.flaps) && s.flaps <= s.attempt && typeof s.sessionPresent === 'boolean' && Number.isFinite(s.since)
				? undefined
				: 'bad connected ' + JSON.stringify(s);
		case 'waiting':
			return keys === 'attempt,flaps,reason,value' && nat(s.attempt) && s.attempt >= 1 && nat(s.flaps) && s.flaps <= s.attempt && typeof s.reason === 'string' && s.reason.length > 0 ? undefined : 'bad waiting ' + JSON.stringify(s);
		default:
			return 'unknown state ' + JSON.stringify(s);
	}
}

/** What is wrong with `fx` as a LinkEffect, or undefined. */
function effectProblem(fx: LinkEffect): string | undefined {
	const keys = Object.keys(fx).sort().join(',');
	const ok = ((): boolean => {
		switch (fx.type) {
			case 'open':
			case 'disconnect':
			case 'close':
			case 'cancel':
				return keys === 'type';
			case 'schedule':
				return keys === 'attempt,type' && nat(fx.attempt) && fx.attempt >= 1;
			case 'online':
				return keys === 'sessionPresent,type' && typeof fx.sessionPresent === 'boolean';
			case 'offline':
				return keys === 'reason,type,upMs' && typeof fx.reason === 'string' && fx.reason.length > 0 && nat(fx.upMs);
			case 'flapping':
				return keys === 'flaps,type,upMs' && nat(fx.flaps) && fx.flaps >= 1 && nat(fx.upMs);
			default:
				return false;
		}
	})();
	return ok ? undefined : 'bad effect ' + JSON.stringify(fx);
}

describe('link machine', () => {
	for (const row of ROWS) {
		const [from, event] = row;
		const title = JSON.stringify(from) + ' + ' + JSON.stringify(event) + ' -> ' + (row[2] ? JSON.stringify(row[2]) : 'undefined');
		it(title, () => {
			const got = step(from, event);
			if (row[2] === undefined) assert.equal(got, undefined);
			else assert.deepEqual(got, { state: row[2], effects: row[3] });
		});
	}

	it('answers every pair of state and event with undefined or a valid state and well-formed effects', () => {
		const events = [start, stop, connack, connackPresent, lost, lostSoon, retry, { type: 'lost', reason: 'x', at: 0 } as LinkEvent];
		let checked = 0;
		for (const s of [offline, connecting0, connecting3, connected, connectedFlapping, connectedWarned, waiting2])
			for (const e of events) {
				const got = step(s, e);
				const where = JSON.stringify(s) + ' + ' + JSON.stringify(e);
				if (got === undefined) continue;
				assert.equal(stateProblem(got.state), undefined, where);
				for (const fx of got.effects) assert.equal(effectProblem(fx), undefined, where + ' -> ' + JSON.stringify(fx));
				// the runner's contract: a backoff is scheduled for the attempt the state waits on,
				// `online` only when connected, `offline` only when leaving connected
				const scheduled = got.effects.filter((fx) => fx.type === 'schedule');
				if (got.state.value === 'waiting') assert.deepEqual(scheduled, [{ type: 'schedule', attempt: got.state.attempt }], where);
				else assert.deepEqual(scheduled, [], where);
				assert.equal(
					got.effects.some((fx) => fx.type === 'online'),
					got.state.value === 'connected',
					where,
				);
				assert.equal(
					got.effects.some((fx) => fx.type === 'offline'),
					s.value === 'connected',
					where,
				);
				assert.equal(
					got.effects.some((fx) => fx.type === 'open'),
					got.state.value === 'connecting',
					where,
				);
				// DISCONNECT only on a stop of a live session, and always right before the close
				const bye = got.effects.findIndex((fx) => fx.type === 'disconnect');
				assert.equal(bye >= 0, s.value === 'connected' && e.type === 'stop', where);
				if (bye >= 0) assert.equal(got.effects[bye + 1]?.type, 'close', where);
				checked++;
			}
		// offline 1 (start), each connecting 6 (stop, connack x2, lost x3), each connected 4 (stop, lost x3), waiting 2 (stop, retry)
		assert.equal(checked, 27, 'pairs that apply');
	});

	it('does not change the state it is given', () => {
		const s: LinkState = { value: 'connecting', attempt: 1, flaps: 0 };
		step(s, lost);
		assert.deepEqual(s, { value: 'connecting', attempt: 1, flaps: 0 });
		assert.ok(Object.isFrozen(OFFLINE));
	});

	it('refuses timing it cannot use, naming the field', () => {
		assert.throws(() => checkTiming({ minConnectedMs: -1, flapsToWarn: 3 }), /"minConnectedMs"/);
		assert.throws(() => checkTiming({ minConnectedMs: 0, flapsToWarn: 0 }), /"flapsToWarn"/);
	});

	/** Runs events from OFFLINE; returns the attempts scheduled and the flapping warnings. */
	function run(events: readonly LinkEvent[], minConnectedMs = MIN): { attempts: number[]; warnings: number } {
		let s: LinkState = OFFLINE;
		const attempts: number[] = [];
		let warnings = 0;
		for (const e of events) {
			const n = step(s, e, { minConnectedMs, flapsToWarn: 3 });
			assert.ok(n, 'event ' + e.type + ' does not apply in ' + s.value);
			s = n.state;
			for (const fx of n.effects) {
				if (fx.type === 'schedule') attempts.push(fx.attempt);
				if (fx.type === 'flapping') warnings++;
			}
		}
		return { attempts, warnings };
	}

	it('failures in a row count up; a connection that lasted resets the count', () => {
		const at = (t: number, type: 'connack' | 'lost'): LinkEvent => (type === 'connack' ? { type, sessionPresent: false, at: t } : { type, reason: 'x', at: t });
		const r = run([start, at(0, 'lost'), retry, at(1, 'lost'), retry, at(2, 'lost'), retry, at(10, 'connack'), at(10 + MIN, 'lost')]);
		assert.deepEqual(r.attempts, [1, 2, 3, 1]);
	});

	it('a takeover loop: every connection taken within a second keeps doubling the backoff and is told once', () => {
		const events: LinkEvent[] = [start];
		for (let i = 0; i < 8; i++) events.push({ type: 'connack', sessionPresent: true, at: i * 10_000 }, { type: 'lost', reason: 'closed by peer', at: i * 10_000 + 800 }, retry);
		const r = run(events);
		assert.deepEqual(r.attempts, [1, 2, 3, 4, 5, 6, 7, 8]);
		assert.equal(r.warnings, 1);
	});
});
