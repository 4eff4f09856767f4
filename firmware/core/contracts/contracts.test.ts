import * as assert from '../testing/assert';
import { base64Encode } from '../util/base64';
import { checkThingName, isShadowName, isThingName } from './thing';
import { mapUploadRequestTopic, mapUploadSlotTopic, shadowTopicPrefix } from './topics';
import { parseUploadSlot, validateUploadRequest } from './upload-slot';

describe('contracts', () => {
	it('thing names: 1-128 of [A-Za-z0-9:_-], never a topic level separator or wildcard', () => {
		for (const good of ['r', 'robot-1', 'a:b_c-D9', 'x'.repeat(128)]) assert.ok(isThingName(good), good);
		for (const bad of ['', 'x'.repeat(129), 'a/b', '+', '#', 'a b', 'é', 1, undefined, null]) assert.ok(!isThingName(bad), String(bad));
		assert.ok(isShadowName('x'.repeat(64)) && !isShadowName('x'.repeat(65)) && !isShadowName(''));
		assert.equal(checkThingName('robot-1'), 'robot-1');
		assert.throws(() => checkThingName('a/b', 'HIL_THING'), /"HIL_THING" expected 1-128 of \[A-Za-z0-9:_-\], got "a\/b"/);
	});

	it('topics', () => {
		assert.equal(shadowTopicPrefix('r'), '$aws/things/r/shadow');
		assert.equal(shadowTopicPrefix('r', 'schedule'), '$aws/things/r/shadow/name/schedule');
		assert.equal(mapUploadRequestTopic('r'), 'robots/r/maps/upload-request');
		assert.equal(mapUploadSlotTopic('r'), 'robots/r/maps/upload-slot');
	});

	it('an upload request is checked field by field', () => {
		assert.ok(validateUploadRequest({ clientToken: 'u1-x', missionId: 'm-1', bytes: 10 }).ok);
		const r = validateUploadRequest({ clientToken: '', missionId: 'x', bytes: 0, more: 1 });
		assert.ok(!r.ok && r.errors.length === 4 && !r.tooLarge);
	});

	it('a slot is read on the robot, or the first wrong field is named', () => {
		const good = {
			url: 'https://s3/x',
			wrappedKey: base64Encode(new Uint8Array(256)),
			ciphertextBlob: base64Encode(new Uint8Array([1, 2])),
			keyArn: 'arn:aws:kms:r:1:key/k',
			encryptionContext: { thing: 'r', mission: 'm-1', purpose: 'map' },
			frameLength: 4096,
		};
		const s = parseUploadSlot(good, 16_384);
		assert.ok(typeof s !== 'string' && s.wrappedKey.length === 256 && s.blob.length === 2 && s.frameLength === 4096);
		assert.deepEqual(typeof s !== 'string' && s.headers, {});
		assert.equal(parseUploadSlot({ ...good, url: 'ftp://x' }, 16_384), 'url');
		assert.equal(parseUploadSlot({ ...good, ciphertextBlob: '' }, 16_384), 'ciphertextBlob');
		assert.equal(parseUploadSlot({ ...good, keyArn: 'k' }, 16_384), 'keyArn');
		assert.equal(parseUploadSlot({ ...good, encryptionContext: { a: 1 } }, 16_384), 'encryptionContext');
		assert.equal(parseUploadSlot({ ...good, frameLength: 4096 }, 1024), 'frameLength');
		assert.equal(parseUploadSlot({ ...good, headers: { a: 1 } }, 16_384), 'headers');
	});
});
