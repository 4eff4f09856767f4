/*
 * The runner of the robot's commands: subscribes to its request topic at QoS 1 (the broker keeps
 * what arrives while the robot is away), decides each command (decide.ts), acts through the
 * platform's actions and answers once on the response topic with a terminal status.
 *
 * Exactly one run and one answer per execution id, across duplicates and reboots:
 * 1. the id goes into the persisted ledger before anything is done (a redelivery, after a
 *    reconnect or a reboot before the PUBACK, finds it there and is dropped with a log line);
 * 2. the action runs;
 * 3. the answer goes into the durable outbox (it survives a reboot and leaves on PUBACK).
 * A power loss between 1 and 3 leaves the execution unanswered: the cloud times it out. That is
 * the chosen side: a command runs at most once, never twice.
 * The robot sends only the terminal status (no IN_PROGRESS first): one billed message per command,
 * and no DataConflict from two updates in a row ("AWS IoT Commands Troubleshooting").
 */
import type { ClockPort, LogPort, StoragePort } from '../../ports';
import type { LinkError, Message } from '../link/link';
import type { Result } from '../util/result';
import { utf8Decode, utf8Encode } from '../util/utf8';
import { executionIdOf, parseCommand, requestFilter, responseTopic, type Mode, type Settings } from './command';
import { decide, type Act, type Situation } from './decide';
import { readRecord, writeError, writeRecord } from '../util/record';
import { checkRooms } from './rooms';

export interface CommandLink {
	subscribe(filter: string, handler: (m: Message) => void | Promise<void>, qos?: 0 | 1): Result<void, LinkError>;
	publish(topic: string, payload: Uint8Array, qos: 0 | 1, durable?: boolean): Result<number, LinkError>;
}

/** What the platform does for a command; each returns an error sentence when it could not. */
export interface CommandActions {
	/** Starts a mission through the same mission machine as the schedule: its id, or why not. */
	clean(mode: Mode, rooms: readonly string[] | 'all'): { ok: true; missionId: string } | { ok: false; reason: string };
	pause(): string | undefined;
	resume(): string | undefined;
	stop(): string | undefined;
	dock(): string | undefined;
	locate(): string | undefined;
	/** Battery percent and whether the robot is stuck. */
	status(): { battery: number; stuck: boolean };
}

export interface CommandsOptions {
	/** The rooms of this robot's floor plan. */
	readonly rooms: readonly string[];
	/** How many answered ids are remembered (default 32): a redelivery comes soon after the first. */
	readonly remember?: number;
}

export const LEDGER_KEY = 'cmd-ids';
export const SETTINGS_KEY = 'settings';

export interface Answer {
	readonly executionId: string;
	readonly status: 'SUCCEEDED' | 'FAILED' | 'REJECTED';
	readonly reasonCode: string;
	readonly reasonDescription: string;
	readonly missionId?: string;
}

export class RobotCommands {
	readonly #thing: string;
	readonly #link: CommandLink;
	readonly #ports: { storage: StoragePort; clock: ClockPort; log: LogPort };
	readonly #o: Required<CommandsOptions>;
	readonly #mission: () => Situation['mission'];
	#actions: CommandActions | undefined;
	#ids: string[];
	readonly #listeners: ((a: Answer) => void)[] = [];

	constructor(thing: string, link: CommandLink, ports: { storage: StoragePort; clock: ClockPort; log: LogPort }, mission: () => Situation['mission'], o: CommandsOptions) {
		this.#thing = thing;
		this.#link = link;
		this.#ports = ports;
		this.#mission = mission;
		this.#o = { remember: 32, ...o, rooms: checkRooms(o.rooms) };
		this.#ids = readJson<string[]>(ports.storage, LEDGER_KEY, ports.log) ?? [];
		const sub = link.subscribe(requestFilter(thing), (m) => this.#receive(m), 1);
		if (!sub.ok) throw new Error('commands: cannot subscribe: ' + sub.error.code);
	}

	/** The platform's actions (the cleaning engine exists after the robot); commands before this are FAILED. */
	bind(actions: CommandActions): void {
		this.#actions = actions;
	}

	/** Every answer given, for the platform's UI and tests. */
	listen(l: (a: Answer) => void): void {
		this.#listeners.push(l);
	}

	/** The settings the app changed (no shadow holds them: they are the robot's own). */
	settings(): Settings {
		return readJson<Settings>(this.#ports.storage, SETTINGS_KEY, this.#ports.log) ?? {};
	}

	#receive(m: Message): void {
		const id = executionIdOf(this.#thing, m.topic);
		const log = this.#ports.log;
		if (id === undefined) return log.log('warn', 'command.bad_topic', { topic: m.topic });
		if (this.#ids.indexOf(id) >= 0) return log.log('info', 'command.duplicate', { execution: id });
		const ids = [...this.#ids, id].slice(-this.#o.remember);
		// recorded before it runs, or not run: after a reboot a redelivery must be known as one
		const saved = writeRecord(this.#ports.storage, LEDGER_KEY, utf8Encode(JSON.stringify(ids)));
		if (saved.ok) this.#ids = ids;
		else log.log('error', 'command.ledger_unsaved', { execution: id, result: writeError(saved) });

		const parsed = parseCommand(utf8Decode(m.payload));
		let answer: Answer;
		if (!saved.ok) {
			answer = { executionId: id, status: 'FAILED', reasonCode: 'STORAGE_FULL', reasonDescription: 'the robot cannot record the command (storage ' + writeError(saved) + ')' };
		} else if (!parsed.ok) {
			answer = { executionId: id, status: 'REJECTED', reasonCode: 'INVALID_COMMAND', reasonDescription: parsed.reason };
		} else if (!this.#actions) {
			answer = { executionId: id, status: 'FAILED', reasonCode: 'NOT_READY', reasonDescription: 'the robot is still starting up' };
		} else {
			const st = this.#actions.status();
			const now = this.#ports.clock.now();
			const d = decide(parsed.command, {
				mission: this.#mission(),
				battery: st.battery,
				stuck: st.stuck,
				nowS: now === undefined ? undefined : Math.floor(now / 1000),
				rooms: this.#o.rooms,
			});
			answer = { executionId: id, status: d.status, reasonCode: d.reasonCode, reasonDescription: d.reasonDescription };
			if (d.act) {
				const done = this.#act(d.act);
				if (!done.ok) answer = { executionId: id, status: 'FAILED', reasonCode: 'ACTION_FAILED', reasonDescription: done.reason };
				else if (done.missionId) answer = { ...answer, missionId: done.missionId };
			}
		}
		log.log('info', 'command.answered', { execution: id, action: parsed.ok ? parsed.command.action : 'invalid', status: answer.status, reason: answer.reasonCode });
		const body = {
			status: answer.status,
			statusReason: { reasonCode: answer.reasonCode, reasonDescription: answer.reasonDescription },
			...(answer.missionId ? { result: { missionId: { S: answer.missionId } } } : {}),
		};
		const sent = this.#link.publish(responseTopic(this.#thing, id), utf8Encode(JSON.stringify(body)), 1, true);
		if (!sent.ok) log.log('error', 'command.answer_not_queued', { execution: id, code: sent.error.code });
		for (const l of this.#listeners) l(answer);
	}

	#act(a: Act): { ok: true; missionId?: string } | { ok: false; reason: string } {
		const actions = this.#actions!;
		if (a.type === 'clean') {
			const r = actions.clean(a.mode, a.rooms);
			return r.ok ? { ok: true, missionId: r.missionId } : r;
		}
		if (a.type === 'settings') {
			const w = writeRecord(this.#ports.storage, SETTINGS_KEY, utf8Encode(JSON.stringify({ ...this.settings(), ...a.settings })));
			return w.ok ? { ok: true } : { ok: false, reason: 'storage ' + writeError(w) + ': the settings are unchanged' };
		}
		const why = actions[a.type]();
		return why === undefined ? { ok: true } : { ok: false, reason: why };
	}
}

function readJson<T>(storage: StoragePort, key: string, log: LogPort): T | undefined {
	const b = readRecord(storage, key);
	if (!b) return undefined;
	try {
		return JSON.parse(utf8Decode(b) ?? '') as T;
	} catch {
		// a torn write cannot happen with the storage ports (write is atomic per key); a bad value is logged and dropped
		log.log('error', 'command.bad_storage', { key });
		return undefined;
	}
}
