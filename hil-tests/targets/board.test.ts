/*
 * The board target's serial side without a board: serialport's MockBinding stands in for
 * the USB bridge. Framing of log lines and replies in arbitrary pieces, commands written
 * as one line each, and the reset sequence on the modem lines.
 */
import assert from 'node:assert/strict';
import { SerialPortMock } from 'serialport';
import { Board } from './board';

describe('hil board target: serial framing (MockBinding)', () => {
	const path = '/dev/hil-mock';
	let board: Board;
	let port: SerialPortMock;
	const modem: { dtr?: boolean; rts?: boolean }[] = [];
	const MockBinding = SerialPortMock.binding;
	const binding = () => port.port!;
	const emit = (s: string) => binding().emitData(Buffer.from(s));

	beforeEach(async () => {
		MockBinding.reset();
		MockBinding.createPort(path, { record: true, echo: false });
		modem.length = 0;
		board = new Board({
			path,
			baudRate: 115200,
			thing: 'robot-board-1',
			resetMs: 1,
			bootTimeoutMs: 2000,
			open: (p, baudRate) => {
				port = new SerialPortMock({ path: p, baudRate, autoOpen: false });
				return port;
			},
		});
		await board.open();
		const set = binding().set.bind(binding());
		binding().set = (o: Parameters<typeof set>[0]) => {
			modem.push({ dtr: o.dtr, rts: o.rts });
			return set(o);
		};
	});
	afterEach(async () => {
		await board.close();
		MockBinding.reset();
	});

	it('resets with RTS (EN) while DTR (GPIO0) stays released, and waits for the first log line', async () => {
		const on = board.powerOn();
		setTimeout(() => {
			emit('ets Jun  8 2016 00:22:57\r\nrst:0x1 (POWERON_RESET)\r\n{"t":12,"level":"info",');
			emit('"event":"link.connecting"}\r\n');
		}, 20);
		await on;
		assert.deepEqual(modem, [
			{ dtr: false, rts: true },
			{ dtr: false, rts: false },
		]);
		assert.deepEqual(
			board.lines.map((l) => l.json?.event ?? l.text),
			['ets Jun  8 2016 00:22:57', 'rst:0x1 (POWERON_RESET)', 'link.connecting'],
		);
		await board.powerLoss();
		assert.deepEqual(modem.at(-1), { dtr: false, rts: true });
	});

	it('writes one command line and matches the reply among log lines, whatever the pieces', async () => {
		const reply = board.command({ cmd: 'status' });
		await new Promise((r) => setTimeout(r, 20));
		assert.equal(binding().recording.toString(), '{"id":1,"cmd":"status"}\n');
		emit('{"t":40,"level":"info","event":"schedule.applied"}\n{"reply":1,"ok":tr');
		emit('ue,"status":{"link":"connected"}}\r\n');
		assert.deepEqual(await reply, { reply: 1, ok: true, status: { link: 'connected' } });
		assert.equal(board.lines[0]!.json?.event, 'schedule.applied');
	});

	it('skips an overlong line and keeps reading', async () => {
		emit('x'.repeat(3000) + '\n{"event":"after"}\n');
		const l = await board.waitFor('after', (x) => x.json?.event === 'after', { timeoutMs: 2000 });
		assert.equal(l.json?.event, 'after');
		assert.match(board.lines[0]!.text, /line over 1024 bytes skipped/);
	});

	it('fails a command cleanly when the port closes', async () => {
		const reply = board.command({ cmd: 'online' });
		await board.close();
		await assert.rejects(reply, /serial port closed/);
		await assert.rejects(board.command({ cmd: 'online' }), /not open/);
	});
});
