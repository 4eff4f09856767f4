/*
 * Fake of the SDK's `modular` (modules/crypt/arith/modular.js over modular.c): arithmetic mod
 * `m` on BigInts. The native parts take BigInts only: on 8.2.3 `exp(2, 3n)` (a Number) killed
 * mcsim outright, so the fake throws a TypeError there, the loudest thing a test can see;
 * mulinv (fxBigInt_mod_mulinv_general) answers the inverse in [1, m) when there is one, and
 * otherwise NOT an error but a number that is no inverse: seen on 8.2.3, 4 mod 10 answers 8,
 * the extended Euclid's coefficient taken without checking the gcd, which this fake answers
 * too. A caller must check a * inv = 1 (mod m) itself.
 */
export function big(v: unknown, what: string): bigint {
	if (typeof v !== 'bigint') throw new TypeError(what + ': a ' + typeof v + ' where the native code wants a BigInt (the SDK crashes the VM)');
	return v;
}

export function modExp(a: bigint, e: bigint, m: bigint): bigint {
	let r = 1n % m;
	let b = ((a % m) + m) % m;
	let x = e;
	while (x > 0n) {
		if (x & 1n) r = (r * b) % m;
		b = (b * b) % m;
		x >>= 1n;
	}
	return r;
}

export default class Modular {
	readonly m: bigint;
	constructor(m: bigint) {
		this.m = m;
	}
	exp(a: bigint, e: bigint): bigint {
		return modExp(big(a, 'exp a'), big(e, 'exp e'), big(this.m, 'exp m'));
	}
	mul(a: bigint, b: bigint): bigint {
		return (a * b) % this.m;
	}
	sub(a: bigint, b: bigint): bigint {
		const c = (a - b) % this.m;
		return c >= 0n ? c : c + this.m;
	}
	mod(a: bigint): bigint {
		return a % this.m;
	}
	mulinv(a: bigint): bigint {
		const m = big(this.m, 'mulinv m');
		let [r0, r1] = [m, ((big(a, 'mulinv a') % m) + m) % m];
		let [t0, t1] = [0n, 1n];
		while (r1 !== 0n) {
			const q = r0 / r1;
			[r0, r1] = [r1, r0 - q * r1];
			[t0, t1] = [t1, t0 - q * t1];
		}
		// no gcd check, as observed: a non-invertible `a` gets a coefficient that is not an inverse
		return ((t0 % m) + m) % m;
	}
}
