/* The supervisor machine as a table: [state, event] -> [state, effects], or undefined. */
import * as assert from '../testing/assert';
import { OFFLINE, step, type LinkEffect, type LinkEvent, type LinkState } from './machine';

const offline: LinkState = OFFLINE;
const connecting0: LinkState = { value: 'connecting', attempt: 0 };
const connecting3: LinkState = { value: 'connecting', attempt: 3 };
const connected: LinkState = { value: 'connected', sessionPresent: true };
const waiting2: LinkState = { value: 'waiting', attempt: 2, reason: 'closed by peer' };

const start: LinkEvent = { type: 'start' };
const stop: LinkEvent = { type: 'stop' };
const connack: LinkEvent = { type: 'connack', sessionPresent: false };
const connackPresent: LinkEvent = { type: 'connack', sessionPresent: true };
const lost: LinkEvent = { type: 'lost', reason: 'x' };
const retry: LinkEvent = { type: 'retry' };

type Row = readonly [LinkState, LinkEvent, LinkState, readonly LinkEffect[]] | readonly [LinkState, LinkEvent, undefined];

const ROWS: readonly Row[] = [
	// offline: only start applies
	[offline, start, connecting0, [{ type: 'open' }]],
	[offline, stop, undefined],
	[offline, connack, undefined],
	[offline, lost, undefined],
	[offline, retry, undefined],
	// connecting
	[connecting0, connack, { value: 'connected', sessionPresent: false }, [{ type: 'online', sessionPresent: false }]],
	[connecting3, connackPresent, { value: 'connected', sessionPresent: true }, [{ type: 'online', sessionPresent: true }]],
	[connecting0, lost, { value: 'waiting', attempt: 1, reason: 'x' }, [{ type: 'close' }, { type: 'schedule', attempt: 1 }]],
	[connecting3, lost, { value: 'waiting', attempt: 4, reason: 'x' }, [{ type: 'close' }, { type: 'schedule', attempt: 4 }]],
	[connecting3, stop, offline, [{ type: 'close' }]],
	[connecting0, start, undefined],
	[connecting0, retry, undefined],
	// connected: a loss starts the backoff afresh at attempt 1
	[connected, lost, { value: 'waiting', attempt: 1, reason: 'x' }, [{ type: 'close' }, { type: 'offline', reason: 'x' }, { type: 'schedule', attempt: 1 }]],
	[connected, stop, offline, [{ type: 'close' }, { type: 'offline', reason: 'stopped' }]],
	[connected, start, undefined],
	[connected, connack, undefined],
	[connected, retry, undefined],
	// waiting
	[waiting2, retry, { value: 'connecting', attempt: 2 }, [{ type: 'open' }]],
	[waiting2, stop, offline, [{ type: 'cancel' }]],
	[waiting2, start, undefined],
	[waiting2, connack, undefined],
	[waiting2, lost, undefined],
];

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

	it('never throws on any pair of state and event', () => {
		for (const s of [offline, connecting0, connecting3, connected, waiting2]) for (const e of [start, stop, connack, lost, retry]) step(s, e);
	});

	it('does not change the state it is given', () => {
		const s: LinkState = { value: 'connecting', attempt: 1 };
		step(s, lost);
		assert.deepEqual(s, { value: 'connecting', attempt: 1 });
		assert.ok(Object.isFrozen(OFFLINE));
	});

	it('failures in a row count up; a success resets the count', () => {
		let s: LinkState = OFFLINE;
		const attempts: number[] = [];
		const run = (e: LinkEvent): void => {
			const n = step(s, e);
			assert.ok(n, 'event ' + e.type + ' does not apply in ' + s.value);
			s = n.state;
			for (const fx of n.effects) if (fx.type === 'schedule') attempts.push(fx.attempt);
		};
		run(start);
		run(lost);
		run(retry);
		run(lost);
		run(retry);
		run(lost);
		run(retry);
		run(connack);
		run(lost);
		assert.deepEqual(attempts, [1, 2, 3, 1]);
	});
});
