/*
 * The test-control interpreter: one request line in, one reply line out, acting on a
 * robot through `TestTarget`. Platform-free, so the simulator (tools/sim/robot.ts) and
 * a Moddable test build run the same code; only the byte stream differs.
 */
import type { ClockPort, LogPort } from '../../ports';
import type { LogRing } from '../log/ring';
import type { Robot } from '../robot/robot';
import { assertNever } from '../util/result';
import { MAX_LINE_BYTES } from './lines';
import { formatReply, parseRequest, type TestCommand } from './protocol';

/** What a test may do to a robot. */
export interface TestTarget {
	offline(): void;
	online(): void;
	/** Starts a mission now; undefined when one is already running. */
	mission(): string | undefined;
	clockJump(ms: number): void;
	status(): Record<string, unknown>;
	/** Writes the endpoint record and connects to it; absent where the build has no such record. */
	endpoint?(record: string, server: string | undefined): void;
	/** The platform's known-answer checks; absent where the build has none. */
	selfTest?(): Record<string, unknown>;
	/** The robot's log lines after `since` (core/log/ring.ts); absent where the robot keeps no ring. */
	logs?(since: number): Record<string, unknown>;
}

export interface TestControl {
	/** Answers one request line with one reply line; never throws. */
	handle(line: string): string;
}

/**
 * `target` is asked on every request: a robot that rebooted in place (after a firmware
 * update) is a new object, and before boot there is none (`not-ready`).
 */
export function createTestControl(target: () => TestTarget | undefined, log: LogPort): TestControl {
	return {
		handle(line) {
			const parsed = parseRequest(line);
			if (!parsed.ok) {
				log.log('warn', 'testcmd.bad', { reason: parsed.error.reason });
				return formatReply({ reply: parsed.error.id, ok: false, error: { code: 'bad', reason: parsed.error.reason } });
			}
			const { id, command } = parsed.value;
			const t = target();
			if (!t) return formatReply({ reply: id, ok: false, error: { code: 'not-ready', reason: 'the robot has not booted' } });
			log.log('info', 'testcmd', { cmd: command.cmd, ...(command.cmd === 'clock-jump' ? { ms: command.ms } : {}) });
			try {
				return formatReply({ reply: id, ok: true, ...run(t, command) });
			} catch (e) {
				// a failing target is a finding for the rig, not a reason to stop reading commands
				log.log('error', 'testcmd.failed', { cmd: command.cmd, error: String(e) });
				return formatReply({ reply: id, ok: false, error: { code: 'failed', reason: String(e) } });
			}
		},
	};
}

function run(t: TestTarget, c: TestCommand): Record<string, unknown> {
	switch (c.cmd) {
		case 'status':
			return { status: t.status() };
		case 'offline':
			t.offline();
			return {};
		case 'online':
			t.online();
			return {};
		case 'mission': {
			const mission = t.mission();
			return mission === undefined ? { busy: true } : { mission };
		}
		case 'clock-jump':
			t.clockJump(c.ms);
			return {};
		case 'endpoint':
			if (!t.endpoint) throw new Error('this build has no endpoint record');
			t.endpoint(c.endpoint, c.server);
			return {};
		case 'self-test':
			if (!t.selfTest) throw new Error('this build has no self-test');
			return { selfTest: t.selfTest() };
		case 'logs':
			if (!t.logs) throw new Error('this build keeps no log ring');
			return { logs: t.logs(c.since) };
		default:
			return assertNever(c);
	}
}

export interface JumpableClock {
	readonly clock: ClockPort;
	/** Moves the wall clock; the monotonic clock (every timeout) does not move, as on a device. */
	jump(ms: number): void;
	readonly offsetMs: number;
}

export function jumpableClock(base: ClockPort): JumpableClock {
	let offset = 0;
	return {
		clock: {
			now() {
				const t = base.now();
				return t === undefined ? undefined : t + offset;
			},
			monotonic: () => base.monotonic(),
		},
		jump(ms) {
			if (!Number.isFinite(ms)) throw new RangeError('"ms" expected a finite number, got ' + ms);
			offset += ms;
		},
		get offsetMs() {
			return offset;
		},
	};
}

/**
 * Clocks that jump together: a test's clock-jump moves every one of them by the same real amount
 * (not scaled: an hour back is an hour back on the missions' faster clock too); `clock` and
 * `offsetMs` are the first's. The link's and the missions' clocks of a test build (the Moddable
 * start and tools/sim/robot.ts).
 */
export function jumpingTogether(first: JumpableClock, ...others: readonly JumpableClock[]): JumpableClock {
	return {
		clock: first.clock,
		jump(ms) {
			first.jump(ms);
			for (const o of others) o.jump(ms);
		},
		get offsetMs() {
			return first.offsetMs;
		},
	};
}

/** The target every build uses: the robot composition, how this build starts a mission, its clock. */
export function robotTarget(
	robot: Robot,
	options: {
		startMission(): string | undefined;
		clock: JumpableClock;
		firmware?: () => string | undefined;
		endpoint?: TestTarget['endpoint'];
		selfTest?: TestTarget['selfTest'];
		status?: () => Record<string, unknown>;
	},
): TestTarget {
	let radio: 'on' | 'off' = 'on';
	return {
		offline() {
			radio = 'off';
			robot.link.stop();
		},
		online() {
			radio = 'on';
			robot.link.start();
		},
		mission: () => options.startMission(),
		clockJump: (ms) => options.clock.jump(ms),
		...(options.endpoint ? { endpoint: options.endpoint } : {}),
		...(options.selfTest ? { selfTest: options.selfTest } : {}),
		...(robot.logs ? { logs: (since: number) => logsReply(robot.logs!, since) } : {}),
		status() {
			const firmware = options.firmware?.();
			return {
				thing: robot.thing,
				radio,
				link: robot.link.state.value,
				schedule: robot.schedule.state.value,
				scheduleEntries: robot.schedule.value.entries.length,
				mission: robot.missions.state.value,
				outbox: robot.link.outbox.size,
				pendingReports: robot.missions.pendingReports(),
				mapsOwed: robot.maps ? robot.maps.pending().length : 0,
				clock: options.clock.clock.now() ?? null,
				clockOffsetMs: options.clock.offsetMs,
				...(firmware ? { firmware } : {}),
				...options.status?.(),
			};
		},
	};
}

/**
 * Bytes of log lines in one reply: the reply is one line of the channel, at most MAX_LINE_BYTES
 * (1 KB, lines.ts: the rig reads with the same framing), envelope included. A ring line is at
 * most 512 bytes (ring.ts maxLine), so a reply always carries at least one.
 */
export const LOGS_REPLY_BYTES = MAX_LINE_BYTES - 200;

/** One slice of the ring, lines as JSON objects; the rig asks again with `since: last` while `more`. */
function logsReply(ring: LogRing, since: number): Record<string, unknown> {
	const s = ring.read(since, LOGS_REPLY_BYTES);
	return { lines: s.lines.map((l) => JSON.parse(l) as unknown), last: s.last, more: s.more, lost: s.lost };
}
