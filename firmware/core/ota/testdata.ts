/* Fixed test material (made once with node:crypto): a 10000-byte image signed with a P-256 key. */
function hex(s: string): Uint8Array {
	const out = new Uint8Array(s.length / 2);
	for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
	return out;
}

export function testImage(): Uint8Array {
	const img = new Uint8Array(10000);
	for (let i = 0; i < img.length; i++) img[i] = (i * 7 + (i >> 8)) & 255;
	return img;
}

/** SubjectPublicKeyInfo of the signing key: stands in for the certificate (the key is found the same way). */
export const SIGNER_SPKI = hex('3059301306072a8648ce3d020106082a8648ce3d0301070342000443864b368077536f1d1a190ab7cf3cdfd1db0d597d73498da66b60a7d7b25c64bcb85fede9ea01116345da8cef4d0d00d1ced63daed1ff2c6c4a01c920317f4d');
export const SIGNER_POINT = SIGNER_SPKI.subarray(SIGNER_SPKI.length - 65);
export const IMAGE_SHA256 = 'c6bec1a98cf1c8f350c1ca9cd7ed598ae4e74e32ef95e8396cfd64129c34dc24';
/** DER signature of testImage(). */
export const IMAGE_SIGNATURE = 'MEUCIQDTxH5J/OBFYL4sqOLwHYAZ+AS1PEhlG8l1YWMeiflxmgIgGT7BEaSeb3QWHmaAn5Q8nZByfc82cmFHSFaZecd5I+k=';
/** A valid signature by the same key over another image (byte 5000 flipped). */
export const OTHER_SIGNATURE = 'MEUCIQD2I2t9GCxuIOOoZJ/a0HhYNWW/jQB2NqD6QPGY89iIGwIgO5E5rMP8lcp0VC1h+ZfQ8K85Ul4Hakt/zi8pZDqW8yo=';
export { hex };

/*
 * Signed manifests (document.ts) of testImage(), by another P-256 key (MANIFEST_SIGNER_SPKI):
 * 1.1.0 and 0.9.0 of product robot-cleaner, and 1.1.0 of another product, all counter 1.
 */
export const MANIFEST_SIGNER_SPKI = hex('3059301306072a8648ce3d020106082a8648ce3d03010703420004fea40f4e54515975ce2d9d3439fe5a8ca3219162ebbf0e4432f6961929d45c5dbcde819cfde793914dcb1b9e98debb85508aa701ff5e171751d9722e22dbeae9');
const manifest = (product: string, version: string) => '{"product":"' + product + '","version":"' + version + '","size":10000,"sha256":"' + IMAGE_SHA256 + '","counter":1}';
export const MANIFEST_1_1_0 = manifest('robot-cleaner', '1.1.0');
export const SIGNATURE_1_1_0 = 'MEQCIFHfP6sgiuy+08vR7egzDEtDht2pK8DBeWxo7q+/lDvUAiBOC2XYJsesUczWfbXQUsvpptp6bBf8n7NfZTm/Ledrhw==';
export const MANIFEST_0_9_0 = manifest('robot-cleaner', '0.9.0');
export const SIGNATURE_0_9_0 = 'MEUCIDdgk5gRuo0Szrz3KJAR2U0SjgGVE3tdoSfko1nZevUuAiEAqz6HDI2aibi8uCLCxhDabsBg7hlHu1Waa7J+9LSsSJg=';
export const MANIFEST_OTHER_PRODUCT = manifest('other-robot', '1.1.0');
export const SIGNATURE_OTHER_PRODUCT = 'MEUCIQDVnSX+BbOCzpVZjKrdP2X4YbbFioAtQqQr3mi7ynLeMgIgPx3L39Qw73Gm9HF1bdH8JsI21wUax7BAILt8pTofw/g=';

/** Where the test documents' images are; the sources a test robot is configured with. */
export const TEST_SOURCES = Object.freeze(['http://127.0.0.1/firmware/']);

/** A good job document for testImage() as 1.1.0. */
export const GOOD_DOC = {
	operation: 'firmware-update',
	manifest: MANIFEST_1_1_0,
	signature: SIGNATURE_1_1_0,
	url: 'http://127.0.0.1:4569/firmware/robot-1.1.0.bin?X-Amz-Signature=ab',
};
