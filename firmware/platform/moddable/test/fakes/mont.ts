/*
 * Fake of the SDK's `mont` (modules/crypt/arith/mont.js over mont.c): Modular whose `exp`
 * is Montgomery exponentiation, left-to-right unless `method` is the prototype's SW. The
 * constants LR (0) and SW (1) are on the prototype only, not on the class (mont.js), which
 * is why the SDK's own `rsa` asking for `Mont.SW` gets LR. Montgomery needs an odd modulus:
 * mont.c answers garbage for an even one; this fake throws, so a test sees it.
 */
import Modular, { big, modExp } from './modular';

export default class Mont extends Modular {
	declare readonly LR: 0;
	declare readonly SW: 1;
	readonly method: number;
	constructor(dict: { m: bigint; method?: number; sw_param?: number }) {
		super(big(dict.m, 'Mont m'));
		if ((dict.m & 1n) === 0n) throw new RangeError('fake mont: Montgomery needs an odd modulus (mont.c would answer a wrong result)');
		this.method = dict.method ?? 0;
	}
	override exp(a: bigint, e: bigint): bigint {
		return modExp(big(a, 'exp a'), big(e, 'exp e'), this.m);
	}
}
Object.defineProperty(Mont.prototype, 'LR', { value: 0 });
Object.defineProperty(Mont.prototype, 'SW', { value: 1 });
