import * as assert from '../testing/assert';
import * as boot from './boot';

describe('ota boot record', () => {
	const factory = boot.factoryRecord('1.0.0');

	it('boots an activated image on probation once, then the previous one (ESP-IDF rollback rule)', () => {
		const begun = boot.begin(factory, '1.1.0', 10);
		assert.equal(boot.previous(begun), undefined);
		const a = boot.activate(begun, 10);
		assert.ok(a.ok);
		assert.deepEqual(boot.running(a.record), { version: '1.1.0', valid: false });
		const first = boot.powerUp(a.record);
		assert.deepEqual(boot.running(first), { version: '1.1.0', valid: false });
		const second = boot.powerUp(first);
		assert.deepEqual(boot.running(second), { version: '1.0.0', valid: true });
		assert.equal(boot.previous(second), undefined, 'the abandoned image is not bootable');
	});

	it('keeps an image marked valid; rollback returns to the previous one', () => {
		const a = boot.activate(boot.begin(factory, '1.1.0', 10), 10);
		assert.ok(a.ok);
		const valid = boot.markValid(boot.powerUp(a.record));
		assert.deepEqual(boot.running(boot.powerUp(boot.powerUp(valid))), { version: '1.1.0', valid: true });
		assert.deepEqual(boot.previous(valid), { version: '1.0.0', valid: true });
		const back = boot.rollback(valid);
		assert.ok(back.ok);
		assert.deepEqual(boot.running(back.record), { version: '1.0.0', valid: true });
		assert.equal(boot.previous(back.record), undefined, 'the image rolled back from is not bootable');
		const again = boot.rollback(back.record);
		assert.ok(!again.ok && /no previous image/.test(again.error));
	});

	it('refuses an incomplete image, a write out of order or past the size, a rollback with nothing behind', () => {
		const begun = boot.begin(factory, '1.1.0', 10);
		const r = boot.activate(begun, 9);
		assert.ok(!r.ok && /no complete image/.test(r.error));
		assert.equal(boot.checkWrite(begun, 4, 4, 6), undefined);
		assert.ok(/slot holds 4/.test(boot.checkWrite(begun, 4, 5, 1) ?? ''));
		assert.ok(/larger than 10/.test(boot.checkWrite(begun, 4, 4, 7) ?? ''));
		assert.ok(/no image begun/.test(boot.checkWrite(factory, 0, 0, 1) ?? ''));
		const none = boot.rollback(factory);
		assert.ok(!none.ok && /no previous image/.test(none.error));
	});

	it('commit saves the record of an outcome, and saves nothing on a refusal', () => {
		const saved: boot.BootRecord[] = [];
		const save = (r: boot.BootRecord) => void saved.push(r);
		const a = boot.activate(boot.begin(factory, '1.1.0', 10), 10);
		assert.deepEqual(boot.commit(a, save), { ok: true });
		assert.ok(a.ok);
		assert.deepEqual(saved, [a.record]);
		assert.deepEqual(boot.commit(boot.rollback(factory), save), { ok: false, error: 'no previous image' });
		assert.equal(saved.length, 1);
	});

	it('reads back what it stores and refuses what is not a record', () => {
		assert.deepEqual(boot.parseRecord(JSON.stringify(factory)), factory);
		for (const bad of ['', '{', 'null', '{"boot":"c","versions":{},"probation":false,"tried":false}', '{"boot":"a","probation":false}']) assert.equal(boot.parseRecord(bad), undefined, bad);
	});
});
