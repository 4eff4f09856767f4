/*
 * The schedule model: a table of documents -> accepted, or the exact errors with their
 * paths; the validated value is a frozen copy; canonical JSON and equality.
 */
import * as assert from '../testing/assert';
import { canonicalJson, MAX_ENTRIES, sameSchedule, validateSchedule, type ScheduleError } from './model';

const TZ = 'CET-1CEST,M3.5.0,M10.5.0/3';
const entry = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ id: 'morning', days: ['mon', 'wed', 'fri'], start: '09:30', enabled: true, ...over });
const doc = (...entries: unknown[]): Record<string, unknown> => ({ tz: TZ, entries });

describe('validateSchedule', () => {
	it('accepts well-formed schedules', () => {
		const rows: unknown[] = [
			doc(),
			doc(entry()),
			doc(entry({ mode: 'mop', rooms: ['kitchen', 'hall'] }), entry({ id: 'night-2', days: ['sun'], start: '23:59', enabled: false, mode: 'both' })),
			doc(entry({ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', rooms: ['x'.repeat(32), 'Küche', '寝室'] })),
			{ tz: 'UTC0', entries: Array.from({ length: MAX_ENTRIES }, (_, i) => entry({ id: 'e' + i })) },
			doc(entry({ id: 'a'.repeat(32) })),
		];
		for (const x of rows) {
			const r = validateSchedule(x);
			assert.ok(r.ok, JSON.stringify(x) + ': ' + (r.ok ? '' : JSON.stringify(r.error)));
			assert.deepEqual(r.value, x as never);
		}
	});

	it('names the path and the problem of every error', () => {
		const rows: [unknown, ScheduleError[]][] = [
			[null, [{ path: '', message: 'expected a schedule object {tz, entries}, got null' }]],
			[[], [{ path: '', message: 'expected a schedule object {tz, entries}, got []' }]],
			[{ entries: [] }, [{ path: 'tz', message: 'expected a POSIX TZ rule string, got nothing' }]],
			[{ tz: 'CET', entries: [] }, [{ path: 'tz', message: 'TZ "CET" at 3: standard time offset hours: expected a digit, got end of rule' }]],
			[{ tz: TZ }, [{ path: 'entries', message: 'expected an array of at most 16 entries, got nothing' }]],
			[{ tz: TZ, entries: [], version: 3 }, [{ path: 'version', message: 'unknown field, expected one of tz, entries' }]],
			[{ tz: TZ, entries: Array.from({ length: 17 }, (_, i) => entry({ id: 'e' + i })) }, [{ path: 'entries', message: 'expected an array of at most 16 entries, got an array of 17' }]],
			[
				doc(entry(), entry(), 'x'),
				[
					{ path: 'entries[1].id', message: 'duplicate id "morning" (also entries[0])' },
					{ path: 'entries[2]', message: 'expected an object, got "x"' },
				],
			],
			[doc(entry({ start: '24:10' })), [{ path: 'entries[0].start', message: 'expected "HH:MM" 00:00-23:59, got "24:10"' }]],
			[doc(entry({ start: '9:30' })), [{ path: 'entries[0].start', message: 'expected "HH:MM" 00:00-23:59, got "9:30"' }]],
			[doc(entry({ start: 'x'.repeat(50) })), [{ path: 'entries[0].start', message: 'expected "HH:MM" 00:00-23:59, got "' + 'x'.repeat(36) + '...' }]],
			[doc(entry({ start: '09:60' })), [{ path: 'entries[0].start', message: 'expected "HH:MM" 00:00-23:59, got "09:60"' }]],
			[doc(entry({ id: 'Morning' })), [{ path: 'entries[0].id', message: 'expected 1-32 characters of a-z, 0-9 and "-", got "Morning"' }]],
			[doc(entry({ id: '' })), [{ path: 'entries[0].id', message: 'expected 1-32 characters of a-z, 0-9 and "-", got ""' }]],
			[doc(entry({ id: 'a'.repeat(33) })), [{ path: 'entries[0].id', message: 'expected 1-32 characters of a-z, 0-9 and "-", got "' + 'a'.repeat(33) + '"' }]],
			[doc(entry({ days: [] })), [{ path: 'entries[0].days', message: 'expected a non-empty array of "mon".."sun", got []' }]],
			[doc(entry({ days: 42 })), [{ path: 'entries[0].days', message: 'expected a non-empty array of "mon".."sun", got 42' }]],
			[doc(entry({ days: ['mon', 'Tue'] })), [{ path: 'entries[0].days[1]', message: 'expected one of mon, tue, wed, thu, fri, sat, sun, got "Tue"' }]],
			[doc(entry({ days: ['wed', 'mon'] })), [{ path: 'entries[0].days', message: 'expected days in week order mon..sun without repeats, got ["wed","mon"]' }]],
			[doc(entry({ days: ['mon', 'mon'] })), [{ path: 'entries[0].days', message: 'expected days in week order mon..sun without repeats, got ["mon","mon"]' }]],
			[doc(entry({ enabled: 'yes' })), [{ path: 'entries[0].enabled', message: 'expected true or false, got "yes"' }]],
			[doc(entry({ enabled: undefined })), [{ path: 'entries[0].enabled', message: 'expected true or false, got nothing' }]],
			[doc(entry({ mode: 'wash' })), [{ path: 'entries[0].mode', message: 'expected one of vacuum, mop, both, got "wash"' }]],
			[doc(entry({ rooms: [] })), [{ path: 'entries[0].rooms', message: 'expected an array of 1-16 room names (omit it to clean everywhere), got []' }]],
			[doc(entry({ rooms: Array.from({ length: 17 }, (_, i) => 'r' + i) })), [{ path: 'entries[0].rooms', message: 'expected an array of 1-16 room names (omit it to clean everywhere), got an array of 17' }]],
			[
				doc(entry({ rooms: ['hall', '', 'x'.repeat(33), 'a\nb', 7, 'hall'] })),
				[
					{ path: 'entries[0].rooms[1]', message: 'expected a name of 1-32 characters without control characters, got ""' },
					{ path: 'entries[0].rooms[2]', message: 'expected a name of 1-32 characters without control characters, got "' + 'x'.repeat(33) + '"' },
					{ path: 'entries[0].rooms[3]', message: 'expected a name of 1-32 characters without control characters, got "a\\nb"' },
					{ path: 'entries[0].rooms[4]', message: 'expected a name of 1-32 characters without control characters, got 7' },
					{ path: 'entries[0].rooms[5]', message: 'duplicate room "hall" (also [0])' },
				],
			],
			[
				doc(entry({ color: 'red', start: 'noon' })),
				[
					{ path: 'entries[0].color', message: 'unknown field, expected one of id, days, start, enabled, mode, rooms' },
					{ path: 'entries[0].start', message: 'expected "HH:MM" 00:00-23:59, got "noon"' },
				],
			],
		];
		for (const [x, errors] of rows) {
			const r = validateSchedule(x);
			assert.ok(!r.ok, JSON.stringify(x) + ' should be refused');
			assert.deepEqual(r.error, errors, JSON.stringify(x));
		}
	});

	it('returns a frozen copy that later changes to the input do not reach', () => {
		const x = doc(entry({ rooms: ['kitchen'] }));
		const r = validateSchedule(x);
		assert.ok(r.ok);
		((x.entries as Record<string, unknown>[])[0]!.rooms as string[]).push('hall');
		assert.deepEqual(r.value.entries[0]!.rooms, ['kitchen']);
		assert.ok(Object.isFrozen(r.value) && Object.isFrozen(r.value.entries) && Object.isFrozen(r.value.entries[0]) && Object.isFrozen(r.value.entries[0]!.days));
	});
});

describe('canonical form', () => {
	it('sorts keys at every level and leaves out absent fields', () => {
		const r = validateSchedule({ entries: [{ start: '09:30', rooms: ['b', 'a'], enabled: true, id: 'x', days: ['mon', 'sun'], mode: undefined }], tz: 'UTC0' });
		assert.ok(r.ok);
		assert.equal(canonicalJson(r.value), '{"entries":[{"days":["mon","sun"],"enabled":true,"id":"x","rooms":["b","a"],"start":"09:30"}],"tz":"UTC0"}');
	});

	it('equal schedules regardless of key order; any field, entry order or tz text counts', () => {
		const base = validateSchedule(doc(entry(), entry({ id: 'b', mode: 'mop' })));
		const reordered = validateSchedule({
			entries: [
				{ enabled: true, start: '09:30', days: ['mon', 'wed', 'fri'], id: 'morning' },
				{ mode: 'mop', id: 'b', enabled: true, start: '09:30', days: ['mon', 'wed', 'fri'] },
			],
			tz: TZ,
		});
		assert.ok(base.ok && reordered.ok);
		assert.ok(sameSchedule(base.value, reordered.value));
		const differ: unknown[] = [
			doc(entry({ id: 'b', mode: 'mop' }), entry()),
			doc(entry({ enabled: false }), entry({ id: 'b', mode: 'mop' })),
			doc(entry(), entry({ id: 'b' })),
			{ tz: 'CET-1CEST,M3.5.0/2,M10.5.0/3', entries: [entry(), entry({ id: 'b', mode: 'mop' })] },
		];
		for (const x of differ) {
			const other = validateSchedule(x);
			assert.ok(other.ok);
			assert.ok(!sameSchedule(base.value, other.value), JSON.stringify(x));
		}
	});
});
