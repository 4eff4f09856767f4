/*
 * The body pump and response collector on their own (Node and XS); the Moddable adapter's
 * tests (platform/moddable/test/http.test.ts) run them under the SDK's http client fake.
 */
import * as assert from '../testing/assert';
import { BodyPump, ResponseCollector } from './exchange';

const pattern = (n: number, k = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * k + 5) & 0xff);

function source(chunks: unknown[], length: number) {
	let i = 0;
	let pulls = 0;
	return {
		pulls: () => pulls,
		body: {
			length,
			next: () => {
				pulls++;
				return chunks[i++] as Uint8Array | undefined;
			},
		},
	};
}

/** Takes pieces of at most `max` until the end or a failure. */
function drain(pump: BodyPump, max: number): Uint8Array[] {
	const out: Uint8Array[] = [];
	for (let p = pump.take(max); p; p = pump.take(max)) out.push(p.slice());
	return out;
}

describe('http exchange: body pump', () => {
	it('hands out each chunk in pieces of at most the asked size, pulling the next only when one is used up', () => {
		const s = source([pattern(5), pattern(3, 2)], 8);
		const pump = new BodyPump(s.body);
		assert.deepEqual(pump.take(2), pattern(5).subarray(0, 2));
		assert.equal(s.pulls(), 1);
		assert.deepEqual(
			drain(pump, 2).map((p) => p.length),
			[2, 1, 2, 1],
		);
		assert.equal(pump.sent, 8);
		assert.ok(pump.ended);
		assert.equal(pump.error, undefined);
	});

	it('skips empty chunks', () => {
		const pump = new BodyPump(source([new Uint8Array(0), pattern(2)], 2).body);
		assert.deepEqual(drain(pump, 10), [pattern(2)]);
		assert.equal(pump.error, undefined);
	});

	const failures: readonly (readonly [string, unknown[], number, string])[] = [
		['fewer bytes than declared', [pattern(3)], 4, 'body yielded 3 of 4 declared bytes'],
		['more bytes than declared', [pattern(3), pattern(2)], 4, 'body yielded more than 4 declared bytes'],
		['not a Uint8Array', ['abc'], 3, 'body.next: expected a Uint8Array'],
	];
	for (const [name, chunks, length, error] of failures) {
		it('fails on ' + name + ', and takes nothing after', () => {
			const s = source(chunks, length);
			const pump = new BodyPump(s.body);
			drain(pump, 100);
			assert.equal(pump.error, error);
			const pulls = s.pulls();
			assert.equal(pump.take(100), undefined);
			assert.equal(s.pulls(), pulls, 'no pull after a failure');
		});
	}

	it('a throwing body is a failure with its message', () => {
		const pump = new BodyPump({
			length: 1,
			next: () => {
				throw new Error('disk gone');
			},
		});
		assert.equal(pump.take(1), undefined);
		assert.equal(pump.error, 'body.next threw: disk gone');
	});
});

describe('http exchange: response collector', () => {
	it('keeps a body whole, headers lower case and joined', () => {
		const r = new ResponseCollector(undefined, 100);
		r.setStatus(404);
		r.header('X-A', '1');
		r.header('x-a', '2');
		assert.equal(r.data(pattern(3)), undefined);
		assert.equal(r.data(pattern(2, 3)), undefined);
		const v = r.response();
		assert.deepEqual(v, { status: 404, headers: { 'x-a': '1, 2' }, body: Uint8Array.of(...pattern(3), ...pattern(2, 3)) });
	});

	it('streams a 2xx body to onData and keeps none of it', () => {
		const seen: number[] = [];
		const r = new ResponseCollector((c) => void seen.push(c.length), 4);
		r.setStatus(200);
		assert.equal(r.data(pattern(10)), undefined);
		assert.deepEqual(seen, [10]);
		assert.equal(r.response().body.length, 0);
	});

	it('a non-2xx body goes to no onData: it is kept whole', () => {
		let called = false;
		const r = new ResponseCollector(() => void (called = true), 10);
		r.setStatus(500);
		r.data(pattern(3));
		assert.ok(!called);
		assert.deepEqual(r.response().body, pattern(3));
	});

	it('an error document over the limit keeps its first bytes', () => {
		const r = new ResponseCollector(undefined, 4);
		r.setStatus(403);
		assert.equal(r.data(pattern(3)), undefined);
		assert.equal(r.data(pattern(3, 2)), undefined);
		assert.equal(r.data(pattern(3, 3)), undefined);
		assert.deepEqual(r.response().body, Uint8Array.of(...pattern(3), pattern(3, 2)[0]!));
	});

	it('a 2xx body over the limit without onData is a failure', () => {
		const r = new ResponseCollector(undefined, 4);
		r.setStatus(200);
		assert.equal(r.data(pattern(5)), 'response body over 4 bytes: stream it with onData');
	});

	it('a throwing onData is a failure with its message', () => {
		const r = new ResponseCollector(() => {
			throw new Error('full');
		}, 4);
		r.setStatus(204);
		assert.equal(r.data(pattern(1)), 'onData threw: full');
	});
});
