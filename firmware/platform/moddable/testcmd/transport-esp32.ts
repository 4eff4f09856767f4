/*
 * The test-control transport of the esp32 build: the console UART through ECMA-419
 * `embedded:io/serial` (modules/io/serial/esp32), the port the rig's USB bridge is on
 * (hil-tests/targets/board.ts). The firmware's trace() log lines share that UART; the
 * rig tells replies (`{"reply":...`) from log lines. Same exports as transport.ts (lin).
 *
 * Not built here (no ESP-IDF). What Moddable's esp32 serial implies: the constructor
 * throws "port in use" when a UART driver is installed on that port, which a debug build
 * does for xsbug on UART0: a board test build is a release build (or xsbug on another UART).
 * Writes beyond the free TX FIFO throw, so replies go out through Output as room is reported.
 */
import Serial from 'embedded:io/serial';
import type { LogPort } from '../../../ports';
import type { SessionHooks, TestTransport, TransportOptions } from './transport-types';
import { Output } from '../../../core/testcmd/output';

export type { SessionHooks, TestTransport, TransportOptions } from './transport-types';

/** ESP32 UART0 pins: TX GPIO1, RX GPIO3 (the USB bridge's). */
const CONSOLE_PINS = Object.freeze({ transmit: 1, receive: 3 });

export function openTestTransport(o: TransportOptions, hooks: SessionHooks, log: LogPort): TestTransport {
	const uart = o.uart ?? 0;
	const baud = o.baud ?? 115200;
	const session = hooks.open();
	let serial: Serial | undefined;
	const output = new Output((bytes) => serial?.write(bytes), log);
	serial = new Serial({
		port: uart,
		...CONSOLE_PINS,
		baud,
		format: 'buffer',
		onReadable(count) {
			const bytes = serial!.read(count) as ArrayBuffer | undefined;
			if (!bytes) return;
			for (const reply of session.push(new Uint8Array(bytes))) output.send(reply);
		},
		onWritable(room) {
			output.writable(room);
		},
	});
	return {
		where: 'uart' + uart + '@' + baud,
		close() {
			serial?.close();
			serial = undefined;
		},
	};
}
