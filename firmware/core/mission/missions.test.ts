import * as assert from '../testing/assert';
import { bytes, fakeTime, memoryLog, memoryStorage, seededRandom } from '../testing/fakes';

let seed = 1;
import type { LinkError } from '../link/link';
import { Outbox, type OutboxEntry } from '../link/outbox';
import { err, ok, type Result } from '../util/result';
import { readRecord } from '../util/record';
import { utf8Decode } from '../util/utf8';
import { fullBucket, take } from './bucket';
import { IDLE, step, type MissionState } from './machine';
import { Missions, type MissionLink } from './missions';
import { MAX_DURATION_S, reportTopic, validateReport, type MissionReport } from './report';

/** A link whose outbox the test controls: entries stay until `ack`, `capacity` bounds it. */
function fakeLink(capacity = 32) {
	const entries: OutboxEntry[] = [];
	const qos0: { topic: string; body: { mission: string; dropped: number; events: { e: string }[] } }[] = [];
	const delivered: ((seq: number, topic: string) => void)[] = [];
	let seq = 0;
	let online = true;
	const link: MissionLink & { entries: OutboxEntry[]; qos0: typeof qos0; ack(): void; setOnline(o: boolean): void } = {
		entries,
		qos0,
		outbox: { entries: () => entries },
		publish(topic, payload, qos, durable): Result<number, LinkError> {
			if (qos === 0) {
				if (!online) return err({ code: 'offline' });
				qos0.push({ topic, body: JSON.parse(utf8Decode(payload)!) });
				return ok(0);
			}
			if (entries.length >= capacity) return err({ code: 'full', messages: entries.length, bytes: 0 });
			entries.push({ seq: ++seq, topic, payload, durable: durable === true, packetId: 0 });
			return ok(seq);
		},
		listen(l) {
			if (l.delivered) delivered.push(l.delivered);
			return () => {};
		},
		ack() {
			const e = entries.shift()!;
			for (const d of delivered) d(e.seq, e.topic);
		},
		setOnline(o) {
			online = o;
		},
	};
	return link;
}

function reportsIn(link: ReturnType<typeof fakeLink>): MissionReport[] {
	return link.entries.map((e) => JSON.parse(utf8Decode(e.payload)!) as MissionReport);
}

describe('mission machine', () => {
	const start = { type: 'start', id: 'm-1', trigger: 'button', at: 1_800_000_000_000, mono: 0, battery: 90 } as const;
	it('idle -> running -> paused -> running -> docking -> idle with a report', () => {
		let s: MissionState = IDLE;
		const go = (e: Parameters<typeof step>[2]) => {
			const r = step('robot-1', s, e);
			assert.ok(r, 'input ' + e.type + ' applies in ' + s.value);
			s = r.state;
			return r.effects;
		};
		assert.deepEqual(
			go(start).map((f) => f.type),
			['persist', 'event'],
		);
		go({ type: 'progress', areaM2: 12.34, battery: 80 });
		go({ type: 'pause' });
		assert.equal(step('robot-1', s, { type: 'progress', areaM2: 13, battery: 79 }), undefined, 'no progress while paused');
		go({ type: 'resume' });
		go({ type: 'error', code: 'brush_tangled', fatal: false, mono: 30_000 });
		go({ type: 'finish' });
		assert.equal(s.value, 'docking');
		const fx = go({ type: 'docked', at: 1_800_000_600_000, mono: 600_000, battery: 70 });
		assert.equal(s.value, 'idle');
		const report = (fx.find((f) => f.type === 'report') as { report: MissionReport }).report;
		assert.deepEqual(report, {
			v: 1,
			missionId: 'm-1',
			thing: 'robot-1',
			trigger: 'button',
			startedAt: 1_800_000_000_000,
			endedAt: 1_800_000_600_000,
			durationS: 600,
			outcome: 'finished',
			areaM2: 12.3,
			battery: { start: 90, end: 70 },
			errors: [{ code: 'brush_tangled', atS: 30 }],
			map: 'pending',
		});
		assert.ok(validateReport(report).ok);
	});

	it('a wall clock set back mid-mission still gives a valid report: the end follows the monotonic duration', () => {
		let s: MissionState = IDLE;
		s = step('robot-1', s, start)!.state;
		s = step('robot-1', s, { type: 'finish' })!.state;
		const fx = step('robot-1', s, { type: 'docked', at: start.at - 3_600_000 + 600_000, mono: 600_000, battery: 70 })!.effects;
		const report = (fx.find((f) => f.type === 'report') as { report: MissionReport }).report;
		assert.equal(report.endedAt, start.at + 600_000);
		assert.equal(report.durationS, 600);
		assert.ok(validateReport(report).ok);
	});
	it('a mission longer than the report allows (626,071 s: the fleet bench under load; a robot paused over a holiday) still gives a valid report', () => {
		// the exact report the fleet's robots built and the cloud refused: durationS 626071 > 604800
		let s: MissionState = IDLE;
		s = step('robot-1', s, start)!.state;
		s = step('robot-1', s, { type: 'pause' })!.state;
		s = step('robot-1', s, { type: 'resume' })!.state;
		s = step('robot-1', s, { type: 'error', code: 'brush_tangled', fatal: false, mono: 620_000_000 })!.state;
		s = step('robot-1', s, { type: 'finish' })!.state;
		const fx = step('robot-1', s, { type: 'docked', at: start.at + 626_071_000, mono: 626_071_000, battery: 70 })!.effects;
		const report = (fx.find((f) => f.type === 'report') as { report: MissionReport }).report;
		const checked = validateReport(report);
		assert.ok(checked.ok, checked.ok ? '' : checked.error.join('; '));
		assert.equal(report.durationS, MAX_DURATION_S);
		assert.deepEqual(report.errors, [{ code: 'brush_tangled', atS: MAX_DURATION_S }]);
		// the wall clock still tells the whole span
		assert.equal(report.endedAt! - report.startedAt!, 626_071_000);
	});
	it('a fatal error heads home as failed; a second start is refused while busy', () => {
		const running = step('robot-1', IDLE, start)!.state;
		assert.equal(step('robot-1', running, start), undefined);
		const failed = step('robot-1', running, { type: 'error', code: 'stuck', fatal: true, mono: 5000 })!.state;
		assert.deepEqual([failed.value, (failed as { outcome: string }).outcome], ['docking', 'failed']);
		const done = step('robot-1', failed, { type: 'docked', at: null, mono: 9000, battery: 50 })!;
		const report = (done.effects[1] as { report: MissionReport }).report;
		assert.equal(report.outcome, 'failed');
		assert.equal(report.endedAt, null);
		assert.equal(report.map, 'none');
	});
});

describe('token bucket', () => {
	it('allows `capacity` at once, then one per refill period', () => {
		const p = { capacity: 2, refillMs: 1000 };
		let b = fullBucket(p, 0);
		const oks: boolean[] = [];
		for (const t of [0, 0, 0, 999, 1000, 1500, 3000, 3000, 3000]) {
			const r = take(p, b, t);
			b = r.bucket;
			oks.push(r.ok);
		}
		assert.deepEqual(oks, [true, true, false, false, true, false, true, true, false]);
	});
});

describe('missions', () => {
	function setup(capacity = 32) {
		const time = fakeTime(5000);
		const storage = memoryStorage();
		const log = memoryLog();
		const link = fakeLink(capacity);
		const ports = {
			clock: { now: () => 1_800_000_000_000 + time.now(), monotonic: () => time.now() },
			timers: time.timers,
			storage,
			log,
			random: { random: seededRandom(++seed) },
		};
		const before: { id: string; map: string; written: boolean }[] = [];
		const hooks = {
			beforeReport: (r: MissionReport) => void before.push({ id: r.missionId, map: r.map, written: storage.keys().some((k) => k === 'mr.' + r.missionId.slice(2)) || link.entries.length > 0 }),
		};
		const make = () => new Missions('robot-1', link, ports, {}, hooks);
		return { time, storage, log, link, make, before };
	}
	const runOne = (m: Missions, t: ReturnType<typeof setup>['time']) => {
		const id = m.start('schedule', 100, 'weekday');
		assert.ok(id.ok);
		for (let i = 1; i <= 10; i++) {
			t.advance(60_000);
			m.progress(i * 2, 100 - i);
		}
		m.finish();
		t.advance(30_000);
		m.docked(88);
		return id.value;
	};

	it('a finished mission leaves one durable report in the outbox, on its Basic Ingest topic', () => {
		const t = setup();
		const m = t.make();
		const id = runOne(m, t.time);
		assert.equal(t.link.entries.length, 1);
		assert.equal(t.link.entries[0]!.topic, reportTopic('robot-1', id));
		assert.ok(t.link.entries[0]!.durable);
		const [r] = reportsIn(t.link);
		assert.equal(r!.areaM2, 20);
		assert.equal(r!.durationS, 630);
		assert.deepEqual(
			t.storage.keys().filter((k) => k.startsWith('mr.') || k === 'mis.cur'),
			[],
			'nothing left beside the outbox',
		);
	});

	it('a mission docked 626,071 s after its start is queued with a valid report, no mission.report_invalid', () => {
		const t = setup();
		const m = t.make();
		assert.ok(m.start('button', 100).ok);
		t.time.advance(60_000);
		m.progress(30, 90);
		m.pause();
		t.time.advance(626_000_000);
		m.resume();
		m.finish();
		t.time.advance(11_000);
		m.docked(80);
		const [r] = reportsIn(t.link);
		const checked = validateReport(r);
		assert.ok(checked.ok, checked.ok ? '' : checked.error.join('; '));
		assert.equal(r!.durationS, MAX_DURATION_S);
		assert.deepEqual(
			t.log.events().filter((e) => e === 'mission.report_invalid'),
			[],
		);
	});

	it('ids differ after storage is wiped (factory reset): the cloud would drop a reused id as a duplicate', () => {
		const a = setup();
		const first = runOne(a.make(), a.time);
		a.storage.map.clear();
		const second = runOne(a.make(), a.time);
		assert.notEqual(first, second);
	});

	it('ids are unique across reboots', () => {
		const t = setup();
		const ids = [runOne(t.make(), t.time), runOne(t.make(), t.time), runOne(t.make(), t.time)];
		assert.equal(new Set(ids).size, 3);
		assert.deepEqual(
			ids.map((i) => i.slice(7)),
			['1', '2', '3'],
			'one counter behind one epoch',
		);
		assert.ok(ids.every((i) => /^m-[0-9a-z]{5}[0-9a-z]+$/.test(i) && validateReport({ ...reportsIn(t.link)[0]!, missionId: i }).ok));
	});

	it('power lost mid-mission: the next boot reports it as interrupted, once', () => {
		const t = setup();
		const m = t.make();
		m.start('button', 95);
		t.time.advance(61_000);
		m.progress(7.5, 90); // saved: a minute has passed
		t.time.advance(10_000);
		m.progress(9, 89); // not saved yet
		t.make(); // power back
		t.make(); // and again, before anything was sent
		const reports = reportsIn(t.link);
		assert.equal(reports.length, 1);
		assert.equal(reports[0]!.outcome, 'interrupted');
		assert.equal(reports[0]!.areaM2, 7.5);
		assert.equal(reports[0]!.durationS, 61);
		assert.ok(validateReport(reports[0]).ok);
	});

	it('beforeReport sees every report before it is written, the interrupted one too', () => {
		const t = setup();
		const m = t.make();
		runOne(m, t.time);
		assert.deepEqual(
			t.before.map((b) => [b.map, b.written]),
			[['pending', false]],
		);
		t.link.ack();
		m.start('button', 95);
		t.time.advance(61_000);
		m.progress(3, 90);
		t.make(); // power lost, back
		assert.equal(t.before.length, 2);
		assert.deepEqual([t.before[1]!.map, t.before[1]!.written], ['pending', false]);
		assert.equal(reportsIn(t.link)[0]!.outcome, 'interrupted');
	});

	it('a reboot between writing the report and queueing it queues it once', () => {
		const t = setup();
		const m = t.make();
		runOne(m, t.time);
		// simulate the crash window: the report key is back, the outbox already has the report
		const r = t.link.entries[0]!;
		const key = 'mr.' + (JSON.parse(utf8Decode(r.payload)!) as MissionReport).missionId.slice(2);
		t.storage.write(key, r.payload);
		t.make();
		assert.equal(t.link.entries.length, 1, 'the outbox already held it: not queued again');
		assert.equal(t.storage.read(key), undefined);
	});

	it('with the outbox full, reports wait on storage and move on PUBACK; cleaning goes on', () => {
		const t = setup(1);
		const m = t.make();
		runOne(m, t.time);
		runOne(m, t.time);
		runOne(m, t.time);
		assert.equal(t.link.entries.length, 1);
		assert.equal(m.pendingReports(), 2);
		t.link.ack();
		assert.equal(m.pendingReports(), 1);
		t.link.ack();
		t.link.ack();
		assert.equal(m.pendingReports(), 0);
		assert.equal(t.link.entries.length, 0);
	});

	it('batches events: a one-hour mission is at most four messages, the report is not one of them', () => {
		const t = setup();
		const m = t.make();
		m.start('schedule', 100);
		for (let i = 1; i <= 120; i++) {
			t.time.advance(30_000);
			m.progress(i * 0.5, 100 - i / 2);
		}
		m.finish();
		t.time.advance(60_000);
		m.docked(35);
		assert.ok(t.link.qos0.length <= 4, 'sent ' + t.link.qos0.length);
		const events = t.link.qos0.flatMap((q) => q.body.events.map((e) => e.e));
		assert.equal(events[0], 'started');
		assert.equal(events[events.length - 1], 'docked');
		assert.equal(events.filter((e) => e === 'progress').length + t.link.qos0.reduce((n, q) => n + q.body.dropped, 0), 120, 'every progress event sent or counted as dropped');
		assert.ok(t.link.qos0.every((q) => q.topic === 'robots/robot-1/missions/' + t.link.qos0[0]!.body.mission + '/events'));
	});

	it('the token bucket holds a flood of events back instead of sending them', () => {
		const t = setup();
		const m = t.make();
		for (let i = 0; i < 10; i++) {
			m.start('app', 100);
			m.cancel();
			m.docked(100);
		}
		assert.equal(t.link.qos0.length, 4, 'the bucket allows four at once');
		assert.equal(t.link.entries.length, 10, 'every report is queued all the same');
	});

	it('offline, an event batch is dropped and logged; the report is kept', () => {
		const t = setup();
		t.link.setOnline(false);
		runOne(t.make(), t.time);
		assert.equal(t.link.qos0.length, 0);
		assert.ok(t.log.events().includes('mission.events_dropped'));
		assert.equal(t.link.entries.length, 1);
	});
});

/**
 * The mission runner over the real outbox on one storage, where the test refuses writes:
 * what the robot promised (a report for every mission it started) must be on storage after
 * a reboot, whatever write was refused.
 */
describe('missions: storage faults on every write path', () => {
	function robot(storage: ReturnType<typeof memoryStorage>, time: ReturnType<typeof fakeTime>, log = memoryLog(), capacity = 2) {
		const box = new Outbox(storage, log, { maxMessages: capacity, maxBytes: 64 * 1024 });
		const delivered: ((seq: number, topic: string) => void)[] = [];
		const acked: string[] = [];
		let id = 0;
		const link: MissionLink = {
			outbox: box,
			publish(topic, payload, qos, durable) {
				if (qos === 0) return ok(0);
				const r = box.add(topic, payload, durable === true);
				return r.ok ? ok(r.value.seq) : r;
			},
			listen(l) {
				if (l.delivered) delivered.push(l.delivered);
				return () => {};
			},
		};
		const ports = { clock: { now: () => 1_800_000_000_000 + time.now(), monotonic: () => time.now() }, timers: time.timers, storage, log, random: { random: seededRandom(7) } };
		const missions = new Missions('robot-1', link, ports);
		return {
			missions,
			box,
			acked,
			log,
			/** The broker acknowledges the oldest message. */
			ack() {
				const e = box.entries()[0];
				if (!e) return;
				box.assign(e, ++id);
				box.acknowledge(id);
				acked.push(JSON.parse(utf8Decode(e.payload)!).missionId);
				for (const d of delivered) d(e.seq, e.topic);
			},
		};
	}

	const clean = (r: ReturnType<typeof robot>, time: ReturnType<typeof fakeTime>): string | undefined => {
		const id = r.missions.start('schedule', 100, 'weekday');
		if (!id.ok) return undefined;
		for (let i = 1; i <= 3; i++) {
			time.advance(60_000);
			r.missions.progress(i, 90);
		}
		r.missions.finish();
		r.missions.docked(80);
		return id.value;
	};

	/** Mission ids of the reports a reboot finds: written (mr.) or queued (ob./op.). */
	const owed = (storage: ReturnType<typeof memoryStorage>, time: ReturnType<typeof fakeTime>): string[] => {
		const after = robot(storage, time);
		const fromKeys = storage
			.keys()
			.filter((k) => k.startsWith('mr.'))
			.map((k) => JSON.parse(utf8Decode(storage.read(k)!)!).missionId as string);
		return [...fromKeys, ...after.box.entries().map((e) => JSON.parse(utf8Decode(e.payload)!).missionId as string)].sort();
	};

	for (const result of ['full', 'failed'] as const) {
		it(`each write refused in turn (${result}): every mission started is reported once, across a reboot`, () => {
			let writes = 0;
			{
				const storage = memoryStorage();
				const time = fakeTime();
				const r = robot(storage, time);
				for (let i = 0; i < 4; i++) clean(r, time);
				r.ack();
				writes = storage.writes;
			}
			assert.ok(writes > 20, 'a run writes ' + writes + ' times');
			for (let n = 1; n <= writes; n++) {
				const storage = memoryStorage({ fail: (_k, i) => (i === n ? result : undefined) });
				const time = fakeTime();
				const r = robot(storage, time);
				const started: string[] = [];
				for (let i = 0; i < 4; i++) {
					const id = clean(r, time);
					if (id) started.push(id);
				}
				r.ack();
				assert.ok(started.length >= 3, 'one refused write refuses at most one mission (write ' + n + ')');
				storage.faults.fail = undefined;
				const reported = [...r.acked, ...owed(storage, time)].sort();
				assert.deepEqual(reported, [...started].sort(), 'refused write ' + n + ' (' + result + ')');
			}
		});
	}

	it('a full store: the outbox answers full, reports already queued survive a reboot, new missions are refused with a log line until a PUBACK frees room', () => {
		const storage = memoryStorage();
		const time = fakeTime();
		const log = memoryLog();
		const r = robot(storage, time, log, 32);
		const first = [clean(r, time), clean(r, time)];
		assert.equal(r.box.size, 2);
		// the store fills (other records, the credentials' partition neighbours): exactly what is there now
		storage.faults.budget = storage.used();
		const third = r.missions.start('schedule', 100, 'weekday');
		assert.deepEqual(third.ok ? 'started' : third.error.code, 'storage');
		const line = log.lines.find((l) => l.event === 'mission.refused');
		assert.ok(line, JSON.stringify(log.events()));
		assert.equal(line.level, 'error');
		// the outbox itself answers full for anything new that must be durable
		const more = r.box.add('robots/robot-1/x', bytes(1, 2, 3), true);
		assert.deepEqual(more.ok ? 'ok' : [more.error.code, 'storage' in more.error], ['full', true]);
		// reboot: both reports are still queued
		assert.deepEqual(owed(storage, time), [...first].sort() as string[]);
		// a PUBACK frees room: the next mission runs
		r.ack();
		assert.ok(clean(r, time));
	});

	it('a mission whose running record the store cannot take does not start (its only trace until the report): refused, id skipped', () => {
		const storage = memoryStorage();
		const time = fakeTime();
		const log = memoryLog();
		const r = robot(storage, time, log);
		storage.faults.fail = (key) => (key.startsWith('mis.cur') ? 'full' : undefined);
		const refused = r.missions.start('schedule', 100, 'weekday');
		assert.deepEqual(refused.ok ? 'started' : refused.error.code, 'storage');
		assert.equal(r.missions.state.value, 'idle');
		assert.ok(log.events().includes('mission.refused'));
		storage.faults.fail = undefined;
		const started = r.missions.start('schedule', 100, 'weekday');
		assert.ok(started.ok);
		assert.ok(readRecord(storage, 'mis.cur'));
	});

	it('a report the store refuses keeps the running record (a reboot reports it interrupted) and blocks new missions until written', () => {
		const storage = memoryStorage();
		const time = fakeTime();
		const log = memoryLog();
		const r = robot(storage, time, log);
		const id = r.missions.start('button', 100);
		assert.ok(id.ok);
		// the report's two homes: the outbox (straight in) and its own key
		storage.faults.fail = (key) => (key.startsWith('mr.') || key.startsWith('ob.') ? 'full' : undefined);
		r.missions.finish();
		r.missions.docked(80);
		assert.ok(log.events().includes('mission.report_unsaved'));
		assert.ok(readRecord(storage, 'mis.cur'), "the running record is the report's copy");
		const next = r.missions.start('button', 100);
		assert.deepEqual(next.ok ? 'started' : next.error, { code: 'storage', result: 'report unsaved' });
		// reboot while still refused: the mission is reported interrupted once the store takes it
		storage.faults.fail = undefined;
		const after = robot(storage, time);
		const reports = after.box.entries().map((e) => JSON.parse(utf8Decode(e.payload)!) as MissionReport);
		assert.deepEqual(
			reports.map((x) => [x.missionId, x.outcome]),
			[[id.value, 'interrupted']],
		);
	});

	it('a report refused then taken after a PUBACK: written, queued, the running record dropped', () => {
		const storage = memoryStorage();
		const time = fakeTime();
		const r = robot(storage, time);
		const a = clean(r, time)!;
		const id = r.missions.start('button', 100);
		assert.ok(id.ok);
		// the report's two homes: the outbox (straight in) and its own key
		storage.faults.fail = (key) => (key.startsWith('mr.') || key.startsWith('ob.') ? 'full' : undefined);
		r.missions.finish();
		r.missions.docked(80);
		storage.faults.fail = undefined;
		r.ack(); // a's PUBACK: the pump writes the report owed
		assert.deepEqual(r.acked, [a]);
		assert.deepEqual(
			r.box.entries().map((e) => JSON.parse(utf8Decode(e.payload)!).missionId),
			[id.value],
		);
		assert.equal(readRecord(storage, 'mis.cur'), undefined);
		assert.ok(r.missions.start('button', 100).ok);
	});
});
