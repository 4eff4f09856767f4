/*
 * The crypto ports on Node: primitives from node:crypto (OpenSSL) and the device key
 * as a KeyObject. Thin by rule: the formats (OAEP, HKDF, the Encryption SDK message)
 * live in the core. Results are plain Uint8Array views, never Buffer, whose `slice`
 * shares memory where the core expects a copy.
 */
import crypto from 'node:crypto';
import type { AeadKey, CryptoPort, DeviceKeyPort } from '../../ports';

const view = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

function aeadKey(key: Uint8Array): AeadKey {
	if (!(key instanceof Uint8Array) || key.length !== 32) throw new RangeError('"key" expected 32 bytes, got ' + (key instanceof Uint8Array ? key.length : typeof key));
	const k = key.slice(); // ours to wipe; a KeyObject could not be wiped
	let disposed = false;
	return {
		seal(iv, aad, data, out) {
			if (disposed) throw new TypeError('AeadKey used after dispose()');
			if (iv.length !== 12) throw new RangeError('"iv" expected 12 bytes, got ' + iv.length);
			if (out.length !== data.length) throw new RangeError('"out" expected ' + data.length + ' bytes, got ' + out.length);
			const cipher = crypto.createCipheriv('aes-256-gcm', k, iv);
			cipher.setAAD(aad);
			const body = cipher.update(data); // a copy, so `out` may be `data`
			const last = cipher.final();
			out.set(body, 0);
			out.set(last, body.length);
			return view(cipher.getAuthTag());
		},
		dispose() {
			k.fill(0);
			disposed = true;
		},
	};
}

export const hostCrypto: CryptoPort = Object.freeze({
	aes256gcm: aeadKey,
	sha256: (data: Uint8Array) => view(crypto.createHash('sha256').update(data).digest()),
	sha512: (data: Uint8Array) => view(crypto.createHash('sha512').update(data).digest()),
	hmacSha512: (key: Uint8Array, data: Uint8Array) => view(crypto.createHmac('sha512', key).update(data).digest()),
	random: (n: number) => view(crypto.randomBytes(n)),
});

/** The device key from its unencrypted PKCS#8 DER (as provisioning writes key.der). */
export function createHostDeviceKey(pkcs8: Uint8Array): DeviceKeyPort {
	const key = crypto.createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
	if (key.asymmetricKeyType !== 'rsa') throw new TypeError('"pkcs8" expected an RSA key, got ' + key.asymmetricKeyType);
	const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
	const size = (bits + 7) >> 3;
	return Object.freeze({
		modulusBytes: size,
		rsaPrivateRaw(block: Uint8Array): Uint8Array {
			if (block.length !== size) throw new RangeError('"block" expected ' + size + ' bytes, got ' + block.length);
			// OpenSSL refuses a block >= n; the core turns that into its decryption error
			return view(crypto.privateDecrypt({ key, padding: crypto.constants.RSA_NO_PADDING }, block));
		},
		signSha256: (data: Uint8Array) => view(crypto.sign('sha256', data, key)),
	});
}
