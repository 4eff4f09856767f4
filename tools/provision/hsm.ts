// The company CA's key in a PKCS#11 token (an HSM in the factory, SoftHSM2 in tests), through
// node-webcrypto-p11 (WebCrypto over PKCS#11).
//
// The CA key is generated inside the token as a token object, CKA_SENSITIVE and not
// CKA_EXTRACTABLE. This module never calls exportKey on a private key, nor wraps one: the only
// things read from the token are the public key and signatures.
import 'reflect-metadata';
import { Crypto } from 'node-webcrypto-p11';
import { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;

export interface HsmOptions {
	/** Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so). */
	readonly module: string;
	/** Index into the module's slot list (node-webcrypto-p11's `slot`), or ... */
	readonly slot?: number;
	/** ... the label of the token to use (the first slot holding it). */
	readonly tokenLabel?: string;
	/** The user PIN; by default from the environment variable `pinEnv` (default PKCS11_PIN). */
	readonly pin?: string;
	readonly pinEnv?: string;
}

export interface Hsm {
	readonly crypto: Crypto;
	readonly tokenLabel: string;
	close(): void;
}

export interface CaKeys {
	readonly privateKey: CryptoKey;
	readonly publicKey: CryptoKey;
	/** True when this call generated the pair. */
	readonly created: boolean;
}

export const CA_KEY_ALG = Object.freeze({
	name: 'RSASSA-PKCS1-v1_5',
	hash: 'SHA-256',
	modulusLength: 2048,
	publicExponent: new Uint8Array([1, 0, 1]),
});

const MAX_SLOTS = 64;

export function openHsm(options: HsmOptions): Hsm {
	if (typeof options.module !== 'string' || options.module.length === 0) {
		throw new TypeError('"module" expected the path of a PKCS#11 module, got ' + JSON.stringify(options.module));
	}
	const pinEnv = options.pinEnv ?? 'PKCS11_PIN';
	const pin = options.pin ?? process.env[pinEnv];
	if (!pin) throw new Error('no PIN: set ' + pinEnv + ' in the environment');
	const open = (slot: number) => new Crypto({ library: options.module, slot, pin, readWrite: true, name: 'provision' } as ConstructorParameters<typeof Crypto>[0]);

	if (options.slot !== undefined) {
		const crypto = open(options.slot);
		return { crypto, tokenLabel: crypto.token.label.trim(), close: () => crypto.close() };
	}
	if (options.tokenLabel === undefined) throw new TypeError('expected "slot" or "tokenLabel"');
	const seen: string[] = [];
	for (let slot = 0; slot < MAX_SLOTS; slot++) {
		let crypto: Crypto;
		try {
			crypto = open(slot);
		} catch (e) {
			const why = String(e);
			if (/not found|CKR_SLOT_ID_INVALID/i.test(why)) break; // past the end of the slot list
			if (/CKR_TOKEN_NOT_(RECOGNIZED|PRESENT)/.test(why)) continue; // an empty slot
			throw new Error('slot ' + slot + ': ' + why); // a wrong PIN, a locked token: say so, do not skip it
		}
		const label = crypto.token.label.trim();
		if (label === options.tokenLabel) return { crypto, tokenLabel: label, close: () => crypto.close() };
		seen.push(label);
		crypto.close();
	}
	throw new Error('no token labelled ' + JSON.stringify(options.tokenLabel) + ' (found ' + JSON.stringify(seen) + ')');
}

/** The code-signing key of firmware images (tools/ota): ECDSA P-256, as the robots verify. */
export const CODE_SIGNING_KEY_ALG = Object.freeze({ name: 'ECDSA', namedCurve: 'P-256' });

/**
 * Finds the key pair labelled `label` in the token, or generates it there (non-extractable):
 * the CA's (RSA, the default) or with `alg` another kind (the firmware code-signing key).
 */
export async function ensureCaKeys(hsm: Hsm, label: string, create = true, alg: object = CA_KEY_ALG): Promise<CaKeys> {
	const found = await findKeys(hsm, label);
	if (found) return { ...found, created: false };
	if (!create) throw new Error('the token has no key pair labelled ' + JSON.stringify(label));
	const keys = (await hsm.crypto.subtle.generateKey({ ...alg, token: true, sensitive: true, label } as unknown as RsaHashedKeyGenParams, false, ['sign', 'verify'])) as unknown as webcrypto.CryptoKeyPair;
	return { privateKey: keys.privateKey, publicKey: keys.publicKey, created: true };
}

type RsaHashedKeyGenParams = Parameters<Crypto['subtle']['generateKey']>[0] & object;

async function findKeys(hsm: Hsm, label: string): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey } | undefined> {
	let privateKey: CryptoKey | undefined;
	let publicKey: CryptoKey | undefined;
	for (const index of await hsm.crypto.keyStorage.keys()) {
		const key = (await hsm.crypto.keyStorage.getItem(index)) as unknown as CryptoKey & { algorithm: { label?: string } };
		if (key.algorithm.label !== label) continue;
		if (key.type === 'private') privateKey = key;
		else if (key.type === 'public') publicKey = key;
	}
	if (privateKey && publicKey) return { privateKey, publicKey };
	if (privateKey || publicKey) throw new Error('token holds only half of the key pair ' + JSON.stringify(label));
	return undefined;
}

/** The PKCS#11 attributes that keep a key in the token: what the tests (and an auditor) check. */
export function keyAttributes(key: CryptoKey): { extractable: boolean; sensitive: boolean; token: boolean } {
	const p11 = (key as unknown as { key: { get(name: string): unknown } }).key;
	return {
		extractable: p11.get('extractable') === true,
		sensitive: p11.get('sensitive') === true,
		token: p11.get('token') === true,
	};
}

/** The command-line options that name a token and a CA key, shared by provision and register-ca. */
export const HSM_OPTIONS = Object.freeze({
	module: { type: 'string' },
	slot: { type: 'string' },
	token: { type: 'string' },
	'pin-env': { type: 'string', default: 'PKCS11_PIN' },
	dir: { type: 'string' },
	'key-label': { type: 'string', default: 'robot-ca' },
} as const);

export interface HsmArgs {
	module?: string | undefined;
	slot?: string | undefined;
	token?: string | undefined;
	'pin-env'?: string | undefined;
}

/** Opens the token the options name, or says what is missing or wrong. */
export function openHsmFromArgs(values: HsmArgs): ReturnType<typeof openHsm> | string {
	if (!values.module) return '--module is required';
	if (values.slot === undefined && !values.token) return '--slot N or --token LABEL is required';
	const slot = Number(values.slot);
	if (values.slot !== undefined && (!Number.isInteger(slot) || slot < 0)) return '--slot expected an index into the slot list, got ' + values.slot;
	return openHsm({ module: values.module, ...(values.slot !== undefined ? { slot } : { tokenLabel: values.token! }), pinEnv: values['pin-env'] ?? 'PKCS11_PIN' });
}
