/* UTF-8 for test payloads, through the core's own helpers (XS has no TextEncoder by default). */
import { utf8Decode, utf8Encode } from '../../../firmware/core/util/utf8';

export const text = (s: string): Uint8Array => utf8Encode(s);
export const str = (b: Uint8Array): string => utf8Decode(b, 0, b.length) ?? '';
