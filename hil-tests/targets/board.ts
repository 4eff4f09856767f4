/*
 * The `board` target: a real board (ESP32) on a serial port, running a test build whose
 * console reads test-control lines (firmware/core/testcmd) and prints the firmware's
 * JSON log lines. The rig resets it with the USB-serial bridge's modem lines as
 * esptool does (RTS drives EN through the board's auto-reset transistors, DTR drives
 * GPIO0; DTR stays released so it boots the app, not the ROM loader). Holding EN low is
 * the power loss: RAM and the link are gone, NVS (Preference) survives.
 *
 * The serial stream is injected, so tests drive the framing with serialport's
 * MockBinding (board.test.ts). The request/reply side is LineChannel (channel.ts), the
 * same code the device suite drives the lin build with over TCP (scenario testcmd).
 */
import { SerialPort } from 'serialport';
import type { SerialPortStream } from '@serialport/stream';
import { LineChannel } from './channel';
import type { RobotUnderTest, Target } from './target';

export interface BoardTargetOptions {
	readonly path: string;
	readonly baudRate: number;
	/** The thing name the board was provisioned with. */
	readonly thing: string;
	readonly echo?: (thing: string, line: string) => void;
	/** The port; default a real `SerialPort` (tests pass a SerialPortMock). */
	readonly open?: (path: string, baudRate: number) => SerialPortStream;
	/** How long EN is held low for a reset (esptool: 100 ms). */
	readonly resetMs?: number;
	/** Until the first log line after a reset (a board boots in about a second; TLS to AWS adds more). */
	readonly bootTimeoutMs?: number;
}

export function boardTarget(o: BoardTargetOptions): Target {
	let board: Board | undefined;
	return {
		name: 'board',
		async boot(thing, options) {
			if (thing !== o.thing) throw new Error(`the board is provisioned as ${o.thing}; a scenario asked for ${thing}`);
			// the test build's endpoint, map size and signing certificate are build settings, not boot options
			void options;
			if (!board) {
				board = new Board(o);
				await board.open();
			}
			await board.powerOn();
			return board;
		},
		async close() {
			await board?.close();
		},
	};
}

export class Board implements RobotUnderTest {
	readonly thing: string;
	readonly #o: BoardTargetOptions;
	readonly #channel: LineChannel;
	#port: SerialPortStream | undefined;

	constructor(o: BoardTargetOptions) {
		this.#o = o;
		this.thing = o.thing;
		this.#channel = new LineChannel(o.echo ? (line) => o.echo!(o.thing, line) : undefined);
	}

	get lines() {
		return this.#channel.lines;
	}

	async open(): Promise<void> {
		const port = this.#o.open ? this.#o.open(this.#o.path, this.#o.baudRate) : new SerialPort({ path: this.#o.path, baudRate: this.#o.baudRate, autoOpen: false });
		await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(new Error(`${this.#o.path}: ${e.message}`)) : resolve())));
		port.on('data', (chunk: Buffer) => this.received(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
		port.on('error', (e: Error) => this.#channel.failAll(`${this.#o.path}: ${e.message}`));
		this.#port = port;
		this.#channel.attach((l) => void port.write(l));
	}

	/** Bytes from the board, in whatever pieces the driver hands over. */
	received(bytes: Uint8Array): void {
		this.#channel.received(bytes);
	}

	command(command: Parameters<RobotUnderTest['command']>[0]) {
		return this.#channel.command(command, 'the serial port');
	}

	waitFor(what: string, match: Parameters<RobotUnderTest['waitFor']>[1], options?: Parameters<RobotUnderTest['waitFor']>[2]) {
		return this.#channel.waitFor(`board ${this.thing}: ${what}`, match, options);
	}

	async powerLoss(): Promise<void> {
		await this.#set({ dtr: false, rts: true });
	}

	async powerOn(): Promise<void> {
		await this.#set({ dtr: false, rts: true });
		await new Promise((r) => setTimeout(r, this.#o.resetMs ?? 100));
		const since = this.#channel.lines.length;
		await this.#set({ dtr: false, rts: false });
		await this.waitFor('first log line after reset', (l) => typeof l.json?.event === 'string', { since, timeoutMs: this.#o.bootTimeoutMs ?? 20_000 });
	}

	async stop(): Promise<void> {
		// a board is not stopped between scenarios; it keeps running its build
	}

	async close(): Promise<void> {
		const port = this.#port;
		this.#port = undefined;
		this.#channel.attach(undefined);
		this.#channel.failAll('the serial port closed');
		if (port?.isOpen) await new Promise<void>((resolve, reject) => port.close((e) => (e ? reject(e) : resolve())));
	}

	#set(lines: { dtr: boolean; rts: boolean }): Promise<void> {
		const port = this.#port;
		if (!port) return Promise.reject(new Error('the serial port is not open'));
		return new Promise((resolve, reject) => port.set(lines, (e) => (e ? reject(e) : resolve())));
	}
}
