/*
 * The rig's end of a test-control channel, whatever carries the bytes: a board's serial
 * port (board.ts) or the lin build's TCP listener (test/device, scenario testcmd). Lines
 * are framed with the firmware's own LineReader; reply lines settle requests by id, every
 * line (log or reply) goes to the log.
 */
import net from 'node:net';
import { LineReader, MAX_LINE_BYTES } from '../../firmware/core/testcmd/lines';
import { parseReply, type TestCommand, type TestReply } from '../../firmware/core/testcmd/protocol';
import { LineLog, Requests, type RobotLine } from './target';

export class LineChannel {
	readonly #log = new LineLog();
	readonly #requests = new Requests();
	readonly #reader = new LineReader(MAX_LINE_BYTES);
	readonly #echo: ((line: string) => void) | undefined;
	#write: ((line: string) => void) | undefined;

	constructor(echo?: (line: string) => void) {
		this.#echo = echo;
	}

	get lines(): readonly RobotLine[] {
		return this.#log.lines;
	}

	/** Where request lines go; undefined while nothing is attached (requests are refused). */
	attach(write: ((line: string) => void) | undefined): void {
		this.#write = write;
	}

	/** Bytes from the robot, in whatever pieces the driver hands over. */
	received(bytes: Uint8Array): void {
		for (const e of this.#reader.push(bytes)) {
			// boot ROM noise at 74880 baud and overlong lines are logged, not parsed
			const text = e.kind === 'line' ? e.text : e.kind === 'overlong' ? `[rig: line over ${MAX_LINE_BYTES} bytes skipped]` : '[rig: line not UTF-8]';
			const reply = e.kind === 'line' ? parseReply(text) : undefined;
			if (reply) this.#requests.answer(reply);
			this.#log.add(text);
			this.#echo?.(text);
		}
	}

	command(command: TestCommand, what = 'the channel'): Promise<TestReply> {
		const write = this.#write;
		if (!write) return Promise.reject(new Error(`${what} is not open`));
		return this.#requests.send(write, command);
	}

	/** A request the firmware must refuse (unknown command, extra field...): still numbered, so its reply is matched. */
	invalid(fields: Record<string, unknown>, what = 'the channel'): Promise<TestReply> {
		const write = this.#write;
		if (!write) return Promise.reject(new Error(`${what} is not open`));
		return this.#requests.sendFields(write, fields);
	}

	/** A raw line (not even JSON): its refusal carries no id; wait for it with waitFor. */
	writeLine(line: string): void {
		if (!this.#write) throw new Error('the channel is not open');
		this.#write(line + '\n');
	}

	waitFor(what: string, match: (l: RobotLine) => boolean, options?: { since?: number; timeoutMs?: number }): Promise<RobotLine> {
		return this.#log.waitFor(what, match, options);
	}

	failAll(why: string): void {
		this.#requests.failAll(why);
	}
}

/** A channel over TCP (the lin test build's listener); `close()` ends it and fails what is pending. */
export async function connectChannel(host: string, port: number, echo?: (line: string) => void): Promise<{ channel: LineChannel; close(): Promise<void> }> {
	const socket = net.connect({ host, port });
	await new Promise<void>((resolve, reject) => {
		socket.once('connect', resolve);
		socket.once('error', (e) => reject(new Error(`test channel ${host}:${port}: ${e.message}`)));
	});
	const channel = new LineChannel(echo);
	socket.on('data', (chunk: Buffer) => channel.received(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
	socket.on('error', (e) => {
		// the socket is finished after an error; 'close' follows
		channel.attach(undefined);
		channel.failAll(`test channel ${host}:${port}: ${e.message}`);
	});
	socket.on('close', () => {
		channel.attach(undefined);
		channel.failAll(`test channel ${host}:${port} closed`);
	});
	channel.attach((l) => void socket.write(l));
	return {
		channel,
		close: () =>
			new Promise<void>((resolve) => {
				if (socket.destroyed) return resolve();
				socket.once('close', () => resolve());
				socket.end();
			}),
	};
}
