/*
 * LineChannel over TCP (what the device suite uses against the lin build's listener), with
 * the firmware's own session code behind a node:net server standing in for the robot.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { createTestSession } from '../../firmware/core/testcmd/channel';
import { createTestControl } from '../../firmware/core/testcmd/control';
import { connectChannel } from './channel';

describe('hil test channel over TCP', () => {
	let server: net.Server;
	let port: number;
	const sockets = new Set<net.Socket>();
	let calls: string[];

	before(async () => {
		const control = createTestControl(() => ({ offline: () => void calls.push('offline'), online() {}, mission: () => 'm-1', clockJump() {}, status: () => ({ link: 'connected' }) }), { log() {} });
		server = net.createServer((s) => {
			sockets.add(s);
			const session = createTestSession(control);
			// a log line first, as on a console: the channel keeps it and matches only replies
			s.write('{"level":"info","event":"hello"}\n');
			s.on('data', (b: Buffer) => {
				for (const r of session.push(new Uint8Array(b))) {
					// in two pieces, as a driver may hand them over
					s.write(r.slice(0, 5));
					s.write(r.slice(5) + '\r\n');
				}
			});
			s.on('close', () => sockets.delete(s));
		});
		await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
		port = (server.address() as net.AddressInfo).port;
	});
	beforeEach(() => {
		calls = [];
	});
	after(() => new Promise<void>((r) => server.close(() => r())));

	it('matches replies by id among log lines; refusals of bad lines come back as replies', async () => {
		const { channel, close } = await connectChannel('127.0.0.1', port);
		assert.deepEqual(await channel.command({ cmd: 'offline' }), { reply: 1, ok: true });
		assert.deepEqual(calls, ['offline']);
		const r = await channel.invalid({ cmd: 'reboot' });
		assert.ok(!r.ok && r.reply === 2 && r.error.code === 'bad');
		const since = channel.lines.length;
		channel.writeLine('not json');
		const l = await channel.waitFor('refusal', (x) => x.json?.reply === null, { since, timeoutMs: 2000 });
		assert.match(l.text, /not JSON/);
		assert.equal(channel.lines[0]!.json?.event, 'hello');
		await close();
	});

	it('fails what is pending when the robot hangs up, and refuses requests after', async () => {
		const { channel, close } = await connectChannel('127.0.0.1', port);
		await channel.waitFor('hello', (x) => x.json?.event === 'hello', { timeoutMs: 2000 });
		for (const s of sockets) s.pause();
		const pending = channel.command({ cmd: 'status' });
		for (const s of sockets) s.destroy();
		// a reset (the request unread) or a plain close: either way the request fails, it does not hang
		await assert.rejects(pending, /closed|ECONNRESET/);
		await assert.rejects(channel.command({ cmd: 'status' }), /not open/);
		await close();
	});

	it('says where it could not connect', async () => {
		await assert.rejects(connectChannel('127.0.0.1', 1), /test channel 127\.0\.0\.1:1/);
	});
});
