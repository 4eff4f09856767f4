import * as assert from '../testing/assert';
import type { ReceivedSlot } from '../contracts/upload-slot';
import { IDLE, step, type UploadEvent, type UploadState } from './machine';

const SLOT = { url: 'https://s3/x' } as ReceivedSlot;
const types = (r: ReturnType<typeof step>) => r && r.effects.map((f) => (f.type === 'log' ? 'log:' + f.event : f.type));

describe('map upload machine', () => {
	// (from, event) -> (to, effects); maxAttempts 3
	const table: [UploadState, UploadEvent, string, string[]][] = [
		[IDLE, { type: 'start' }, 'asking', ['requestSlot']],
		[{ value: 'asking', attempt: 1 }, { type: 'slot', slot: SLOT }, 'putting', ['put']],
		[{ value: 'asking', attempt: 1 }, { type: 'slotFailed', error: { code: 'slot-timeout' } }, 'backoff', ['log:map.slot_failed', 'sleep']],
		[{ value: 'asking', attempt: 1 }, { type: 'slotFailed', error: { code: 'offline' } }, 'backoff', ['log:map.slot_failed', 'sleep']],
		[{ value: 'asking', attempt: 1 }, { type: 'slotFailed', error: { code: 'slot-refused', reason: 'unavailable: kms', retryable: true } }, 'backoff', ['log:map.slot_failed', 'sleep']],
		[{ value: 'asking', attempt: 1 }, { type: 'slotFailed', error: { code: 'slot-refused', reason: 'too_large: x', retryable: false } }, 'failed', ['log:map.slot_failed']],
		[{ value: 'asking', attempt: 1 }, { type: 'slotFailed', error: { code: 'bad-slot', reason: 'url' } }, 'failed', ['log:map.slot_failed']],
		[{ value: 'asking', attempt: 3 }, { type: 'slotFailed', error: { code: 'slot-timeout' } }, 'failed', ['log:map.slot_failed']],
		[{ value: 'putting', attempt: 2 }, { type: 'put', bytes: 10 }, 'uploaded', ['log:map.uploaded']],
		[{ value: 'putting', attempt: 1 }, { type: 'putFailed', error: { code: 'http', status: 403 } }, 'backoff', ['log:map.upload_failed', 'sleep']],
		[{ value: 'putting', attempt: 1 }, { type: 'putFailed', error: { code: 'network', reason: 'reset' } }, 'backoff', ['log:map.upload_failed', 'sleep']],
		[{ value: 'putting', attempt: 1 }, { type: 'putFailed', error: { code: 'unwrap' } }, 'failed', ['log:map.upload_failed']],
		[{ value: 'putting', attempt: 1 }, { type: 'putFailed', error: { code: 'source', reason: 'short' } }, 'failed', ['log:map.upload_failed']],
		[{ value: 'putting', attempt: 3 }, { type: 'putFailed', error: { code: 'http', status: 500 } }, 'failed', ['log:map.upload_failed']],
		[{ value: 'backoff', attempt: 1 }, { type: 'wake' }, 'asking', ['requestSlot']],
	];
	for (const [from, e, to, effects] of table)
		it(from.value + ' + ' + e.type + (e.type.endsWith('Failed') ? ' ' + JSON.stringify((e as { error: unknown }).error) : '') + ' -> ' + to, () => {
			const r = step(from, e, 3);
			assert.equal(r?.state.value, to);
			assert.deepEqual(types(r), effects);
		});

	it('counts attempts across backoffs and keeps the last reason', () => {
		let s: UploadState = IDLE;
		const go = (e: UploadEvent) => (s = step(s, e, 2)!.state);
		go({ type: 'start' });
		go({ type: 'slotFailed', error: { code: 'slot-timeout' } });
		go({ type: 'wake' });
		assert.deepEqual(s, { value: 'asking', attempt: 2 });
		go({ type: 'slot', slot: SLOT });
		go({ type: 'putFailed', error: { code: 'network', reason: 'reset' } });
		assert.deepEqual(s, { value: 'failed', error: { code: 'network', reason: 'reset' } });
	});

	it('ignores what does not apply: a late reply, a wake after the end', () => {
		assert.equal(step(IDLE, { type: 'slot', slot: SLOT }, 3), undefined);
		assert.equal(step({ value: 'putting', attempt: 1 }, { type: 'slot', slot: SLOT }, 3), undefined);
		assert.equal(step({ value: 'failed', error: { code: 'unwrap' } }, { type: 'wake' }, 3), undefined);
		assert.equal(step({ value: 'uploaded', attempts: 1, bytes: 1 }, { type: 'start' }, 3), undefined);
	});
});
