/*
 * Fake of the SDK's `ssl/cache` (modules/crypt/ssl/ssl_cache.js): one entry (server name,
 * session id, secret); getByHost answers it for the same name; deleteSessionID forgets it
 * whatever id it is given, as the SDK's does. `deletes` counts the forgets for the tests.
 */
const cache = {
	host: undefined as string | undefined,
	id: undefined as ArrayBuffer | undefined,
	secret: undefined as ArrayBuffer | undefined,
	deletes: 0,
	getByHost(host: string): { id: ArrayBuffer; secret: ArrayBuffer } | undefined {
		return this.host === host && this.id && this.secret ? { id: this.id, secret: this.secret } : undefined;
	},
	saveSession(host: string, id: ArrayBuffer, secret: ArrayBuffer): void {
		this.host = host;
		this.id = id;
		this.secret = secret;
	},
	deleteSessionID(): void {
		this.host = undefined;
		this.id = undefined;
		this.secret = undefined;
		this.deletes++;
	},
	reset(): void {
		this.deleteSessionID();
		this.deletes = 0;
	},
};
export default cache;
