import * as assert from '../testing/assert';
import { classify, IDLE, step, type Attempt, type RegistrationState } from './machine';

describe('registration machine', () => {
	it('classifies the API answers against the contract', () => {
		const table: [number, Record<string, unknown> | undefined, Attempt][] = [
			[200, { status: 'registered', thing: 'r', certificateId: 'c' }, { kind: 'registered', certificateId: 'c' }],
			[200, { status: 'registered', thing: 'other', certificateId: 'c' }, { kind: 'retry', reason: 'unexpected answer 200' }],
			[202, { status: 'pending' }, { kind: 'retry', reason: 'pending' }],
			[429, undefined, { kind: 'retry', reason: 'http 429' }],
			[503, { error: { code: 'unavailable', message: 'x' } }, { kind: 'retry', reason: 'unavailable' }],
			[400, { error: { code: 'stale_timestamp', message: 'x' } }, { kind: 'retry', reason: 'stale_timestamp' }],
			[403, { error: { code: 'bad_signature', message: 'no' } }, { kind: 'refused', reason: 'bad_signature', message: 'no' }],
			[404, undefined, { kind: 'refused', reason: 'http 404', message: '' }],
			[302, undefined, { kind: 'retry', reason: 'unexpected answer 302' }],
		];
		for (const [status, body, want] of table) assert.deepEqual(classify(status, body, 'r'), want, status + ' ' + JSON.stringify(body));
	});

	it('asks, backs off on a retry, stops at maxAttempts with the last reason', () => {
		let s: RegistrationState = IDLE;
		const kinds: string[] = [];
		const go = (e: Parameters<typeof step>[1]) => {
			const r = step(s, e, 2)!;
			s = r.state;
			kinds.push(...r.effects.map((f) => f.type));
		};
		go({ type: 'start' });
		go({ type: 'answered', attempt: { kind: 'retry', reason: 'pending' } });
		assert.deepEqual(s, { value: 'backoff', attempt: 1, last: 'pending' });
		go({ type: 'wake' });
		go({ type: 'answered', attempt: { kind: 'retry', reason: 'network: reset' } });
		assert.deepEqual(s, { value: 'gaveUp', attempts: 2, last: 'network: reset' });
		assert.deepEqual(kinds, ['ask', 'log', 'sleep', 'ask', 'log']);
	});

	it('registered marks storage; refused is final; nothing applies after the end', () => {
		const asking: RegistrationState = { value: 'asking', attempt: 3 };
		const r = step(asking, { type: 'answered', attempt: { kind: 'registered', certificateId: 'c' } }, 5)!;
		assert.deepEqual(r.state, { value: 'registered', attempts: 3, certificateId: 'c' });
		assert.deepEqual(
			r.effects.map((f) => f.type),
			['mark', 'log'],
		);
		const f = step(asking, { type: 'answered', attempt: { kind: 'refused', reason: 'thing_mismatch', message: 'm' } }, 5)!;
		assert.equal(f.state.value, 'refused');
		assert.equal(step(f.state, { type: 'wake' }, 5), undefined);
		assert.equal(step(IDLE, { type: 'wake' }, 5), undefined);
		assert.equal(step({ value: 'backoff', attempt: 1, last: 'x' }, { type: 'answered', attempt: { kind: 'retry', reason: 'late' } }, 5), undefined);
	});
});
