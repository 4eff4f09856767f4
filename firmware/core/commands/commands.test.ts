import * as assert from '../testing/assert';
import { fakeTime, memoryLog, memoryStorage } from '../testing/fakes';
import type { LinkError, Message } from '../link/link';
import type { OutboxEntry } from '../link/outbox';
import { Missions } from '../mission/missions';
import type { MissionReport } from '../mission/report';
import { ok, type Result } from '../util/result';
import { utf8Decode, utf8Encode } from '../util/utf8';
import { executionIdOf, MAX_ROOMS, parseCommand, requestFilter, responseTopic } from './command';
import { decide, MIN_BATTERY_TO_CLEAN, type Situation } from './decide';
import { LEDGER_KEY, RobotCommands, type CommandActions } from './handler';
import { checkRooms, RoomsReporter } from './rooms';
import type { LinkListener } from '../link/link';
import type { LinkState } from '../link/machine';

const THING = 'robot-1';
const ROOMS = ['kitchen', 'hall', 'bath'];

/** A link that keeps what is published and lets the test deliver requests to the subscription. */
function fakeLink() {
	const published: OutboxEntry[] = [];
	const subs = new Map<string, (m: Message) => void | Promise<void>>();
	let seq = 0;
	const delivered: ((seq: number, topic: string) => void)[] = [];
	return {
		published,
		subs,
		outbox: { entries: () => published.filter((e) => e.durable && e.topic.indexOf('$aws/rules/') === 0) },
		subscribe(filter: string, handler: (m: Message) => void | Promise<void>): Result<void, LinkError> {
			subs.set(filter, handler);
			return ok(undefined);
		},
		publish(topic: string, payload: Uint8Array, qos: 0 | 1, durable?: boolean): Result<number, LinkError> {
			published.push({ seq: ++seq, topic, payload, durable: durable === true, packetId: 0 });
			void qos;
			return ok(seq);
		},
		listen(l: { delivered?(seq: number, topic: string): void }) {
			if (l.delivered) delivered.push(l.delivered);
			return () => {};
		},
		deliver(executionId: string, body: unknown, dup = false) {
			const h = subs.get(requestFilter(THING))!;
			return h({
				topic: `$aws/commands/things/${THING}/executions/${executionId}/request/json`,
				payload: utf8Encode(typeof body === 'string' ? body : JSON.stringify(body)),
				qos: 1,
				dup,
				retain: false,
			});
		},
		answers() {
			return published
				.filter((e) => e.topic.indexOf('/response/json') > 0)
				.map((e) => ({
					topic: e.topic,
					durable: e.durable,
					body: JSON.parse(utf8Decode(e.payload)!) as { status: string; statusReason: { reasonCode: string }; result?: { missionId: { S: string } } },
				}));
		},
	};
}

/** The platform's side over the real mission machine: a command-started mission is a mission like any other. */
function actionsOver(missions: Missions, state: { battery: number; stuck: boolean; calls: string[] }): CommandActions {
	return {
		clean(mode, rooms) {
			state.calls.push('clean ' + mode + ' ' + (rooms === 'all' ? 'all' : rooms.join('+')));
			const r = missions.start('app', state.battery);
			return r.ok ? { ok: true, missionId: r.value } : { ok: false, reason: r.error.code === 'busy' ? 'busy with ' + r.error.mission : 'storage: ' + r.error.result };
		},
		pause: () => (state.calls.push('pause'), missions.pause(), undefined),
		resume: () => (state.calls.push('resume'), missions.resume(), undefined),
		stop: () => (state.calls.push('stop'), missions.cancel(), undefined),
		dock: () => (state.calls.push('dock'), missions.cancel(), undefined),
		locate: () => (state.calls.push('locate'), undefined),
		status: () => ({ battery: state.battery, stuck: state.stuck }),
	};
}

function rig(storage = memoryStorage()) {
	const time = fakeTime(1_800_000_000_000);
	const log = memoryLog();
	const link = fakeLink();
	const ports = { clock: time.clock, timers: time.timers, random: { random: () => 0.5 }, storage, log };
	const missions = new Missions(THING, link, ports);
	const state = { battery: 80, stuck: false, calls: [] as string[] };
	const commands = new RobotCommands(THING, link, ports, () => missions.state.value, { rooms: ROOMS });
	commands.bind(actionsOver(missions, state));
	const nowS = Math.floor(time.now() / 1000);
	return { time, log, link, missions, state, commands, storage, notAfter: nowS + 60 };
}

describe('commands: payload', () => {
	it('parses every action and refuses what is not a command with the reason', () => {
		const c = parseCommand('{"action":"clean","mode":"mop","rooms":"kitchen+hall","notAfter":5}');
		assert.ok(c.ok);
		assert.deepEqual(c.command, { action: 'clean', mode: 'mop', rooms: ['kitchen', 'hall'], notAfter: 5 });
		assert.deepEqual(parseCommand('{"action":"clean","notAfter":5}'), { ok: true, command: { action: 'clean', mode: 'vacuum', rooms: 'all', notAfter: 5 } });
		for (const a of ['pause', 'resume', 'stop', 'dock', 'locate']) assert.ok(parseCommand(JSON.stringify({ action: a, notAfter: 5 })).ok, a);
		assert.deepEqual(parseCommand('{"action":"settings","volume":40,"notAfter":5}'), { ok: true, command: { action: 'settings', settings: { volume: 40 }, notAfter: 5 } });
		const bad: [string, RegExp][] = [
			['{"action":"fly","notAfter":5}', /action expected/],
			['{"action":"pause"}', /notAfter/],
			['{"action":"clean","mode":"steam","notAfter":5}', /mode/],
			['{"action":"clean","rooms":"Kitchen","notAfter":5}', /rooms/],
			['{"action":"settings","volume":101,"notAfter":5}', /volume/],
			['{"action":"settings","notAfter":5}', /settings expected/],
			['[1]', /object/],
			['{', /not JSON/],
		];
		for (const [text, why] of bad) {
			const r = parseCommand(text);
			assert.ok(!r.ok, text);
			assert.ok(why.test(r.reason), r.reason);
		}
	});

	it('topics: the request filter, an execution id from a request topic of this thing only, the response topic', () => {
		assert.equal(requestFilter(THING), '$aws/commands/things/robot-1/executions/+/request/json');
		assert.equal(executionIdOf(THING, '$aws/commands/things/robot-1/executions/abc-1/request/json'), 'abc-1');
		assert.equal(executionIdOf(THING, '$aws/commands/things/robot-2/executions/abc-1/request/json'), undefined);
		assert.equal(executionIdOf(THING, '$aws/commands/things/robot-1/executions/a b/request/json'), undefined);
		assert.equal(responseTopic(THING, 'abc-1'), '$aws/commands/things/robot-1/executions/abc-1/response/json');
	});
});

describe('commands: decide', () => {
	const base: Situation = { mission: 'idle', battery: 80, stuck: false, nowS: 1000, rooms: ROOMS };
	const clean = { action: 'clean', mode: 'vacuum', rooms: 'all', notAfter: 2000 } as const;
	// (command, situation) -> status and reason: the policy as a table
	const table: [string, Parameters<typeof decide>[0], Partial<Situation>, string, string][] = [
		['clean when idle', clean, {}, 'SUCCEEDED', 'STARTED'],
		['clean past its deadline', { ...clean, notAfter: 999 }, {}, 'REJECTED', 'EXPIRED'],
		['clean without a clock', clean, { nowS: undefined }, 'REJECTED', 'CLOCK_UNKNOWN'],
		['clean while stuck', clean, { stuck: true }, 'REJECTED', 'STUCK'],
		['clean while charging', clean, { battery: MIN_BATTERY_TO_CLEAN - 1 }, 'REJECTED', 'CHARGING'],
		['clean while cleaning', clean, { mission: 'running' }, 'REJECTED', 'BUSY'],
		['clean an unknown room', { ...clean, rooms: ['kitchen', 'garage'] }, {}, 'REJECTED', 'UNKNOWN_ROOM'],
		['clean known rooms', { ...clean, rooms: ['kitchen', 'bath'] }, {}, 'SUCCEEDED', 'STARTED'],
		['pause when running', { action: 'pause', notAfter: 2000 }, { mission: 'running' }, 'SUCCEEDED', 'PAUSED'],
		['pause when idle', { action: 'pause', notAfter: 2000 }, {}, 'REJECTED', 'NOT_CLEANING'],
		['pause while stuck (it stops)', { action: 'pause', notAfter: 2000 }, { mission: 'running', stuck: true }, 'SUCCEEDED', 'PAUSED'],
		['resume when paused', { action: 'resume', notAfter: 2000 }, { mission: 'paused' }, 'SUCCEEDED', 'RESUMED'],
		['resume when running', { action: 'resume', notAfter: 2000 }, { mission: 'running' }, 'REJECTED', 'NOT_PAUSED'],
		['resume with a low battery', { action: 'resume', notAfter: 2000 }, { mission: 'paused', battery: 5 }, 'REJECTED', 'CHARGING'],
		['resume while stuck', { action: 'resume', notAfter: 2000 }, { mission: 'paused', stuck: true }, 'REJECTED', 'STUCK'],
		['stop when paused', { action: 'stop', notAfter: 2000 }, { mission: 'paused' }, 'SUCCEEDED', 'STOPPED'],
		['stop when idle', { action: 'stop', notAfter: 2000 }, {}, 'REJECTED', 'NOT_CLEANING'],
		['dock when running', { action: 'dock', notAfter: 2000 }, { mission: 'running' }, 'SUCCEEDED', 'DOCKING'],
		['dock when docking', { action: 'dock', notAfter: 2000 }, { mission: 'docking' }, 'REJECTED', 'ALREADY_DOCKING'],
		['dock when docked', { action: 'dock', notAfter: 2000 }, {}, 'REJECTED', 'ALREADY_DOCKED'],
		['locate while stuck (helps find it)', { action: 'locate', notAfter: 2000 }, { stuck: true }, 'SUCCEEDED', 'LOCATED'],
		['settings', { action: 'settings', settings: { childLock: true }, notAfter: 2000 }, { mission: 'running' }, 'SUCCEEDED', 'APPLIED'],
	];
	for (const [name, c, s, status, reason] of table) {
		it(name + ' -> ' + status + ' ' + reason, () => {
			const d = decide(c, { ...base, ...s });
			assert.equal(d.status, status);
			assert.equal(d.reasonCode, reason);
			assert.ok(/^[A-Z0-9_-]{1,64}$/.test(d.reasonCode) && d.reasonDescription.length > 0);
			assert.equal(d.act !== undefined, status === 'SUCCEEDED');
		});
	}
});

describe('commands: runner', () => {
	it('clean now starts a mission through the mission machine and answers SUCCEEDED once with its id', () => {
		const r = rig();
		r.link.deliver('e1', { action: 'clean', mode: 'vacuum', rooms: 'kitchen', notAfter: r.notAfter });
		assert.equal(r.missions.state.value, 'running');
		const [a] = r.link.answers();
		assert.equal(a!.topic, responseTopic(THING, 'e1'));
		assert.ok(a!.durable, 'the answer survives a reboot');
		assert.equal(a!.body.status, 'SUCCEEDED');
		const missionId = a!.body.result!.missionId.S;
		// the mission ends like a scheduled one: one report, trigger app
		r.missions.progress(12, 70);
		r.missions.finish();
		r.missions.docked(65);
		const reports = r.link.published.filter((e) => e.topic.indexOf('/report') > 0).map((e) => JSON.parse(utf8Decode(e.payload)!) as MissionReport);
		assert.equal(reports.length, 1);
		assert.equal(reports[0]!.missionId, missionId);
		assert.equal(reports[0]!.trigger, 'app');
	});

	it('a duplicate delivery runs once and is answered once, also after a reboot', () => {
		const storage = memoryStorage();
		const r = rig(storage);
		r.link.deliver('e1', { action: 'locate', notAfter: r.notAfter });
		r.link.deliver('e1', { action: 'locate', notAfter: r.notAfter }, true);
		assert.deepEqual(r.state.calls, ['locate']);
		assert.equal(r.link.answers().length, 1);
		assert.ok(r.log.events().indexOf('command.duplicate') >= 0);
		// power cycle: the ledger is on storage
		const again = rig(storage);
		again.link.deliver('e1', { action: 'locate', notAfter: again.notAfter }, true);
		assert.deepEqual(again.state.calls, []);
		assert.equal(again.link.answers().length, 0);
		assert.ok(storage.read(LEDGER_KEY));
	});

	it('a command whose deadline passed while the robot was offline is not run: REJECTED EXPIRED', () => {
		const r = rig();
		r.link.deliver('late', { action: 'clean', notAfter: r.notAfter - 61 });
		assert.equal(r.missions.state.value, 'idle');
		assert.deepEqual(r.state.calls, []);
		assert.equal(r.link.answers()[0]!.body.status, 'REJECTED');
		assert.equal(r.link.answers()[0]!.body.statusReason.reasonCode, 'EXPIRED');
	});

	it('pause, resume, stop: each answered with its status; the mission ends cancelled with one report', () => {
		const r = rig();
		r.link.deliver('c', { action: 'clean', notAfter: r.notAfter });
		r.link.deliver('p', { action: 'pause', notAfter: r.notAfter });
		assert.equal(r.missions.state.value, 'paused');
		r.link.deliver('p2', { action: 'pause', notAfter: r.notAfter });
		r.link.deliver('r', { action: 'resume', notAfter: r.notAfter });
		assert.equal(r.missions.state.value, 'running');
		r.link.deliver('d', { action: 'dock', notAfter: r.notAfter });
		assert.equal(r.missions.state.value, 'docking');
		r.link.deliver('s', { action: 'stop', notAfter: r.notAfter });
		assert.deepEqual(
			r.link.answers().map((a) => a.topic.split('/')[5] + ' ' + a.body.status + ' ' + a.body.statusReason.reasonCode),
			['c SUCCEEDED STARTED', 'p SUCCEEDED PAUSED', 'p2 REJECTED NOT_CLEANING', 'r SUCCEEDED RESUMED', 'd SUCCEEDED DOCKING', 's REJECTED NOT_CLEANING'],
		);
		r.missions.docked(60);
		const reports = r.link.published.filter((e) => e.topic.indexOf('/report') > 0);
		assert.equal(reports.length, 1);
		assert.equal((JSON.parse(utf8Decode(reports[0]!.payload)!) as MissionReport).outcome, 'cancelled');
	});

	it('never overrides safety: stuck and charging refuse to move, and say so', () => {
		const r = rig();
		r.state.stuck = true;
		r.link.deliver('a', { action: 'clean', notAfter: r.notAfter });
		r.state.stuck = false;
		r.state.battery = 8;
		r.link.deliver('b', { action: 'clean', notAfter: r.notAfter });
		assert.equal(r.missions.state.value, 'idle');
		assert.deepEqual(
			r.link.answers().map((a) => a.body.statusReason.reasonCode),
			['STUCK', 'CHARGING'],
		);
	});

	it('an invalid payload is REJECTED with the reason; an action that fails is FAILED; settings are kept on storage', () => {
		const r = rig();
		r.link.deliver('x', '{"action":"fly","notAfter":1}');
		r.link.deliver('s', { action: 'settings', volume: 30, notAfter: r.notAfter });
		r.link.deliver('s2', { action: 'settings', childLock: true, notAfter: r.notAfter });
		assert.deepEqual(r.commands.settings(), { volume: 30, childLock: true });
		r.commands.bind({ ...actionsOver(r.missions, r.state), locate: () => 'the speaker does not answer' });
		r.link.deliver('l', { action: 'locate', notAfter: r.notAfter });
		assert.deepEqual(
			r.link.answers().map((a) => a.body.status + ' ' + a.body.statusReason.reasonCode),
			['REJECTED INVALID_COMMAND', 'SUCCEEDED APPLIED', 'SUCCEEDED APPLIED', 'FAILED ACTION_FAILED'],
		);
	});

	it('a full store: a command whose id cannot be recorded is not run (FAILED STORAGE_FULL); settings it cannot keep are FAILED; what was stored stays', () => {
		const storage = memoryStorage();
		const r = rig(storage);
		r.link.deliver('s', { action: 'settings', volume: 30, notAfter: r.notAfter });
		storage.faults.fail = () => 'full';
		r.link.deliver('l', { action: 'locate', notAfter: r.notAfter });
		assert.deepEqual(r.state.calls, [], 'not run: a redelivery after a reboot could not be told from a new command');
		storage.faults.fail = (key) => (key.startsWith('settings') ? 'full' : undefined);
		r.link.deliver('s2', { action: 'settings', volume: 80, notAfter: r.notAfter });
		assert.deepEqual(
			r.link.answers().map((a) => a.body.status + ' ' + a.body.statusReason.reasonCode),
			['SUCCEEDED APPLIED', 'FAILED STORAGE_FULL', 'FAILED ACTION_FAILED'],
		);
		storage.faults.fail = undefined;
		assert.deepEqual(rig(storage).commands.settings(), { volume: 30 });
		assert.ok(r.log.events().indexOf('command.ledger_unsaved') >= 0);
	});
});

describe('commands: the rooms the robot knows, on the status shadow', () => {
	function statusRig(accept: boolean[]) {
		const listeners: LinkListener[] = [];
		let state: LinkState = { value: 'offline' };
		const updates: unknown[] = [];
		const shadow = {
			update: (s: { reported?: unknown }) => {
				updates.push(s.reported);
				return Promise.resolve(accept.shift() !== false ? { ok: true as const, value: { state: {}, version: updates.length, timestamp: 0 } } : { ok: false as const, error: { code: 'timeout' as const } });
			},
		};
		const link = {
			listen: (l: LinkListener) => (listeners.push(l), () => {}),
			get state() {
				return state;
			},
		};
		const connect = (up: boolean) => {
			state = up ? { value: 'connected', sessionPresent: true, attempt: 0, flaps: 0, since: 0 } : { value: 'waiting', attempt: 1, flaps: 0, reason: 'x' };
			for (const l of listeners) l.state?.(state);
		};
		return { link, shadow, updates, connect };
	}
	// the update's promise and the reporter's await: a few microtask turns (XS has no setTimeout)
	const settle = async () => {
		for (let i = 0; i < 5; i++) await Promise.resolve();
	};

	it('reports reported.rooms once the link is up, again after a refused write, and not again once accepted', async () => {
		const t = statusRig([false, true]);
		const log = memoryLog();
		const r = new RoomsReporter(t.link, t.shadow, log, ROOMS);
		assert.equal(t.updates.length, 0, 'offline: nothing sent');
		t.connect(true);
		await settle();
		assert.deepEqual(t.updates, [{ rooms: ROOMS }]);
		assert.equal(r.reported, false);
		assert.ok(log.events().indexOf('rooms.report_failed') >= 0, 'a refused write is logged');
		t.connect(false);
		t.connect(true);
		await settle();
		assert.equal(t.updates.length, 2);
		assert.equal(r.reported, true);
		t.connect(false);
		t.connect(true);
		await settle();
		assert.equal(t.updates.length, 2, 'once per boot');
	});

	it('refuses a room list the robot could not decide commands against, before anything is sent', () => {
		const t = statusRig([]);
		const many = Array.from({ length: MAX_ROOMS + 1 }, (_, i) => 'room' + i);
		for (const bad of [many, ['Kitchen'], ['kitchen', 'kitchen'], [''], 'kitchen']) {
			assert.throws(() => new RoomsReporter(t.link, t.shadow, memoryLog(), bad as string[]), /rooms/);
			assert.throws(() => checkRooms(bad), /rooms/);
		}
		assert.throws(() => new RobotCommands(THING, fakeLink(), { storage: memoryStorage(), clock: fakeTime(0).clock, log: memoryLog() }, () => 'idle', { rooms: ['Kitchen'] }), /rooms/);
		assert.deepEqual(checkRooms(ROOMS), ROOMS);
		assert.equal(t.updates.length, 0);
	});
});
