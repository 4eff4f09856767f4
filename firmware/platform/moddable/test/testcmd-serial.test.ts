/*
 * The test-control transport of the esp32 build (../testcmd/transport-esp32.ts) inside XS over a
 * fake of ECMA-419 `embedded:io/serial` as esp32 has it (fakes/embedded-io-serial.ts, from the
 * sources: 128-byte FIFOs, "output full", "port in use"): the console UART's pins and speed,
 * replies written only within the FIFO's free room, a port already taken by a debug build.
 */
import * as assert from '../../../core/testing/assert';
import { memoryLog } from '../../../core/testing/fakes';
import { utf8Decode } from '../../../core/util/utf8';
import { openTestTransport } from '../testcmd/transport-esp32';
import { FIFO, serialFake } from './fakes/embedded-io-serial';

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
function replies(times: number) {
	let buffered = '';
	return {
		push(b: Uint8Array): string[] {
			buffered += utf8Decode(b);
			const lines = buffered.split('\n');
			buffered = lines.pop() ?? '';
			return lines.flatMap((l) => Array.from({ length: times }, (_, i) => '{"reply":"' + l + '","n":' + i + '}'));
		},
	};
}

describe('moddable test-control transport (esp32 UART) over ECMA-419 serial', () => {
	beforeEach(() => serialFake.reset());

	it('opens the console UART (port 0, TX 1, RX 3) at 115200 by default, or the port and speed asked', () => {
		const t = openTestTransport({}, { open: () => replies(1) }, memoryLog());
		const o = serialFake.all[0]!.options;
		assert.deepEqual([o.port, o.transmit, o.receive, o.baud, o.format], [0, 1, 3, 115200, 'buffer']);
		assert.equal(t.where, 'uart0@115200');
		const other = openTestTransport({ uart: 1, baud: 921600 }, { open: () => replies(1) }, memoryLog());
		assert.equal(other.where, 'uart1@921600');
	});

	it("answers lines in pieces of at most the FIFO's free room, the rest when it drains", () => {
		openTestTransport({}, { open: () => replies(10) }, memoryLog());
		const s = serialFake.all[0]!;
		s.receive(bytes('status\n'));
		assert.equal(s.text, '', 'nothing before the UART said it has room');
		s.drain();
		assert.ok(s.sent.reduce((n, b) => n + b.length, 0) <= FIFO);
		for (let i = 0; i < 10; i++) s.drain();
		assert.equal(s.text, Array.from({ length: 10 }, (_, i) => '{"reply":"status","n":' + i + '}\n').join(''));
	});

	it('a UART already taken (xsbug on UART0 in a debug build) throws at open: a test build is a release build', () => {
		serialFake.inUse = [0];
		assert.throws(() => openTestTransport({}, { open: () => replies(1) }, memoryLog()), /port in use/);
	});

	it('close() closes the port', () => {
		const t = openTestTransport({}, { open: () => replies(1) }, memoryLog());
		const s = serialFake.all[0]!;
		t.close();
		assert.equal(s.isOpen, false);
	});
});
