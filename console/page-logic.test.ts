/*
 * The page's pure parts on Node: the map image (console/page/map.ts) from a real simulated
 * RMAP map, and the schedule edit status (console/page/schedule-status.ts) as a table.
 */
import assert from 'node:assert/strict';
import { simulatedMap, CELL, MAP_HEADER_BYTES } from '../firmware/sim/map';
import { canonicalJson, type Schedule } from '../firmware/core/schedule/model';
import { mapImage } from './page/map';
import { scheduleStatus, type ScheduleStatus } from './page/schedule-status';
import type { ShadowView } from './protocol';

function bytesOf(m: ReturnType<typeof simulatedMap>): Uint8Array {
	const out = new Uint8Array(m.length);
	const read = m.open();
	let at = 0;
	for (let c = read(4096); c; c = read(4096)) {
		out.set(c, at);
		at += c.length;
	}
	return out;
}

describe('console page: map image', () => {
	it('draws one pixel per cell: free white, occupied black, unknown grey', () => {
		const m = simulatedMap({ seed: 3, areaM2: 20, width: 120, height: 80 });
		const bytes = bytesOf(m);
		const img = mapImage(bytes);
		assert.ok(typeof img !== 'string', String(img));
		assert.equal(img.width, 120);
		assert.equal(img.height, 80);
		assert.equal(img.rgba.length, 120 * 80 * 4);
		const row = new Uint8Array(120);
		m.row(40, row);
		const expected = { [CELL.free]: 255, [CELL.occupied]: 0, [CELL.unknown]: 160 } as Record<number, number>;
		for (let x = 0; x < 120; x++) {
			const o = (40 * 120 + x) * 4;
			assert.equal(img.rgba[o], expected[row[x]!], 'cell ' + x + ' = ' + row[x]);
			assert.equal(img.rgba[o + 3], 255);
		}
		assert.ok(row.includes(CELL.unknown) && row.includes(CELL.free), 'the row has seen and unseen cells');
	});

	it('refuses bytes that are not a whole RMAP map', () => {
		const bytes = bytesOf(simulatedMap({ seed: 3, areaM2: 20, width: 10, height: 10 }));
		assert.match(String(mapImage(bytes.subarray(0, bytes.length - 1))), /length 131, the header says 132/);
		assert.match(String(mapImage(bytes.subarray(0, MAP_HEADER_BYTES - 1))), /not an RMAP map: short/);
		const other = bytes.slice();
		other[0] = 0x58;
		assert.match(String(mapImage(other)), /not an RMAP map: magic/);
	});
});

describe('console page: schedule edit status', () => {
	const A: Schedule = { tz: 'UTC0', entries: [{ id: 'a', days: ['mon'], start: '09:00', enabled: true }] };
	const B: Schedule = { tz: 'UTC0', entries: [] };
	const shadow = (version: number, state: { desired?: unknown; reported?: Record<string, unknown> }): ShadowView => ({
		version,
		desired: state.desired === undefined ? null : { schedule: state.desired },
		reported: state.reported ?? null,
		delta: null,
		timestamp: null,
	});
	const written = { version: 5, canonical: canonicalJson(A) };
	const rows: [string, ShadowView | null, typeof written | undefined, ScheduleStatus][] = [
		['no shadow', null, undefined, { value: 'none' }],
		['an edit in desired', shadow(5, { desired: A, reported: { schedule: B } }), written, { value: 'waiting', version: 5 }],
		['reported the edit, desired cleared', shadow(6, { reported: { schedule: A } }), written, { value: 'applied', version: 6 }],
		['refused with a reason', shadow(6, { reported: { schedule: B, scheduleError: 'entries[0].start: bad' } }), written, { value: 'refused', version: 6, reason: 'entries[0].start: bad' }],
		['nothing written from here', shadow(6, { reported: { schedule: A } }), undefined, { value: 'in-sync', version: 6 }],
		['an older document than the write', shadow(4, { reported: { schedule: A } }), written, { value: 'in-sync', version: 4 }],
	];
	for (const [name, s, w, want] of rows) it(name, () => assert.deepEqual(scheduleStatus(s, w), want));
});
