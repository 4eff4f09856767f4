import * as assert from '../core/testing/assert';
import { CELL, MAP_HEADER_BYTES, mapLength, parseMapHeader, simulatedMap, squareFor } from './map';

function readAll(m: { length: number; open(): (max: number) => Uint8Array | undefined }, chunk: number): Uint8Array {
	const out = new Uint8Array(m.length);
	const read = m.open();
	let at = 0;
	for (let c = read(chunk); c; c = read(chunk)) {
		assert.ok(c.length >= 1 && c.length <= chunk);
		out.set(c, at);
		at += c.length;
	}
	assert.equal(at, m.length);
	return out;
}

const count = (b: Uint8Array, v: number) => b.reduce((n, x) => n + (x === v ? 1 : 0), 0);

describe('simulated map (RMAP)', () => {
	it('a header then width x height cells; the same bytes whatever the chunk size', () => {
		const m = simulatedMap({ seed: 3, areaM2: 40, width: 200, height: 150 });
		assert.equal(m.length, mapLength(200, 150));
		const a = readAll(m, 4096);
		const b = readAll(m, 7);
		assert.deepEqual(Array.from(a), Array.from(b));
		const h = parseMapHeader(a);
		if (typeof h === 'string') throw new Error(h);
		assert.deepEqual([h.width, h.height, h.resolutionMm, h.areaM2, h.headerBytes], [200, 150, m.resolutionMm, 40, MAP_HEADER_BYTES]);
		const row = new Uint8Array(200);
		m.row(75, row);
		assert.deepEqual(Array.from(row), Array.from(a.subarray(MAP_HEADER_BYTES + 75 * 200, MAP_HEADER_BYTES + 76 * 200)));
		for (const v of a.subarray(MAP_HEADER_BYTES)) assert.ok(v === CELL.free || v === CELL.occupied || v === CELL.unknown);
	});

	it('deterministic in the seed; more cleaned area, more of the home known', () => {
		const cells = (seed: number, areaM2: number) => readAll(simulatedMap({ seed, areaM2, width: 160, height: 120 }), 4096).subarray(MAP_HEADER_BYTES);
		assert.deepEqual(Array.from(cells(5, 20)), Array.from(cells(5, 20)));
		assert.notEqual(Array.from(cells(5, 65)).join(), Array.from(cells(6, 65)).join());
		const none = cells(5, 0);
		assert.equal(count(none, CELL.unknown), none.length, 'nothing cleaned, nothing known');
		const known = [10, 30, 65].map((a) => none.length - count(cells(5, a), CELL.unknown));
		assert.ok(known[0]! > 0 && known[0]! < known[1]! && known[1]! < known[2]!, 'known cells grow: ' + known.join(' < '));
		const full = cells(5, 65);
		assert.ok(count(full, CELL.free) > count(full, CELL.occupied), 'mostly floor');
	});

	it('a 2 MB map is 1448 x 1448; tiny grids work', () => {
		assert.deepEqual(squareFor(2 * 1024 * 1024), { width: 1448, height: 1448 });
		assert.ok(mapLength(1448, 1448) <= 2 * 1024 * 1024);
		assert.equal(readAll(simulatedMap({ seed: 1, areaM2: 65, width: 1, height: 1 }), 100).length, MAP_HEADER_BYTES + 1);
		assert.throws(() => simulatedMap({ seed: 1, areaM2: 1, width: 0 }), /width/);
	});
});
