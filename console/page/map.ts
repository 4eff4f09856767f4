/*
 * An RMAP occupancy grid (firmware/sim/map.ts documents the format) as RGBA pixels, one per
 * cell, row 0 at the top: free 0 white, occupied 100 black, 1..99 the grey of that
 * occupancy, unknown 255 and the reserved values mid-grey. Pure: the page puts the pixels
 * on a canvas, a test can check them on Node.
 */
import { parseMapHeader } from '../../firmware/sim/map';

export interface MapImage {
	readonly width: number;
	readonly height: number;
	readonly resolutionMm: number;
	readonly areaM2: number;
	/** width * height * 4 bytes, row-major. */
	readonly rgba: Uint8ClampedArray<ArrayBuffer>;
}

/** Largest grid drawn (cells): a 16 MB map, the cloud's limit, is 4096 x 4096. */
export const MAX_CELLS = 4096 * 4096;
const UNKNOWN_GREY = 160;

/** The image of `bytes`, or why they are not a map this draws. */
export function mapImage(bytes: Uint8Array): MapImage | string {
	const h = parseMapHeader(bytes);
	if (typeof h === 'string') return 'not an RMAP map: ' + h;
	const cells = h.width * h.height;
	if (h.width === 0 || h.height === 0 || cells > MAX_CELLS) return 'not a drawable size: ' + h.width + ' x ' + h.height;
	if (bytes.length !== h.headerBytes + cells) return 'length ' + bytes.length + ', the header says ' + (h.headerBytes + cells);
	const rgba = new Uint8ClampedArray(cells * 4);
	const grey = new Uint8Array(256).fill(UNKNOWN_GREY);
	for (let v = 0; v <= 100; v++) grey[v] = Math.round(255 - v * 2.55);
	for (let i = 0, at = h.headerBytes; i < cells; i++, at++) {
		const g = grey[bytes[at]!]!;
		const o = i * 4;
		rgba[o] = g;
		rgba[o + 1] = g;
		rgba[o + 2] = g;
		rgba[o + 3] = 255;
	}
	return { width: h.width, height: h.height, resolutionMm: h.resolutionMm, areaM2: h.areaM2, rgba };
}
