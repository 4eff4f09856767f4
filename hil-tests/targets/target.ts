/*
 * What the rig needs from a robot under test, whatever it runs on: its log lines, the
 * test-control channel, and power. `sim` is tools/sim/robot.ts as a process; `board`
 * is a real board on a serial port running a test build.
 */
import type { TestCommand, TestReply } from '../../firmware/core/testcmd/protocol';

/** One line the robot logged: parsed when it is JSON (the simulator's are; a board's may be). */
export interface RobotLine {
	readonly at: number;
	readonly text: string;
	readonly json: { readonly event?: string; readonly [k: string]: unknown } | undefined;
}

export interface BootOptions {
	/** Where it connects: the rig's fault proxy in front of the broker. */
	readonly host: string;
	readonly port: number;
	readonly serverName: string;
	/** Real ms per simulated minute for missions. */
	readonly msPerMin?: number;
	/** Upload an encrypted map of about this many bytes after each mission. */
	readonly mapBytes?: number;
	/** DER code-signing certificate file: run the OTA agent. */
	readonly codeSigningCert?: string;
	/** Register the certificate on first boot. */
	readonly registrationUrl?: string;
}

export interface RobotUnderTest {
	readonly thing: string;
	readonly lines: readonly RobotLine[];
	/** Sends one command and resolves to its reply (a refusal is a reply, not a rejection). */
	command(command: TestCommand): Promise<TestReply>;
	/** The first line from `since` (an index into `lines`) that matches. */
	waitFor(what: string, match: (l: RobotLine) => boolean, options?: { since?: number; timeoutMs?: number }): Promise<RobotLine>;
	/** Power loss: the process is killed (-9) or the board held in reset; storage survives. */
	powerLoss(): Promise<void>;
	/** Power back on over the same storage. */
	powerOn(): Promise<void>;
	/** A clean stop at the end of a test. */
	stop(): Promise<void>;
}

export interface Target {
	readonly name: 'sim' | 'board';
	boot(thing: string, options: BootOptions): Promise<RobotUnderTest>;
	close(): Promise<void>;
}

/** Log lines with replies and waiters: the part both targets share. */
export class LineLog {
	readonly lines: RobotLine[] = [];
	#waiters = new Set<() => void>();

	add(text: string): void {
		let json: RobotLine['json'];
		if (text.startsWith('{')) {
			try {
				json = JSON.parse(text) as RobotLine['json'];
			} catch {
				json = undefined;
			}
		}
		this.lines.push({ at: Date.now(), text, json });
		for (const w of [...this.#waiters]) w();
	}

	waitFor(what: string, match: (l: RobotLine) => boolean, options: { since?: number; timeoutMs?: number } = {}): Promise<RobotLine> {
		const timeoutMs = options.timeoutMs ?? 30_000;
		let next = options.since ?? 0;
		return new Promise((resolve, reject) => {
			const check = () => {
				for (; next < this.lines.length; next++) {
					const l = this.lines[next]!;
					if (match(l)) {
						done();
						resolve(l);
						return;
					}
				}
			};
			const timer = setTimeout(() => {
				done();
				const tail = this.lines
					.slice(-15)
					.map((l) => l.text)
					.join('\n');
				reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last lines:\n${tail}`));
			}, timeoutMs);
			const done = () => {
				clearTimeout(timer);
				this.#waiters.delete(check);
			};
			this.#waiters.add(check);
			check();
		});
	}
}

/** Replies matched to requests by id. */
export class Requests {
	#next = 1;
	readonly #pending = new Map<number, { resolve: (r: TestReply) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();

	send(write: (line: string) => void, command: TestCommand, timeoutMs = 10_000): Promise<TestReply> {
		return this.sendFields(write, command, timeoutMs);
	}

	/** Any fields with a fresh id: also a request the robot must refuse, whose refusal carries the id. */
	sendFields(write: (line: string) => void, fields: Readonly<Record<string, unknown>>, timeoutMs = 10_000): Promise<TestReply> {
		const id = this.#next++;
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				reject(new Error(`no reply to ${JSON.stringify(fields)} within ${timeoutMs} ms`));
			}, timeoutMs);
			this.#pending.set(id, { resolve, reject, timer });
			write(JSON.stringify({ id, ...fields }) + '\n');
		});
	}

	answer(reply: TestReply): void {
		if (reply.reply === null) return;
		const p = this.#pending.get(reply.reply);
		if (!p) return;
		clearTimeout(p.timer);
		this.#pending.delete(reply.reply);
		p.resolve(reply);
	}

	failAll(why: string): void {
		for (const [id, p] of this.#pending) {
			clearTimeout(p.timer);
			p.reject(new Error(why));
			this.#pending.delete(id);
		}
	}
}
