// The shadow store and the MQTT topic parser: persistence across instances, tombstones, listing.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseShadowTopic } from './mqtt';
import { createShadowOperations } from './service';
import { createShadowStore } from './store';

describe('shadow store', () => {
	let dir: string;
	beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'shadow-store-'))));
	afterEach(() => rm(dir, { recursive: true, force: true }));

	it('persists shadows and deletions to one file each and reads them back', async () => {
		const clock = { now: () => 1_700_000_000_000 };
		const storeA = createShadowStore({ dataDir: dir });
		const ops = createShadowOperations(storeA, clock);
		assert.ok(ops.update('robot-1', '', '{"state":{"reported":{"a":1}}}').ok);
		assert.ok(ops.update('robot-1', 'schedule', '{"state":{"desired":{"w":[1]}}}').ok);
		assert.ok(ops.update('robot-1', 'gone', '{"state":{"desired":{"x":1}}}').ok);
		assert.ok(ops.delete('robot-1', 'gone', '').ok);
		await storeA.flush();
		const text = await readFile(path.join(dir, 'robot-1', 'name', 'schedule.json'), 'utf8');
		assert.equal(JSON.parse(text).version, 1);

		const storeB = createShadowStore({ dataDir: dir });
		assert.deepEqual(storeB.read('robot-1', '')?.shadow?.state, { reported: { a: 1 } });
		assert.deepEqual(storeB.read('robot-1', 'gone'), { version: 1 });
		assert.deepEqual(storeB.namedShadows('robot-1'), ['schedule']);
		const again = createShadowOperations(storeB, clock).update('robot-1', 'gone', '{"state":{"desired":{"x":2}}}');
		assert.ok(again.ok && again.value.version === 2);
	});

	it('keeps shadows in memory without a data dir', () => {
		const store = createShadowStore();
		store.write('robot-1', 'a', { version: 3 });
		assert.deepEqual(store.read('robot-1', 'a'), { version: 3 });
		assert.equal(store.read('robot-2', 'a'), undefined);
	});

	it('checks names and versions at its edge', () => {
		const store = createShadowStore();
		assert.throws(() => store.write('robot/1', '', { version: 1 }), RangeError);
		assert.throws(() => store.write('robot-1', 'a b', { version: 1 }), RangeError);
		assert.throws(() => store.write('robot-1', '', { version: -1 }), RangeError);
	});

	it('refuses to start on a corrupt file rather than lose a shadow', async () => {
		const store = createShadowStore({ dataDir: dir });
		store.write('robot-1', '', { version: 1 });
		await store.flush();
		await writeFile(path.join(dir, 'robot-1', 'shadow.json'), '{');
		assert.throws(() => createShadowStore({ dataDir: dir }), SyntaxError);
	});
});

describe('shadow topics', () => {
	const rows: [string, ReturnType<typeof parseShadowTopic>][] = [
		['$aws/things/robot-1/shadow/get', { thing: 'robot-1', name: '', operation: 'get' }],
		['$aws/things/robot-1/shadow/update', { thing: 'robot-1', name: '', operation: 'update' }],
		['$aws/things/robot-1/shadow/name/schedule/delete', { thing: 'robot-1', name: 'schedule', operation: 'delete' }],
		['$aws/things/robot-1/shadow/update/accepted', undefined],
		['$aws/things/robot-1/shadow/update/delta', undefined],
		['$aws/things/robot-1/shadow/name/schedule/update/documents', undefined],
		['$aws/things/robot-1/shadow/name/schedule', undefined],
		['$aws/things/robot-1/shadow/list', undefined],
		['$aws/things/robot-1/jobs/get', undefined],
	];
	for (const [topic, expected] of rows) it(topic, () => assert.deepEqual(parseShadowTopic(topic), expected));
});
