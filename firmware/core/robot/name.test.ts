/* The robot's name apart from its credentials (runs on Node and in XS). */
import * as assert from '../testing/assert';
import { memoryStorage } from '../testing/fakes';
import { utf8Encode } from '../util/utf8';
import { NAME_KEY, rememberName, robotName } from './name';

describe('robot name', () => {
	it("is the identity's, then the one kept from an earlier identity, then the image's, else none", () => {
		const storage = memoryStorage();
		assert.equal(robotName(storage, undefined, undefined), undefined);
		assert.equal(robotName(storage, undefined, ''), undefined);
		assert.deepEqual(robotName(storage, undefined, 'robot-cfg'), { thing: 'robot-cfg', source: 'config' });
		assert.deepEqual(robotName(storage, 'robot-1', 'robot-cfg'), { thing: 'robot-1', source: 'identity' });
		assert.deepEqual(rememberName(storage, 'robot-1'), { ok: true });
		// credentials gone: the name stays, ahead of the image's
		assert.deepEqual(robotName(storage, undefined, 'robot-cfg'), { thing: 'robot-1', source: 'stored' });
	});

	it('writes the name only when it changed, and ignores a stored value that is no thing name', () => {
		const storage = memoryStorage();
		assert.deepEqual(rememberName(storage, 'robot-1'), { ok: true });
		assert.equal(rememberName(storage, 'robot-1'), undefined);
		assert.deepEqual(rememberName(storage, 'robot-2'), { ok: true });
		assert.deepEqual(robotName(storage, undefined, undefined), { thing: 'robot-2', source: 'stored' });
		storage.write(NAME_KEY, utf8Encode('no/thing name'));
		assert.equal(robotName(storage, undefined, undefined), undefined);
	});

	it('hands back a full store instead of throwing', () => {
		const storage = memoryStorage({ budget: 1 });
		const w = rememberName(storage, 'robot-1');
		assert.ok(w !== undefined && !w.ok && w.error === 'full', JSON.stringify(w));
	});
});
