/* The host HttpPort against local node:http and node:https servers. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, issueServer } from '../../../cloud/local/dev-pki';
import type { HttpRequest } from '../../ports';
import { createHttpPort, MAX_WHOLE_BODY } from './http';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(handler: Handler, tls?: { cert: string; key: string }): Promise<{ url: string; close(): Promise<void> }> {
	const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
	await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
	const port = (server.address() as AddressInfo).port;
	return {
		url: (tls ? 'https' : 'http') + '://127.0.0.1:' + port,
		close: () =>
			new Promise<void>((r) => {
				server.closeAllConnections();
				server.close(() => r());
			}),
	};
}

/** A pull body of `length` bytes in `chunk`-byte pieces from a deterministic generator, one buffer reused. */
function pullBody(length: number, chunk: number, yieldBytes = length) {
	const buf = new Uint8Array(chunk);
	const hash = createHash('sha256');
	let made = 0;
	let pulls = 0;
	return {
		length,
		pulled: () => made,
		pulls: () => pulls,
		digest: () => hash.digest('hex'),
		next(): Uint8Array | undefined {
			if (made >= yieldBytes) return undefined;
			pulls++;
			const n = Math.min(chunk, yieldBytes - made);
			for (let i = 0; i < n; i++) buf[i] = (made + i) * 31 + ((made + i) >>> 8);
			made += n;
			const out = buf.subarray(0, n);
			hash.update(out);
			return out;
		},
	};
}

describe('host HttpPort', function () {
	this.timeout(20_000);
	const port = createHttpPort();
	const closers: (() => Promise<void>)[] = [];
	const start = async (h: Handler, tls?: { cert: string; key: string }) => {
		const s = await serve(h, tls);
		closers.push(s.close);
		return s.url;
	};
	afterEach(async () => {
		await Promise.all(closers.splice(0).map((c) => c()));
	});

	it('streams a 2 MB PUT with its Content-Length, pulling chunks as the socket drains, and it arrives intact', async () => {
		let received: { length: string | undefined; bytes: number; sha: string } | undefined;
		const url = await start((req, res) => {
			const hash = createHash('sha256');
			let bytes = 0;
			req.on('data', (c: Buffer) => ((bytes += c.length), hash.update(c)));
			req.on('end', () => {
				received = { length: req.headers['content-length'], bytes, sha: hash.digest('hex') };
				res.writeHead(200, { etag: '"x"' }).end();
			});
		});
		const body = pullBody(2 * 1024 * 1024, 4096 + 60);
		const progress: number[] = [];
		const out = await port.request({ method: 'PUT', url: url + '/maps/m-1.esdk', body, onProgress: (n) => progress.push(n) });
		assert.ok(out.ok, !out.ok ? out.error : '');
		assert.equal(out.value.status, 200);
		assert.equal(out.value.headers.etag, '"x"');
		assert.deepEqual(received, { length: String(2 * 1024 * 1024), bytes: 2 * 1024 * 1024, sha: body.digest() });
		assert.equal(progress.at(-1), 2 * 1024 * 1024);
		assert.ok(
			progress.every((n, i) => i === 0 || n > progress[i - 1]!),
			'progress only grows',
		);
	});

	it('stops pulling while the server does not read (backpressure)', async () => {
		const total = 32 * 1024 * 1024;
		let resume: () => void = () => {};
		const paused = new Promise<void>((r) => (resume = r));
		let bytes = 0;
		const url = await start((req, res) => {
			req.pause();
			void paused.then(() => {
				req.on('data', (c: Buffer) => (bytes += c.length));
				req.on('end', () => res.writeHead(204).end());
				req.resume();
			});
		});
		const body = pullBody(total, 4096);
		const done = port.request({ method: 'PUT', url, body });
		await new Promise((r) => setTimeout(r, 300));
		const whilePaused = body.pulled();
		assert.ok(whilePaused < total / 2, `pulled ${whilePaused} of ${total} bytes while the server read nothing`);
		resume();
		const out = await done;
		assert.ok(out.ok && out.value.status === 204);
		assert.equal(bytes, total);
	});

	it('fails a body that yields fewer bytes than declared, and the server sees no complete request', async () => {
		let serverSaw: string | undefined;
		const url = await start((req, res) => {
			let n = 0;
			req.on('data', (c: Buffer) => (n += c.length));
			req.on('end', () => ((serverSaw = 'complete ' + n), res.end()));
			req.on('aborted', () => (serverSaw = 'aborted'));
			req.on('close', () => (serverSaw ??= 'closed'));
		});
		const out = await port.request({ method: 'PUT', url, body: pullBody(100_000, 4096, 99_000) });
		assert.equal(out.ok, false);
		assert.match(!out.ok ? out.error : '', /body yielded 99000 of 100000 declared bytes/);
		await new Promise((r) => setTimeout(r, 100));
		assert.notEqual(serverSaw?.startsWith('complete'), true, 'server saw ' + serverSaw);
	});

	it('fails a body that yields more bytes than declared, or throws', async () => {
		const url = await start((req, res) => void req.resume().on('end', () => res.end()));
		const more = await port.request({ method: 'PUT', url, body: pullBody(10_000, 4096, 20_000) });
		assert.equal(more.ok, false);
		assert.match(!more.ok ? more.error : '', /more than 10000 declared bytes/);
		const throws = await port.request({
			method: 'PUT',
			url,
			body: {
				length: 10,
				next() {
					throw new Error('flash read failed');
				},
			},
		});
		assert.deepEqual(throws, { ok: false, error: 'body.next threw: flash read failed' });
	});

	const object = randomBytes(200_000);
	const rangeServer: Handler = (req, res) => {
		const m = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
		if (req.url === '/missing') return void res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
		if (!m) return void res.writeHead(200, { 'content-length': object.length }).end(object);
		const [s, e] = [Number(m[1]), Math.min(Number(m[2]), object.length - 1)];
		res.writeHead(206, { 'content-range': `bytes ${s}-${e}/${object.length}`, 'content-length': e - s + 1 }).end(object.subarray(s, e + 1));
	};

	it('streams a GET to onData, with a Range header passed as given', async () => {
		const url = await start(rangeServer);
		const got: Buffer[] = [];
		const ranged = await port.request({ method: 'GET', url: url + '/fw.bin', headers: { Range: 'bytes=1000-150999' }, onData: (c) => got.push(Buffer.from(c)) });
		assert.ok(ranged.ok);
		assert.equal(ranged.value.status, 206);
		assert.equal(ranged.value.headers['content-range'], 'bytes 1000-150999/200000');
		assert.equal(ranged.value.body.length, 0);
		assert.ok(Buffer.concat(got).equals(object.subarray(1000, 151_000)));

		const small = await port.request({ method: 'GET', url: url + '/fw.bin', headers: { range: 'bytes=0-99' } });
		assert.ok(small.ok && small.value.status === 206);
		assert.ok(Buffer.from(small.value.body).equals(object.subarray(0, 100)));
	});

	it('returns an error answer whole instead of streaming it, and refuses a large body without onData', async () => {
		const url = await start(rangeServer);
		let called = 0;
		const missing = await port.request({ method: 'GET', url: url + '/missing', onData: () => called++ });
		assert.ok(missing.ok);
		assert.equal(missing.value.status, 404);
		assert.match(Buffer.from(missing.value.body).toString(), /NoSuchKey/);
		assert.equal(called, 0);
		const whole = await port.request({ method: 'GET', url: url + '/fw.bin' });
		assert.equal(whole.ok, false);
		assert.match(!whole.ok ? whole.error : '', new RegExp('over ' + MAX_WHOLE_BODY + ' bytes'));
	});

	it('times out a server that does not answer, and reports a refused connection, never rejecting', async () => {
		const url = await start(() => {});
		const t0 = Date.now();
		const out = await port.request({ method: 'GET', url, timeoutMs: 200 });
		assert.deepEqual(out, { ok: false, error: 'timeout after 200 ms' });
		assert.ok(Date.now() - t0 < 2000);

		const slowBody = await port.request({ method: 'PUT', url, body: pullBody(64 * 1024 * 1024, 65536), timeoutMs: 200 });
		assert.deepEqual(slowBody, { ok: false, error: 'timeout after 200 ms' });

		const refused = await port.request({ method: 'GET', url: 'http://127.0.0.1:1/' });
		assert.equal(refused.ok, false);
		assert.match(!refused.ok ? refused.error : '', /ECONNREFUSED/);
		const bad = await port.request({ method: 'GET', url: 'ftp://x/' } as HttpRequest);
		assert.deepEqual(bad, { ok: false, error: 'unsupported scheme ftp:' });
		const throwing = await port.request({
			method: 'GET',
			url: (await start(rangeServer)) + '/fw.bin',
			onData: () => {
				throw new Error('flash full');
			},
		});
		assert.deepEqual(throwing, { ok: false, error: 'onData threw: flash full' });
	});

	it('speaks https trusting only the CA it is given', async () => {
		const ca = await createCa('Test CA');
		const server = await issueServer(ca);
		const url = await start((_req, res) => res.end('hello'), { cert: server.certPem, key: server.keyPem });
		const trusted = await createHttpPort({ ca: ca.certDer }).request({ method: 'GET', url });
		assert.ok(trusted.ok);
		assert.equal(Buffer.from(trusted.value.body).toString(), 'hello');
		const other = await createCa('Other CA');
		const untrusted = await createHttpPort({ ca: other.certPem }).request({ method: 'GET', url });
		assert.equal(untrusted.ok, false);
		assert.match(!untrusted.ok ? untrusted.error : '', /self[- ]signed|unable to verify|certificate/i);
	});
});
