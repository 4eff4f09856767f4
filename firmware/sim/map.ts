/*
 * A simulated map of the home: what the robot's SLAM would hand the uploader after a
 * mission, made up deterministically from a seed (the home) and the mission's cleaned
 * area (how much of it the robot saw). Platform-free and XS-friendly; rows are made on
 * the fly, so a reader holds one row (width bytes) and the 32-byte header whatever the
 * map's size: the device never holds the map whole.
 *
 * Format "RMAP" version 1: an occupancy grid, a header then the cells, little-endian.
 *
 *   offset size  field
 *        0    4  magic        "RMAP" (52 4D 41 50)
 *        4    1  version      1
 *        5    1  cell format  0 = one byte per cell (the only one)
 *        6    2  header bytes 32 (u16): cells start here; a reader skips what it does not know
 *        8    4  width        cells per row (u32)
 *       12    4  height       rows (u32)
 *       16    4  resolution   millimetres per cell side (u32)
 *       20    4  origin x     mm (i32): world x of the left edge of column 0
 *       24    4  origin y     mm (i32): world y of the top edge of row 0
 *       28    4  area         cleaned area of the mission in cm² (u32)
 *       32  w*h  cells        row-major, row 0 first (the top of an image), column 0 left;
 *                             world x grows with the column, world y with the row
 *
 *   cell  0    free (seen, nothing there)
 *         100  occupied (wall, furniture)
 *         255  unknown (not seen on this mission)
 *   Other values are reserved (0..100 as an occupancy percentage, as ROS's OccupancyGrid).
 *   To draw: one grey pixel per cell, 0 white, 100 black, 255 mid-grey.
 *
 * Length = 32 + width * height; a 2 MB map is 1448 x 1448 cells (2,096,736 bytes).
 *
 * The home: a rectangle of `homeAreaM2` split into rooms (binary space partition), walls
 * between them with one door per split, a few pieces of furniture per room. The resolution
 * is chosen so the home fills about 90% of the grid (a bigger map is a finer one). The
 * robot starts in the dock's room and sees rooms in breadth-first order through the doors
 * until their floor adds up to the cleaned area; the last room only partly (from its left
 * side). What it did not see is unknown, as is everything outside the home.
 */
import type { PlaintextSource } from '../core/maps/esdk';
import { seededRandom } from '../platform/portable/random';

export const MAP_MAGIC = 'RMAP';
export const MAP_VERSION = 1;
export const MAP_HEADER_BYTES = 32;
export const CELL = Object.freeze({ free: 0, occupied: 100, unknown: 255 } as const);

export interface SimulatedMapOptions {
	/** The home: the same seed gives the same floor plan. */
	readonly seed: number;
	/** Cleaned area of the mission, m²: how much of the home is known. */
	readonly areaM2: number;
	/** Cells per row and rows; default 1448 x 1448 (about 2 MB). */
	readonly width?: number;
	readonly height?: number;
	/** Floor area of the home, m²; default 65 (firmware/sim/cleaning.ts TYPICAL_HOME). */
	readonly homeAreaM2?: number;
}

/** A map to upload: its length and a fresh reader from its first byte (core/maps MapSource). */
export interface SimulatedMap {
	readonly length: number;
	readonly width: number;
	readonly height: number;
	readonly resolutionMm: number;
	/** Rooms of the plan and how many the robot saw (the last maybe in part). */
	readonly rooms: number;
	readonly roomsSeen: number;
	/** Each call a new reader; a chunk is valid until the reader's next call (copy what you keep). */
	open(): PlaintextSource;
	/** Row `y` into `out` (width bytes), for drawing or checking without the stream. */
	row(y: number, out: Uint8Array): void;
}

interface Rect {
	x0: number;
	y0: number;
	x1: number;
	y1: number;
}

interface Door extends Rect {
	a: number;
	b: number;
}

/** mulberry32 (firmware/platform/portable/random.ts): deterministic, not for keys. */
function prng(seed: number): () => number {
	const g = seededRandom(seed);
	return () => g.random();
}

function dims(name: string, v: number): number {
	if (!Number.isInteger(v) || v < 1 || v > 65_535) throw new RangeError('"' + name + '" expected an integer 1..65535, got ' + v);
	return v;
}

/** The length in bytes of a `width` x `height` map. */
export function mapLength(width: number, height: number): number {
	return MAP_HEADER_BYTES + width * height;
}

/** A square map of at most `bytes` bytes (at least 1 x 1). */
export function squareFor(bytes: number): { width: number; height: number } {
	const side = Math.max(1, Math.floor(Math.sqrt(Math.max(0, bytes - MAP_HEADER_BYTES))));
	return { width: side, height: side };
}

interface Split {
	readonly vertical: boolean;
	readonly at: number;
	readonly from: number;
	readonly to: number;
}

/** Rooms: the home split along the longer side of its largest rectangle until there are `want`. */
function splitRooms(rnd: () => number, home: Rect, want: number, minRoom: number): { rooms: Rect[]; splits: Split[] } {
	const rooms: Rect[] = [home];
	const splits: Split[] = [];
	while (rooms.length < want) {
		let best = -1;
		let bestSide = 0;
		rooms.forEach((r, i) => {
			const side = Math.max(r.x1 - r.x0, r.y1 - r.y0);
			if (side >= 2 * minRoom && side > bestSide) {
				best = i;
				bestSide = side;
			}
		});
		if (best < 0) break;
		const r = rooms[best]!;
		const vertical = r.x1 - r.x0 >= r.y1 - r.y0;
		const lo = vertical ? r.x0 : r.y0;
		const hi = vertical ? r.x1 : r.y1;
		const at = Math.round(lo + (hi - lo) * (0.35 + rnd() * 0.3));
		const a = vertical ? { ...r, x1: at } : { ...r, y1: at };
		const b = vertical ? { ...r, x0: at } : { ...r, y0: at };
		rooms.splice(best, 1, a, b);
		splits.push({ vertical, at, from: vertical ? r.y0 : r.x0, to: vertical ? r.y1 : r.x1 });
	}
	return { rooms, splits };
}

/** One door per split, `doorW` cells wide, where both sides are rooms (a later split may have cut the wall). */
function placeDoors(rnd: () => number, rooms: readonly Rect[], splits: readonly Split[], wall: number, doorW: number): Door[] {
	const roomAt = (x: number, y: number) => rooms.findIndex((r) => x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1);
	const doors: Door[] = [];
	for (const s of splits) {
		const span = s.to - s.from;
		const start = s.from + wall + Math.floor(rnd() * Math.max(1, span - 2 * wall - doorW));
		const mid = Math.min(s.to - 1, start + (doorW >> 1));
		const a = s.vertical ? roomAt(s.at - 1, mid) : roomAt(mid, s.at - 1);
		const b = s.vertical ? roomAt(s.at, mid) : roomAt(mid, s.at);
		if (a < 0 || b < 0) continue;
		const end = Math.min(s.to - wall, start + doorW);
		doors.push(s.vertical ? { x0: s.at - wall, x1: s.at + wall, y0: start, y1: end, a, b } : { x0: start, x1: end, y0: s.at - wall, y1: s.at + wall, a, b });
	}
	return doors;
}

/** Up to three pieces per room, away from the walls (so doors stay clear). */
function placeFurniture(rnd: () => number, rooms: readonly Rect[], cells: (mm: number) => number): (Rect & { room: number })[] {
	const furniture: (Rect & { room: number })[] = [];
	rooms.forEach((r, room) => {
		const margin = cells(600);
		const n = Math.floor(rnd() * 4);
		for (let i = 0; i < n; i++) {
			const w = cells(400 + rnd() * 800);
			const h = cells(400 + rnd() * 800);
			const spanX = r.x1 - r.x0 - 2 * margin - w;
			const spanY = r.y1 - r.y0 - 2 * margin - h;
			if (spanX <= 0 || spanY <= 0) continue;
			const x0 = r.x0 + margin + Math.floor(rnd() * spanX);
			const y0 = r.y0 + margin + Math.floor(rnd() * spanY);
			furniture.push({ x0, y0, x1: x0 + w, y1: y0 + h, room });
		}
	});
	return furniture;
}

/**
 * What the robot saw: rooms breadth-first from the dock's room until `areaM2` of floor is
 * covered; each seen room up to `x1` (the last one partly).
 */
function seenRooms(rnd: () => number, rooms: readonly Rect[], doors: readonly Door[], areaM2: number, floorM2: (r: Rect) => number): { room: number; x1: number }[] {
	const seen: { room: number; x1: number }[] = [];
	if (!(areaM2 > 0)) return seen;
	const order = [Math.floor(rnd() * rooms.length)];
	for (let i = 0; i < order.length; i++)
		for (const d of doors) {
			const other = d.a === order[i] ? d.b : d.b === order[i] ? d.a : -1;
			if (other >= 0 && order.indexOf(other) < 0) order.push(other);
		}
	for (let i = 0; i < rooms.length; i++) if (order.indexOf(i) < 0) order.push(i); // unreachable: seen last
	let left = areaM2;
	for (const room of order) {
		if (left <= 0) break;
		const r = rooms[room]!;
		const floor = floorM2(r);
		const part = floor <= left ? 1 : left / floor;
		left -= floor;
		seen.push({ room, x1: part >= 1 ? r.x1 : Math.max(r.x0 + 1, Math.round(r.x0 + (r.x1 - r.x0) * part)) });
	}
	return seen;
}

function fillClipped(out: Uint8Array, x0: number, x1: number, v: number): void {
	if (x1 > x0) out.fill(v, x0, x1);
}

interface Plan {
	readonly width: number;
	readonly wall: number;
	readonly rooms: readonly Rect[];
	readonly doors: readonly Door[];
	readonly furniture: readonly (Rect & { room: number })[];
	readonly seen: readonly { room: number; x1: number }[];
}

/** Writes row `y` of the grid into `out`: what was seen of walls, floor, furniture and doors; unknown elsewhere. */
function rowOf(p: Plan): (y: number, out: Uint8Array) => void {
	const { width, wall, rooms, doors, furniture, seen } = p;
	const seenX1 = new Map(seen.map((s) => [s.room, s.x1]));
	return (y, out) => {
		if (!(out.length >= width)) throw new RangeError('"out" expected >= ' + width + ' bytes');
		out.fill(CELL.unknown, 0, width);
		for (const s of seen) {
			const r = rooms[s.room]!;
			if (y < r.y0 || y >= r.y1) continue;
			if (y < r.y0 + wall || y >= r.y1 - wall) fillClipped(out, r.x0, s.x1, CELL.occupied);
			else {
				fillClipped(out, r.x0, Math.min(s.x1, r.x0 + wall), CELL.occupied);
				fillClipped(out, r.x0 + wall, Math.min(s.x1, r.x1 - wall), CELL.free);
				fillClipped(out, r.x1 - wall, s.x1, CELL.occupied);
			}
		}
		for (const f of furniture) {
			const x1 = seenX1.get(f.room);
			if (x1 !== undefined && y >= f.y0 && y < f.y1) fillClipped(out, f.x0, Math.min(f.x1, x1), CELL.occupied);
		}
		for (const d of doors) {
			if (y < d.y0 || y >= d.y1) continue;
			for (const room of [d.a, d.b]) {
				const x1 = seenX1.get(room);
				if (x1 === undefined) continue;
				const r = rooms[room]!;
				if (y >= r.y0 && y < r.y1) fillClipped(out, Math.max(d.x0, r.x0), Math.min(d.x1, r.x1, x1), CELL.free);
			}
		}
	};
}

function mapHeader(width: number, height: number, res: number, hx: number, hy: number, areaM2: number): Uint8Array {
	const header = new Uint8Array(MAP_HEADER_BYTES);
	const hv = new DataView(header.buffer);
	for (let i = 0; i < 4; i++) header[i] = MAP_MAGIC.charCodeAt(i);
	header[4] = MAP_VERSION;
	header[5] = 0;
	hv.setUint16(6, MAP_HEADER_BYTES, true);
	hv.setUint32(8, width, true);
	hv.setUint32(12, height, true);
	hv.setUint32(16, res, true);
	hv.setInt32(20, -hx * res, true);
	hv.setInt32(24, -hy * res, true);
	hv.setUint32(28, Math.min(0xffffffff, Math.round(areaM2 * 10_000)), true);
	return header;
}

/** The map's bytes from the start, header then rows, each row drawn once when reached. */
function openSource(header: Uint8Array, width: number, length: number, row: (y: number, out: Uint8Array) => void): PlaintextSource {
	const line = new Uint8Array(width);
	let at = 0; // bytes given so far
	let y = -1; // the row in `line`
	return (max: number) => {
		if (at >= length) return undefined;
		if (!(max >= 1)) throw new RangeError('"max" expected >= 1, got ' + max);
		let chunk: Uint8Array;
		if (at < MAP_HEADER_BYTES) chunk = header.subarray(at, Math.min(MAP_HEADER_BYTES, at + max));
		else {
			const cell = at - MAP_HEADER_BYTES;
			const ry = Math.floor(cell / width);
			if (ry !== y) {
				row(ry, line);
				y = ry;
			}
			const x = cell - ry * width;
			chunk = line.subarray(x, Math.min(width, x + max));
		}
		at += chunk.length;
		return chunk;
	};
}

export function simulatedMap(options: SimulatedMapOptions): SimulatedMap {
	const width = dims('width', options.width ?? 1448);
	const height = dims('height', options.height ?? 1448);
	const homeAreaM2 = options.homeAreaM2 ?? 65;
	if (!(homeAreaM2 > 0 && homeAreaM2 <= 10_000)) throw new RangeError('"homeAreaM2" expected 0..10000, got ' + homeAreaM2);
	const areaM2 = options.areaM2;
	if (!(areaM2 >= 0 && areaM2 <= 10_000)) throw new RangeError('"areaM2" expected 0..10000, got ' + areaM2);
	if (!Number.isInteger(options.seed)) throw new RangeError('"seed" expected an integer, got ' + options.seed);
	const rnd = prng(options.seed);

	// the home's outline in mm, then the resolution that fits it into ~90% of the grid
	const aspect = 1 + rnd() * 0.6;
	const homeW = Math.sqrt(homeAreaM2 * aspect) * 1000;
	const homeH = (homeAreaM2 * 1e6) / homeW;
	const res = Math.max(1, Math.ceil(Math.max(homeW / (width * 0.9), homeH / (height * 0.9))));
	const hw = Math.min(width, Math.max(1, Math.round(homeW / res)));
	const hh = Math.min(height, Math.max(1, Math.round(homeH / res)));
	const hx = (width - hw) >> 1;
	const hy = (height - hh) >> 1;
	const wall = Math.max(1, Math.round(60 / res)); // half a 120 mm wall on each side of a split
	const cells = (mm: number) => Math.max(1, Math.round(mm / res));

	// the draws of the seeded generator come in this order: a map is the same for its seed
	const want = 3 + Math.floor(rnd() * 4) + Math.floor(homeAreaM2 / 60);
	const { rooms, splits } = splitRooms(rnd, { x0: hx, y0: hy, x1: hx + hw, y1: hy + hh }, want, cells(1800));
	const doors = placeDoors(rnd, rooms, splits, wall, cells(800));
	const furniture = placeFurniture(rnd, rooms, cells);
	const floorM2 = (r: Rect) => (Math.max(0, r.x1 - r.x0 - 2 * wall) * Math.max(0, r.y1 - r.y0 - 2 * wall) * res * res) / 1e6;
	const seen = seenRooms(rnd, rooms, doors, areaM2, floorM2);

	const row = rowOf({ width, wall, rooms, doors, furniture, seen });
	const header = mapHeader(width, height, res, hx, hy, areaM2);
	const length = mapLength(width, height);
	return Object.freeze({
		length,
		width,
		height,
		resolutionMm: res,
		rooms: rooms.length,
		roomsSeen: seen.length,
		row,
		open: () => openSource(header, width, length, row),
	});
}

/** The header of an RMAP map, or why the bytes are not one. */
export function parseMapHeader(b: Uint8Array): { width: number; height: number; resolutionMm: number; originXMm: number; originYMm: number; areaM2: number; headerBytes: number } | string {
	if (b.length < MAP_HEADER_BYTES) return 'short: ' + b.length + ' bytes';
	if (String.fromCharCode(b[0]!, b[1]!, b[2]!, b[3]!) !== MAP_MAGIC) return 'magic';
	if (b[4] !== MAP_VERSION) return 'version ' + b[4];
	if (b[5] !== 0) return 'cell format ' + b[5];
	const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
	const headerBytes = v.getUint16(6, true);
	if (headerBytes < MAP_HEADER_BYTES) return 'header bytes ' + headerBytes;
	return {
		width: v.getUint32(8, true),
		height: v.getUint32(12, true),
		resolutionMm: v.getUint32(16, true),
		originXMm: v.getInt32(20, true),
		originYMm: v.getInt32(24, true),
		areaM2: v.getUint32(28, true) / 10_000,
		headerBytes,
	};
}
