/*
 * The SDK facts on the real runtime (lin, mcsim; built and run by tools/sdk-facts.ts): first the facts
 * shared with the fakes (facts.ts), then what the securesocket, http and sntp fakes model
 * from the network side, against tools/sdk-facts.ts's local TLS and HTTP servers:
 * - securesocket: message 1 first; write() answers a number and a longer write throws
 *   "can't write all data"; readable messages of at most 1024 bytes, read whole inside the
 *   callback, undefined once read; read outside the callback throws; the server's close is a
 *   negative message, then nothing; write after it throws.
 * - http: Request.responseFragment 4, Request.error -2; GET: status, headers, headersComplete,
 *   fragments read with read(ArrayBuffer, n), responseComplete; a pulled body (body: true) asks
 *   with message 0 and the room, ends at undefined; a connection dropped before any answer is -2.
 * - sntp: a host that does not resolve is reported as SNTP.error (-1) with "cannot resolve".
 * - ECMA-419 listener and tcp (lin): onReadable counts waiting connections, read() hands one
 *   over and answers undefined when none waits; new TCP({from}) uses `from` up (a second one
 *   throws "C: xsGetHostData: invalid host data"); onWritable(1536);
 *   a write past it throws "would block"; onReadable(n) then read(n + 1) throws "invalid", read()
 *   once all is read answers undefined; the peer's close is onError, a write after it is ignored.
 *   tools/sdk-facts.ts connects when the app traces `listening <port>`.
 * Every observation is traced as `observed {...}`; the verdict is PASS or FAIL: reasons.
 */
/// <reference path="../../moddable-crypto.d.ts" />
import config from 'mc/config';
import SecureSocket from 'securesocket';
import { Request } from 'http';
import SNTP from 'sntp';
import Listener from 'embedded:io/socket/listener';
import TCP from 'embedded:io/socket/tcp';
import Timer from 'timer';
import { runFacts } from './facts';

const failures: string[] = [];
const say = (line: string) => trace(line + '\n');
const observed = (what: string, v: unknown) => say('observed ' + JSON.stringify({ what, v }));
const check = (ok: boolean, why: string) => {
	if (!ok) failures.push(why);
};
const wait = (ms: number) => new Promise<void>((done) => Timer.set(() => done(), ms));
const cfg = config as unknown as { tlsPort: string; httpPort: string; tlsCa: string };
const fromHex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));

function tls(): Promise<void> {
	return new Promise((done) => {
		const messages: number[] = [];
		const readable: number[] = [];
		let total = 0;
		let after: string[] = [];
		const s = new SecureSocket({
			host: '127.0.0.1',
			port: Number(cfg.tlsPort),
			secure: { protocolVersion: 0x0303, serverName: 'localhost', certificate: fromHex(cfg.tlsCa).buffer },
		});
		const end = () => {
			observed('securesocket.messages', messages);
			observed('securesocket.readable', readable);
			observed('securesocket.after', after);
			check(messages[0] === 1, 'securesocket: first message ' + messages[0]);
			check(
				readable.every((n) => n > 0 && n <= 1024),
				'securesocket: readable sizes ' + readable.join(','),
			);
			check(total === 3000, 'securesocket: read ' + total + ' of 3000');
			done();
		};
		s.callback = (message: number, value?: number) => {
			messages.push(message);
			if (message === 1) {
				const room = s.write();
				observed('securesocket.write()', room);
				check(typeof room === 'number' && room > 0, 'securesocket: write() answered ' + room);
				try {
					s.write(new ArrayBuffer(room + 1));
					check(false, 'securesocket: a write over write() did not throw');
				} catch (e) {
					observed('securesocket.overwrite', String((e as Error).message));
					check(/can't write all data/.test(String((e as Error).message)), 'securesocket: overwrite threw ' + String(e));
				}
			} else if (message === 2) {
				readable.push(value ?? -1);
				const b = s.read(ArrayBuffer);
				total += b?.byteLength ?? 0;
				check(b?.byteLength === value, 'securesocket: read ' + b?.byteLength + ' of ' + value);
				check(s.read(ArrayBuffer) === undefined, 'securesocket: a second read is not undefined');
				if (total === 3000)
					Timer.set(() => {
						try {
							s.read(ArrayBuffer);
							after.push('read outside: no throw');
						} catch (e) {
							after.push('read outside: ' + (e as Error).name);
						}
						s.write('close-me');
					}, 0);
			} else if (message < 0) {
				Timer.set(() => {
					try {
						s.write('x');
						after.push('write after close: no throw');
					} catch (e) {
						after.push('write after close: ' + (e as Error).name);
					}
					Timer.set(end, 200); // nothing more may arrive
				}, 0);
			}
		};
	});
}

function http(path: string, method: string, body?: Uint8Array): Promise<{ log: unknown[]; got: number }> {
	return new Promise((done) => {
		const log: unknown[] = [];
		let got = 0;
		let sent = false;
		const r = new Request({ host: '127.0.0.1', port: Number(cfg.httpPort), path, method, ...(body ? { body: true, headers: ['Content-Length', body.length] } : {}) });
		r.callback = (message: number, value?: unknown, etc?: unknown) => {
			if (message === 0) {
				log.push([0, typeof value]);
				if (sent) return undefined;
				sent = true;
				return body!.slice().buffer;
			}
			if (message === 4) {
				const b = r.read(ArrayBuffer, Number(value));
				got += b?.byteLength ?? 0;
				log.push([4, 'n']);
				return undefined;
			}
			log.push(message === 2 ? [2, String(value), String(etc)] : [message, message === 1 ? value : message < 0 ? 'err' : undefined]);
			if (message === 5 || message < 0) Timer.set(() => done({ log, got }), 50);
			return undefined;
		};
	});
}

function sntp(): Promise<void> {
	return new Promise((done) => {
		const seen: unknown[] = [];
		const t = Timer.set(() => {
			check(false, 'sntp: no answer in 20 s for an unresolvable host');
			done();
		}, 20_000);
		new SNTP({ host: 'nonexistent.invalid' }, (message: number, value?: number | string) => {
			seen.push([message, String(value)]);
			if (message === SNTP.error) {
				Timer.clear(t);
				observed('sntp', seen);
				check(/cannot resolve/.test(String(value)), 'sntp: error ' + String(value));
				Timer.set(() => done(), 0);
			}
			return undefined;
		});
	});
}

function listener(): Promise<void> {
	return new Promise((done) => {
		const seen: unknown[] = [];
		let wrote = false;
		let socket: TCP | undefined;
		const finish = () => {
			observed('tcp', seen);
			const expect = [
				['listener.onReadable', 1],
				['listener.read again', 'undefined'],
				['from again', 'C: xsGetHostData: invalid host data'],
				['onWritable', 1536],
				['overwrite', 'would block'],
				['onReadable', 5],
				['read(n+1)', 'invalid'],
				['read', 'ping\n'],
				['read again', 'undefined'],
				['onError'],
				['write after error', 'no throw'],
			];
			check(JSON.stringify(seen) === JSON.stringify(expect), 'ecma-419 tcp: ' + JSON.stringify(seen));
			(l as unknown as { close(): void }).close(); // listener.js has it; the SDK's typings leave it out
			done();
		};
		const l = new Listener({
			port: 0,
			onReadable(n) {
				seen.push(['listener.onReadable', n]);
				const from = l.read()!;
				seen.push(['listener.read again', String(l.read())]);
				socket = new TCP({
					from,
					format: 'buffer',
					onWritable(room) {
						if (wrote) return;
						wrote = true;
						seen.push(['onWritable', room]);
						try {
							socket!.write(new ArrayBuffer(room + 1));
							seen.push(['overwrite', 'no throw']);
						} catch (e) {
							seen.push(['overwrite', String((e as Error).message).replace(/ \(in .*\)$/, '')]);
						}
						socket!.write(Uint8Array.from('hello\n', (c) => c.charCodeAt(0)));
					},
					onReadable(count) {
						seen.push(['onReadable', count]);
						try {
							socket!.read(count + 1);
							seen.push(['read(n+1)', 'no throw']);
						} catch (e) {
							seen.push(['read(n+1)', String((e as Error).message).replace(/ \(in .*\)$/, '')]);
						}
						const b = socket!.read(count) as ArrayBuffer;
						seen.push(['read', String.fromCharCode(...new Uint8Array(b))]);
						seen.push(['read again', String(socket!.read())]);
					},
					onError() {
						seen.push(['onError']);
						try {
							socket!.write(Uint8Array.of(1));
							seen.push(['write after error', 'no throw']);
						} catch (e) {
							seen.push(['write after error', (e as Error).message]);
						}
						socket!.close();
						Timer.set(finish, 100);
					},
				});
				try {
					new TCP({ from });
					seen.push(['from again', 'no throw']);
				} catch (e) {
					seen.push(['from again', String((e as Error).message).replace(/ \(in .*\)$/, '')]);
				}
			},
		});
		say('listening ' + l.port);
	});
}

async function main() {
	const f = await runFacts(wait, say);
	failures.push(...f);
	await tls();
	observed('Request.responseFragment', (Request as unknown as Record<string, number>).responseFragment);
	observed('Request.error', (Request as unknown as Record<string, number>).error);
	check((Request as unknown as Record<string, number>).error === -2, 'http: Request.error is not -2');
	const get = await http('/facts', 'GET');
	observed('http.get', get);
	// collapse the fragments: how many there are depends on the socket
	const kinds = (get.log as unknown[][]).map((e) => e[0]).filter((k, i, a) => !(k === 4 && a[i - 1] === 4));
	check(JSON.stringify(kinds) === JSON.stringify([1, 2, 2, 2, 2, 3, 4, 5]), 'http GET messages ' + JSON.stringify(kinds));
	check(get.got === 5000, 'http GET body ' + get.got);
	const post = await http(
		'/echo',
		'POST',
		Uint8Array.from({ length: 100 }, (_, i) => i),
	);
	observed('http.post', post);
	check(post.got === 3, 'http POST answer ' + post.got);
	const drop = await http('/drop', 'GET');
	observed('http.drop', drop);
	check(JSON.stringify(drop.log) === JSON.stringify([[-2, 'err']]), 'http drop messages ' + JSON.stringify(drop.log));
	await sntp();
	await listener();
	say(failures.length ? 'FAIL: ' + failures.join('; ') : 'PASS');
}

main().catch((e) => say('FAIL: ' + String((e as Error)?.message ?? e)));
Timer.set(() => say('FAIL: time limit'), 50_000);
