/*
 * One CryptoPort whose implementation the caller swaps between runs: a map uploader holds one
 * subscription to its slot topic for its life, so the map-upload test and the maps bench keep
 * one uploader and measure node:crypto and the portable port behind the same one.
 */
import type { CryptoPort } from '../../firmware/ports';

export interface SwitchableCrypto {
	/** Hand this to the uploader: every call goes to the implementation chosen last. */
	readonly port: CryptoPort;
	use(impl: CryptoPort): void;
}

export function switchableCrypto(initial: CryptoPort): SwitchableCrypto {
	let impl = initial;
	return {
		port: {
			aes256gcm: (k) => impl.aes256gcm(k),
			sha256: (d) => impl.sha256(d),
			sha512: (d) => impl.sha512(d),
			hmacSha512: (k, d) => impl.hmacSha512(k, d),
			random: (n) => impl.random(n),
		},
		use(next) {
			impl = next;
		},
	};
}
