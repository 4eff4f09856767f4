/*
 * The HTTP adapter (../http.ts) inside XS over the fake `http` client (fakes/http.ts) with the
 * fake `securesocket` under it and the fake `timer`: the request as http.js gets it, the body
 * pulled chunk by chunk in pieces that fit, the answer whole or streamed, every way a request
 * ends (never a throw, never a rejection), and no close inside the client's own callback.
 */
import * as assert from '../../../core/testing/assert';
import type { HttpRequest, HttpResponse } from '../../../ports';
import { createModdableHttpPort, MAX_WHOLE_BODY, READ_PIECE } from '../http';
import { requests, type Request } from './fakes/http';
import { loop } from './fakes/loop';
import { FakeSecureSocket, sockets } from './fakes/securesocket';

type Result = { ok: true; value: HttpResponse } | { ok: false; error: string };
const CA = Uint8Array.of(0x30, 0x82, 1, 2);
const pattern = (n: number, k = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * k + 5) & 0xff);
const text = (b: Uint8Array): string => String.fromCharCode(...b);

/** Starts a request; `settled()` answers its result once the promise settled (after the worker drains jobs). */
function start(req: HttpRequest, options = {}): { settled: () => Promise<Result | undefined>; request: () => Request } {
	let result: Result | undefined;
	const p = createModdableHttpPort({ ca: CA, ...options })
		.request(req)
		.then((r) => {
			result = r;
		});
	return {
		settled: async () => {
			await p.then(undefined, () => undefined);
			return result;
		},
		request: () => requests.last,
	};
}
/** Resolves after promise jobs ran (a pending promise stays pending). */
const flush = () => new Promise<void>((r) => r()).then(() => undefined).then(() => undefined);

/** The chunks of a body source, pulled one at a time, recording when. */
function source(chunks: Uint8Array[], length = chunks.reduce((n, c) => n + c.length, 0)) {
	const pulls: number[] = [];
	let i = 0;
	return {
		pulls,
		body: {
			length,
			next: () => {
				pulls.push(i);
				return chunks[i++];
			},
		},
	};
}

describe('moddable HTTP adapter over the SDK http client', () => {
	beforeEach(() => {
		loop.reset();
		sockets.reset();
		requests.reset();
	});
	afterEach(() => {
		assert.deepEqual(requests.violations, []);
		assert.deepEqual(sockets.violations, []);
	});

	it('GET over https: securesocket with the trust anchor as an ArrayBuffer, Host with a non-default port, the answer whole', async () => {
		const r = start({ method: 'GET', url: 'https://bucket.s3.local:9000/maps/m-1?X-Amz-Signature=ab%2Fc', headers: { 'x-amz-date': '20261206T000000Z' } });
		const q = r.request();
		assert.equal(q.dict.host, 'bucket.s3.local');
		assert.equal(q.dict.port, 9000);
		assert.equal(q.dict.path, '/maps/m-1?X-Amz-Signature=ab%2Fc', 'the query as it is');
		assert.ok(q.socket instanceof FakeSecureSocket, 'https goes through securesocket');
		const secure = q.dict.secure as Record<string, unknown>;
		assert.ok(secure.certificate instanceof ArrayBuffer);
		assert.deepEqual([...new Uint8Array(secure.certificate as ArrayBuffer)], [...CA]);
		assert.equal(secure.serverName, 'bucket.s3.local');
		q.connect();
		assert.ok(q.head.includes('\r\nHost: bucket.s3.local:9000\r\n'), q.head);
		assert.ok(!/\r\nHost: bucket.s3.local\r\n/.test(q.head), "http.js's own Host (without the port) is not sent");
		assert.ok(!/content-length/i.test(q.head), 'no Content-Length on a GET without a body');
		q.respond(200, { 'X-A': '1', 'Content-Type': 'application/json' }, pattern(3000), 700);
		const res = await r.settled();
		assert.ok(res?.ok, JSON.stringify(res));
		assert.equal(res.value.status, 200);
		assert.equal(res.value.headers['x-a'], '1');
		assert.deepEqual([...res.value.body], [...pattern(3000)]);
		assert.equal(requests.closes, 1, 'http.js closes the request itself after responseComplete; the adapter does not again');
		loop.advance(10);
		assert.equal(requests.closes, 1);
	});

	it('https without a trust anchor, a bad URL, a bad timeout: an error result and no request', async () => {
		const port = createModdableHttpPort({});
		assert.deepEqual(await port.request({ method: 'GET', url: 'https://h/x' }), { ok: false, error: 'https needs a trust anchor (ModdableHttpOptions.ca)' });
		const bad = await createModdableHttpPort({ ca: CA }).request({ method: 'GET', url: 'ftp://h/x' });
		assert.ok(!bad.ok && /bad url/.test(bad.error));
		const t = await createModdableHttpPort({ ca: CA }).request({ method: 'GET', url: 'https://h/x', timeoutMs: 0 });
		assert.ok(!t.ok && /timeoutMs/.test(t.error));
		assert.equal(requests.all.length, 0);
	});

	it('PUT pulls the body chunk by chunk as the socket takes it, every write within what securesocket says fits', async () => {
		const chunks = [pattern(5000, 3), pattern(7000, 5), pattern(123, 7)];
		const { body, pulls } = source(chunks);
		const progress: number[] = [];
		const r = start({ method: 'PUT', url: 'https://bucket.s3.local/k', body, headers: { 'Content-Type': 'application/octet-stream' }, onProgress: (n) => progress.push(n) });
		const q = r.request();
		assert.equal(q.dict.body, true, 'the body is pulled (http.js requestFragment)');
		assert.deepEqual(pulls, [], 'nothing pulled before the socket can take it');
		q.connect();
		assert.ok(q.head.includes('\r\nContent-Length: 12123\r\n'), q.head);
		assert.equal(pulls.length, 1, 'one chunk in memory at a time');
		for (let i = 0; i < 100 && q.state === 2; i++) q.writable(4096);
		assert.equal(q.state, 3, 'the body ended');
		const sent = (q.socket as FakeSecureSocket).records;
		assert.ok(
			sent.every((rec) => rec.length <= 4096 - 128),
			'no write larger than write() answered',
		);
		const all = new Uint8Array(12123);
		all.set(chunks[0]!, 0);
		all.set(chunks[1]!, 5000);
		all.set(chunks[2]!, 12000);
		assert.deepEqual([...q.sentBody], [...all]);
		assert.equal(progress[progress.length - 1], 12123);
		assert.ok(
			progress.every((n, i) => i === 0 || n > progress[i - 1]!),
			'progress only grows',
		);
		q.respond(200, { ETag: '"e"' });
		const res = await r.settled();
		assert.ok(res?.ok && res.value.status === 200 && res.value.headers.etag === '"e"', JSON.stringify(res));
	});

	it('with turnBytes 0 each requestFragment answers at most the room it was given, as http.js alone does', async () => {
		const { body } = source([pattern(3000)]);
		const r = start({ method: 'PUT', url: 'https://h/k', body }, { turnBytes: 0 });
		const q = r.request();
		q.connect();
		for (let i = 0; i < 100 && q.state === 2; i++) q.writable(1024);
		const sent = (q.socket as FakeSecureSocket).records;
		assert.ok(
			sent.every((rec) => rec.length <= 1024 - 128),
			sent.map((x) => x.length).join(','),
		);
		assert.deepEqual([...q.sentBody], [...pattern(3000)]);
		q.respond(200, {});
		assert.ok((await r.settled())?.ok);
	});

	it('a body shorter or longer than declared fails the request, not the caller', async () => {
		const short = start({ method: 'PUT', url: 'https://h/k', body: source([pattern(10)], 20).body });
		short.request().connect();
		for (let i = 0; i < 5; i++) short.request().writable(1024);
		assert.deepEqual(await short.settled(), { ok: false, error: 'body yielded 10 of 20 declared bytes' });
		const long = start({ method: 'PUT', url: 'https://h/k', body: source([pattern(30)], 20).body });
		long.request().connect();
		assert.deepEqual(await long.settled(), { ok: false, error: 'body yielded more than 20 declared bytes' });
		loop.turn();
		assert.equal(long.request().state, 11, 'closed on the next turn, not inside its callback');
	});

	it('a 2xx answer streams to onData; an error answer comes back whole even with onData', async () => {
		const got: number[] = [];
		const r = start({ method: 'GET', url: 'https://h/image', onData: (b) => got.push(b.length) });
		r.request().connect();
		r.request().respond(206, {}, pattern(5000), 1024);
		const res = await r.settled();
		assert.ok(res?.ok && res.value.body.length === 0, 'streamed, not kept');
		assert.deepEqual(got, [1024, 1024, 1024, 1024, 904]);
		const e = start({ method: 'GET', url: 'https://h/image', onData: () => assert.ok(false, 'no onData for a 403') });
		e.request().connect();
		e.request().respond(403, {}, pattern(100));
		const er = await e.settled();
		assert.ok(er?.ok && er.value.status === 403 && er.value.body.length === 100);
	});

	it('a fragment larger than READ_PIECE is read from the socket in pieces of at most READ_PIECE (no chunk the size of what piled up)', async () => {
		const got: number[] = [];
		const r = start({ method: 'GET', url: 'https://h/image', onData: (b) => got.push(b.length) });
		r.request().connect();
		r.request().respond(200, {}, pattern(24_896), 24_896);
		assert.ok((await r.settled())?.ok);
		assert.deepEqual(got, [...Array<number>(12).fill(READ_PIECE), 24_896 - 12 * READ_PIECE]);
		const w = start({ method: 'GET', url: 'https://h/doc' });
		w.request().connect();
		w.request().respond(200, {}, pattern(10_000, 3), 10_000);
		const res = await w.settled();
		assert.ok(res?.ok && res.value.body.length === 10_000 && res.value.body.every((b, i) => b === ((i * 3 + 5) & 0xff)), 'a whole body from pieces, in order');
	});

	it('a 2xx body over 64 KB without onData fails; an error document over 64 KB comes back cut to 64 KB', async () => {
		const big = start({ method: 'GET', url: 'https://h/x' });
		big.request().connect();
		big.request().respond(200, {}, new Uint8Array(MAX_WHOLE_BODY + 1), 4096);
		const r = await big.settled();
		assert.ok(!r?.ok && /over 65536 bytes: stream it with onData/.test(r!.ok ? '' : r!.error));
		loop.turn();
		const doc = start({ method: 'GET', url: 'https://h/x' });
		doc.request().connect();
		doc.request().respond(500, {}, new Uint8Array(MAX_WHOLE_BODY + 10), 4096);
		const d = await doc.settled();
		assert.ok(d?.ok && d.value.status === 500 && d.value.body.length === MAX_WHOLE_BODY);
	});

	it('the connection closing before an answer is an error result (http.js message -2), closed once', async () => {
		const before = start({ method: 'GET', url: 'https://h/x' });
		before.request().connect();
		before.request().fail();
		assert.deepEqual(await before.settled(), { ok: false, error: 'connection failed or closed before a response (http -2)' });
		assert.equal(requests.closes, 1, 'closed once, by http.js');
		loop.turn();
		assert.equal(requests.closes, 1, 'the adapter does not close it again');
	});

	it('an answer sent while the body is still going out is not seen; the request ends when the server closes', async () => {
		const { body } = source([pattern(50_000)]);
		const r = start({ method: 'PUT', url: 'https://h/k', body });
		const q = r.request();
		q.connect();
		q.respond(403, {}, pattern(10)); // S3's early 403 to an expired URL
		assert.equal(requests.ignored, 1);
		q.fail();
		const res = await r.settled();
		assert.ok(!res?.ok && /before a response/.test(res!.ok ? '' : res!.error));
	});

	it('the time limit fails the request and closes it on the next turn', async () => {
		const r = start({ method: 'GET', url: 'https://h/x', timeoutMs: 5000 });
		r.request().connect();
		loop.advance(4999);
		await flush();
		assert.equal(await Promise.race([r.settled(), flush().then(() => 'pending' as const)]), 'pending');
		loop.advance(1);
		assert.deepEqual(await r.settled(), { ok: false, error: 'timeout after 5000 ms' });
		loop.turn();
		assert.equal(r.request().state, 11, 'closed by a 0 ms timer after the one that failed it (no violation recorded)');
		r.request().respond(200, {}); // too late: ignored, nothing throws
	});

	it('onData throwing fails the request with the reason', async () => {
		const r = start({
			method: 'GET',
			url: 'https://h/x',
			onData: () => {
				throw new Error('slot full');
			},
		});
		r.request().connect();
		r.request().respond(200, {}, pattern(10));
		assert.deepEqual(await r.settled(), { ok: false, error: 'onData threw: slot full' });
		loop.turn();
	});

	it('plain http (a local stand-in) goes through the plain socket, default port 80 in Host left out', async () => {
		const r = start({ method: 'POST', url: 'http://127.0.0.1/register', body: source([text2bytes('{"a":1}')]).body });
		const q = r.request();
		assert.equal(q.dict.Socket, undefined, 'no securesocket for http');
		assert.equal(q.dict.secure, undefined);
		q.connect();
		assert.ok(q.head.includes('\r\nHost: 127.0.0.1\r\n'), q.head);
		for (let i = 0; i < 5 && q.state === 2; i++) q.writable(1024);
		assert.equal(text(q.sentBody), '{"a":1}');
		q.respond(201, {}, text2bytes('{}'));
		const res = await r.settled();
		assert.ok(res?.ok && res.value.status === 201 && text(res.value.body) === '{}');
	});
});

function text2bytes(s: string): Uint8Array {
	return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
