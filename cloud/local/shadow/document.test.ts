// The pure shadow semantics: tables of (shadow, request) -> (reply, delta, documents) or error.
import assert from 'node:assert/strict';
import { applyUpdate, deltaOf, getReply, MAX_STATE_BYTES, parseUpdate, requestToken, type JsonObject, type Shadow, type UpdateRequest } from './document';

const T0 = 1_700_000_000_000;
const S0 = T0 / 1000;

function request(body: unknown): UpdateRequest {
	const r = parseUpdate(JSON.stringify(body), T0);
	if (!r.ok) assert.fail('request refused: ' + r.error.message);
	return r.value;
}

/** Applies updates in turn from no shadow, one second apart; returns the last outcome's shadow. */
function run(...bodies: unknown[]): Shadow {
	let shadow: Shadow | undefined;
	bodies.forEach((b, i) => {
		const o = applyUpdate(shadow, shadow?.version ?? 0, request(b), T0 + i * 1000);
		if (!o.ok) assert.fail('update refused: ' + o.error.message);
		shadow = o.shadow;
	});
	return shadow as Shadow;
}

describe('shadow document', () => {
	describe('parseUpdate refuses with the AWS 400/415 messages', () => {
		const rows: [string, string | Uint8Array, number, string][] = [
			['not JSON', '{', 400, 'Invalid JSON'],
			['a JSON array', '[]', 400, 'Invalid JSON'],
			['bytes that are not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), 415, 'Unsupported documented encoding; supported encoding is UTF-8'],
			['no state', '{}', 400, 'Missing required node: state'],
			['state an array', '{"state":[]}', 400, 'State node must be an object'],
			['desired a string', '{"state":{"desired":"x"}}', 400, 'Desired node must be an object'],
			['reported a number', '{"state":{"reported":1}}', 400, 'Reported node must be an object'],
			['metadata written', '{"state":{"metadata":{}}}', 400, "State contains an invalid node: 'metadata'"],
			['version negative', '{"state":{},"version":-1}', 400, 'Invalid version'],
			['version fractional', '{"state":{},"version":1.5}', 400, 'Invalid version'],
			['clientToken a number', '{"state":{},"clientToken":5}', 400, 'Invalid clientToken'],
			['clientToken of 65 bytes', JSON.stringify({ state: {}, clientToken: 'é'.repeat(32) + 'x' }), 400, 'Invalid clientToken'],
			['seven levels', JSON.stringify({ state: { reported: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } } }), 400, 'JSON contains too many levels of nesting; maximum is 6'],
			['seven levels through an array', JSON.stringify({ state: { reported: { a: { b: { c: { d: { e: [[1]] } } } } } } }), 400, 'JSON contains too many levels of nesting; maximum is 6'],
			['null in an array', JSON.stringify({ state: { desired: { a: [1, null] } } }), 400, "State contains an invalid node: 'desired.a[1]'"],
		];
		for (const [title, payload, code, message] of rows) {
			it(title, () => {
				const r = parseUpdate(payload, T0);
				assert.equal(r.ok, false);
				if (!r.ok) assert.deepEqual([r.error.code, r.error.message, r.error.timestamp], [code, message, S0]);
			});
		}

		it('echoes a valid clientToken in the rejection', () => {
			const r = parseUpdate('{"clientToken":"abc"}', T0);
			assert.ok(!r.ok && r.error.clientToken === 'abc');
		});

		it('ignores fields outside state, clientToken and version; 64-byte tokens and six levels pass', () => {
			const r = parseUpdate(JSON.stringify({ state: { desired: { a: { b: { c: { d: { e: { f: 1 } } } } } } }, clientToken: 'x'.repeat(64), extra: 1 }), T0);
			assert.ok(r.ok);
			assert.deepEqual(Object.keys(r.value).sort(), ['clientToken', 'state']);
		});
	});

	describe('applyUpdate', () => {
		it('creates at version 1, echoing the request with per-leaf metadata', () => {
			const o = applyUpdate(undefined, 0, request({ state: { reported: { a: 1, b: [1, { c: 2 }] } }, clientToken: 't' }), T0);
			assert.ok(o.ok);
			assert.deepEqual(o.accepted, {
				state: { reported: { a: 1, b: [1, { c: 2 }] } },
				metadata: { reported: { a: { timestamp: S0 }, b: [{ timestamp: S0 }, { c: { timestamp: S0 } }] } },
				version: 1,
				timestamp: S0,
				clientToken: 't',
			});
			assert.equal(o.documents.previous, null);
			assert.equal(o.delta, undefined);
		});

		it('continues from the version of a deleted shadow', () => {
			const o = applyUpdate(undefined, 7, request({ state: { reported: { a: 1 } } }), T0);
			assert.ok(o.ok && o.shadow.version === 8);
		});

		const conflicts: [string, Shadow | undefined, number, number][] = [
			['stale version', run({ state: { reported: { a: 1 } } }, { state: { reported: { a: 2 } } }), 2, 1],
			['future version', run({ state: { reported: { a: 1 } } }), 1, 5],
			['new shadow, version not 0', undefined, 0, 1],
			['deleted shadow, version not its last', undefined, 4, 3],
		];
		for (const [title, shadow, last, version] of conflicts) {
			it('409 Version conflict: ' + title, () => {
				const o = applyUpdate(shadow, last, request({ state: { reported: { z: 1 } }, version, clientToken: 'c' }), T0);
				assert.ok(!o.ok);
				assert.deepEqual(o.error, { code: 409, message: 'Version conflict', timestamp: S0, clientToken: 'c' });
			});
		}

		it('accepts the current version', () => {
			const s = run({ state: { reported: { a: 1 } } });
			assert.ok(applyUpdate(s, 1, request({ state: { reported: { a: 2 } }, version: 1 }), T0).ok);
		});

		it(`413 once desired and reported together pass ${MAX_STATE_BYTES} bytes; exactly the limit passes`, () => {
			const s = run({ state: { reported: { a: 'x'.repeat(4000) } } });
			// the state is measured as compact JSON: the two strings plus the JSON around them
			const fill = MAX_STATE_BYTES - 4000 - '{"desired":{"b":""},"reported":{"a":""}}'.length;
			assert.ok(applyUpdate(s, 1, request({ state: { desired: { b: 'y'.repeat(fill) } } }), T0).ok);
			const o = applyUpdate(s, 1, request({ state: { desired: { b: 'y'.repeat(fill + 1) } } }), T0);
			assert.ok(!o.ok && o.error.code === 413 && o.error.message === 'The payload exceeds the maximum size allowed');
		});

		it('a null that shrinks an oversized request below the limit is judged on the result', () => {
			const s = run({ state: { reported: { a: 'x'.repeat(6000) } } });
			assert.ok(applyUpdate(s, 1, request({ state: { reported: { a: null, b: 'y'.repeat(6000) } } }), T0).ok);
		});

		const merges: [string, unknown[], JsonObject | undefined][] = [
			['objects merge key by key', [{ state: { reported: { a: { x: 1 }, b: 1 } } }, { state: { reported: { a: { y: 2 } } } }], { a: { x: 1, y: 2 }, b: 1 }],
			['arrays replace whole', [{ state: { reported: { a: [1, 2, 3] } } }, { state: { reported: { a: [4] } } }], { a: [4] }],
			['an object replaces a leaf', [{ state: { reported: { a: 1 } } }, { state: { reported: { a: { b: 1 } } } }], { a: { b: 1 } }],
			['a leaf replaces an object', [{ state: { reported: { a: { b: 1 } } } }, { state: { reported: { a: 2 } } }], { a: 2 }],
			['null removes a key', [{ state: { reported: { a: 1, b: 2 } } }, { state: { reported: { a: null } } }], { b: 2 }],
			['null of an absent key is harmless', [{ state: { reported: { a: 1 } } }, { state: { reported: { q: null } } }], { a: 1 }],
			// DSD: objects are values and stay; only null removes
			['an object emptied by null stays, as {}', [{ state: { reported: { a: { b: 1 }, c: 1 } } }, { state: { reported: { a: { b: null } } } }], { a: {}, c: 1 }],
			['a section emptied key by key stays, as {}', [{ state: { reported: { a: 1 } } }, { state: { reported: { a: null } } }], {}],
			['an empty object written is kept', [{ state: { reported: { a: 1 } } }, { state: { reported: { lights: {} } } }], { a: 1, lights: {} }],
			['an empty section written is kept', [{ state: { reported: {} } }], {}],
			['an empty object merged into an object leaves it as it was', [{ state: { reported: { a: { b: 1 } } } }, { state: { reported: { a: {} } } }], { a: { b: 1 } }],
			['a null section goes', [{ state: { reported: { a: 1 } } }, { state: { reported: null } }], undefined],
		];
		for (const [title, bodies, reported] of merges) {
			it(title, () => {
				const s = run(...bodies);
				assert.deepEqual(s.state.reported, reported);
				assert.equal(s.metadata.reported === undefined, reported === undefined);
			});
		}

		it('"state": null on an existing shadow clears desired and reported, keeps the shadow, and answers as AWS does', () => {
			const s = run({ state: { desired: { a: 1 }, reported: { a: 2, b: { c: 3 } } } });
			const o = applyUpdate(s, 1, request({ state: null, clientToken: 'tok' }), T0 + 5000);
			assert.ok(o.ok);
			assert.deepEqual(o.shadow, { state: {}, metadata: {}, version: 2 });
			// AWS: {"state":null,"metadata":{"timestamp":...},"version":...,"timestamp":...}
			assert.deepEqual(o.accepted, { state: null, metadata: { timestamp: S0 + 5 }, version: 2, timestamp: S0 + 5, clientToken: 'tok' });
			assert.equal(o.delta, undefined);
			assert.deepEqual(o.documents.previous?.state, s.state);
			assert.deepEqual(o.documents.current, { state: {}, metadata: {}, version: 2 });
			// the empty shadow reads back: DSD's "empty, yet valid shadow document"
			assert.deepEqual(getReply(o.shadow, T0 + 6000).state, {});
		});

		it('"state": null on a new shadow creates it empty, after the deleted one\'s version; a stale version is refused', () => {
			const o = applyUpdate(undefined, 7, request({ state: null }), T0);
			assert.ok(o.ok);
			assert.deepEqual(o.shadow, { state: {}, metadata: {}, version: 8 });
			assert.equal(o.documents.previous, null);
			const stale = applyUpdate(o.shadow, 7, request({ state: null, version: 3 }), T0);
			assert.ok(!stale.ok && stale.error.code === 409);
		});

		it('renews metadata only for the leaves written', () => {
			const s = run({ state: { reported: { a: 1, n: { b: 1, c: 1 } } } }, { state: { reported: { n: { c: 2 } } } });
			assert.deepEqual(s.metadata.reported, { a: { timestamp: S0 }, n: { b: { timestamp: S0 }, c: { timestamp: S0 + 1 } } });
		});

		it('documents carry previous and current snapshots', () => {
			const s1 = run({ state: { desired: { a: 1 } } });
			const o = applyUpdate(s1, 1, request({ state: { reported: { a: 1 } }, clientToken: 'k' }), T0 + 1000);
			assert.ok(o.ok);
			assert.deepEqual(o.documents.previous, { state: s1.state, metadata: s1.metadata, version: 1 });
			assert.deepEqual(o.documents.current, { state: o.shadow.state, metadata: o.shadow.metadata, version: 2 });
			assert.deepEqual([o.documents.timestamp, o.documents.clientToken], [S0 + 1, 'k']);
		});
	});

	describe('delta', () => {
		const rows: [string, JsonObject | undefined, JsonObject | undefined, JsonObject | undefined][] = [
			['no desired', undefined, { a: 1 }, undefined],
			['desired equals reported', { a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 2] } }, undefined],
			['desired absent from reported', { a: 1 }, undefined, { a: 1 }],
			['reported-only fields are left out', { a: 1 }, { a: 1, extra: 2 }, undefined],
			['nested difference keeps its path', { l: { c: { r: 1, g: 2 } } }, { l: { c: { r: 1, g: 0 } } }, { l: { c: { g: 2 } } }],
			['arrays differ whole', { a: [1, 2] }, { a: [1] }, { a: [1, 2] }],
			['object against leaf', { a: { b: 1 } }, { a: 5 }, { a: { b: 1 } }],
			['key order does not matter', { a: { x: 1, y: 2 } }, { a: { y: 2, x: 1 } }, undefined],
			['types matter', { a: 1 }, { a: '1' }, { a: 1 }],
		];
		for (const [title, desired, reported, delta] of rows) {
			it(title, () => {
				const bodies: unknown[] = [];
				if (desired) bodies.push({ state: { desired } });
				if (reported) bodies.push({ state: { reported } });
				const s = run(...bodies);
				assert.deepEqual(deltaOf(s)?.state, delta);
				assert.deepEqual(getReply(s, T0).state.delta, delta);
			});
		}

		it('metadata of the delta is the desired metadata', () => {
			const s = run({ state: { desired: { a: 1, n: { b: 2 } } } }, { state: { desired: { n: { b: 3 } } } });
			assert.deepEqual(deltaOf(s)?.metadata, { a: { timestamp: S0 }, n: { b: { timestamp: S0 + 1 } } });
		});

		it('is published with every difference when an update leaves one, and not when none is left', () => {
			const s = run({ state: { desired: { a: 1, b: 2 } } });
			const o = applyUpdate(s, 1, request({ state: { reported: { a: 1 } } }), T0);
			assert.ok(o.ok);
			assert.deepEqual(o.delta?.state, { b: 2 });
			const o2 = applyUpdate(o.shadow, 2, request({ state: { reported: { b: 2 } } }), T0);
			assert.ok(o2.ok && o2.delta === undefined);
		});
	});

	it('requestToken reads a clientToken from get and delete payloads and ignores anything else', () => {
		assert.equal(requestToken(''), undefined);
		assert.equal(requestToken('{"clientToken":"a"}'), 'a');
		assert.equal(requestToken('not json'), undefined);
		assert.equal(requestToken(JSON.stringify({ clientToken: 'x'.repeat(65) })), undefined);
	});
});
