/*
 * tools/schedule.ts run in-process against the local cloud's shadow data plane: set, show,
 * and input that is refused before anything is sent.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { formatEntry, main, parseEntry, type Io } from './schedule';
import { validateSchedule } from '../firmware/core/schedule/model';

interface Run {
	code: number;
	out: string;
	err: string;
}

describe('tools/schedule (app-side schedule helper)', function () {
	this.timeout(30_000);
	let dir: string;
	let cloud: LocalCloud;
	const NOW = Date.UTC(2026, 5, 1, 6, 0); // Monday 1 June 2026, 08:00 in Berlin (CEST)

	const run = async (argv: string[], env: Record<string, string | undefined> = { IOT_DATA_ENDPOINT: cloud.endpoints.iotData }): Promise<Run> => {
		const out: string[] = [];
		const err: string[] = [];
		const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), env, now: () => NOW };
		const code = await main(argv, io);
		return { code, out: out.join('\n'), err: err.join('\n') };
	};
	const stored = () => {
		const r = cloud.shadow.operations.get('robot-1', 'schedule', '');
		return r.ok ? (r.value as { state: { desired?: Record<string, unknown> }; version: number }) : undefined;
	};

	before(async () => {
		dir = mkdtempSync(path.join(tmpdir(), 'schedule-cli-'));
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1'], inMemory: true });
	});
	after(async () => {
		await cloud?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	it('parses entry specs and writes them back the same way', () => {
		const r = parseEntry('weekday:fri,mon-thu@9:30:vacuum:kitchen+hall');
		assert.deepEqual(r, {
			ok: true,
			entry: { id: 'weekday', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:30', enabled: true, mode: 'vacuum', rooms: ['kitchen', 'hall'] },
		});
		assert.deepEqual(parseEntry('w:weekend@11:00:hall'), { ok: true, entry: { id: 'w', days: ['sat', 'sun'], start: '11:00', enabled: true, rooms: ['hall'] } });
		assert.deepEqual(parseEntry('w:daily@11:00::mop'), {
			ok: true,
			entry: { id: 'w', days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '11:00', enabled: true, rooms: ['mop'] },
		});
		for (const spec of ['a:mon,wed@07:05', 'b:daily@23:59:both', 'c:sat@00:00:mop:x+y', 'd:tue@10:00::kitchen']) {
			const p = parseEntry(spec);
			assert.ok(p.ok);
			const v = validateSchedule({ tz: 'UTC0', entries: [p.entry] });
			assert.ok(v.ok, spec);
			assert.equal(formatEntry(v.value.entries[0]!), spec);
		}
		const why = (spec: string) => {
			const p = parseEntry(spec);
			return p.ok ? '' : p.error;
		};
		assert.match(why('weekday-mon'), /no "@"/);
		assert.match(why('x:fri-mon@10:00'), /first day first/);
		assert.match(why('x:mon@10'), /expected HH:MM/);
	});

	it('show: no shadow yet', async () => {
		const r = await run(['show', '--thing', 'robot-1']);
		assert.equal(r.code, 0, r.err);
		assert.match(r.out, /no "schedule" shadow yet/);
	});

	it('set: converts the zone, validates, and writes desired.schedule', async () => {
		const r = await run(['set', '--thing', 'robot-1', '--zone', 'Europe/Berlin', '--entry', 'weekday:mon,tue,wed,thu,fri@09:30:vacuum:kitchen+hall', '--entry', 'weekend:sat,sun@11:00', '--disable', 'weekend']);
		assert.equal(r.code, 0, r.err);
		assert.match(r.out, /desired schedule set \(shadow version 1/);
		const s = stored();
		assert.deepEqual(s?.state.desired?.schedule, {
			tz: 'CET-1CEST,M3.5.0,M10.5.0/3',
			entries: [
				{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], enabled: true, id: 'weekday', mode: 'vacuum', rooms: ['kitchen', 'hall'], start: '09:30' },
				{ days: ['sat', 'sun'], enabled: false, id: 'weekend', start: '11:00' },
			],
		});
	});

	it('show: desired, reported, delta, version and scheduleError', async () => {
		// the robot's side, as the reconcile machine would write it after refusing an earlier edit
		const robot = cloud.shadow.operations.update(
			'robot-1',
			'schedule',
			new TextEncoder().encode(JSON.stringify({ state: { reported: { schedule: { tz: 'UTC0', entries: [] }, scheduleError: { message: 'entries[0].start: bad', version: 1 } } } })),
		);
		assert.ok(robot.ok);
		const r = await run(['show', '--thing', 'robot-1']);
		assert.equal(r.code, 0, r.err);
		assert.match(r.out, /robot-1 \/ schedule shadow, version 2/);
		assert.match(
			r.out,
			/desired \(waiting for the robot\): tz CET-1CEST,M3\.5\.0,M10\.5\.0\/3\n {2}weekday:mon,tue,wed,thu,fri@09:30:vacuum:kitchen\+hall\n {2}weekend:sat,sun@11:00 {2}\(disabled\)\n {2}next run: 2026-06-01T07:30:00\.000Z \(weekday\)/,
		);
		assert.match(r.out, /reported \(what the robot runs\): tz UTC0, no entries/);
		assert.match(r.out, /delta: \{"entries":/);
		assert.match(r.out, /scheduleError: \{"message":"entries\[0\]\.start: bad","version":1\}/);
		const j = await run(['show', '--thing', 'robot-1', '--json']);
		const doc = JSON.parse(j.out) as Record<string, unknown>;
		assert.equal(doc.version, 2);
		assert.deepEqual(doc.reported, { tz: 'UTC0', entries: [] });
		assert.deepEqual(doc.scheduleError, { message: 'entries[0].start: bad', version: 1 });
		assert.ok(doc.delta && doc.desired);
	});

	it('refuses an invalid schedule with errors naming the argument, and sends nothing', async () => {
		const version = stored()?.version;
		const r = await run(['set', '--thing', 'robot-1', '--zone', 'Europe/Berlin', '--entry', 'ok:mon@08:00', '--entry', 'bad:mon,funday@25:00:vacuum', '--entry', 'ok:tue@09:00']);
		assert.equal(r.code, 2);
		assert.match(r.err, /schedule not sent/);
		assert.match(r.err, /--entry "bad:mon,funday@25:00:vacuum": days\[1\]: expected one of mon, .*got "funday"/);
		assert.match(r.err, /--entry "bad:mon,funday@25:00:vacuum": start: expected "HH:MM"/);
		assert.match(r.err, /--entry "ok:tue@09:00": id: duplicate id "ok"/);
		assert.equal(stored()?.version, version, 'the shadow is untouched');
		// checked before any endpoint is needed: nothing can have been sent
		const z = await run(['set', '--thing', 'robot-1', '--zone', 'Mars/Olympus', '--entry', 'a:mon@08:00'], {});
		assert.equal(z.code, 2);
		assert.match(z.err, /--zone "Mars\/Olympus": not an IANA time zone/);
		const t = await run(['set', '--thing', 'robot-1', '--tz', 'CET-1CEST,M13.5.0', '--entry', 'a:mon@08:00'], {});
		assert.equal(t.code, 2);
		assert.match(t.err, /--tz "CET-1CEST,M13\.5\.0": /);
		assert.equal(stored()?.version, version);
	});

	it('usage errors: exit 2 with a clear message', async () => {
		const cases: [string[], RegExp][] = [
			[['show'], /--thing expected/],
			[['list', '--thing', 'robot-1'], /expected one command, show or set, got "list"/],
			[['set', '--thing', 'robot-1', '--zone', 'UTC'], /no --entry given/],
			[['show', '--thing', 'robot-1', '--bogus'], /Unknown option '--bogus'/],
			[['set', '--thing', 'robot-1', '--zone', 'UTC', '--entry', 'a:mon@08:00', '--disable', 'b'], /--disable "b": no --entry has that id/],
		];
		for (const [argv, re] of cases) {
			const r = await run(argv);
			assert.equal(r.code, 2, argv.join(' '));
			assert.match(r.err, re);
		}
		const none = await run(['show', '--thing', 'robot-1'], {});
		assert.equal(none.code, 2);
		assert.match(none.err, /no endpoint: pass --endpoint URL or set IOT_DATA_ENDPOINT/);
	});

	it('--endpoint overrides the environment; a service failure exits 1', async () => {
		const r = await run(['show', '--thing', 'robot-1', '--endpoint', cloud.endpoints.iotData], { IOT_DATA_ENDPOINT: 'http://127.0.0.1:1' });
		assert.equal(r.code, 0, r.err);
		const down = await run(['show', '--thing', 'robot-1'], { IOT_DATA_ENDPOINT: 'http://127.0.0.1:1' });
		assert.equal(down.code, 1);
		assert.match(down.err, /^failed: /);
	});

	it('an empty schedule only on request', async () => {
		const r = await run(['set', '--thing', 'robot-1', '--tz', 'UTC0', '--empty']);
		assert.equal(r.code, 0, r.err);
		assert.deepEqual(stored()?.state.desired?.schedule, { tz: 'UTC0', entries: [] });
	});
});
