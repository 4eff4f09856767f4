/*
 * Typings for the SDK's TLS modules the socket adapter uses that $(MODDABLE)/typings leaves
 * out, as the SDK's sources define them, pulled in with a triple-slash reference (as
 * moddable-crypto.d.ts; a file of its own: that one needs the SDK's "crypt" typing, which
 * mcconfig's per-file build of socket.ts does not load). Only what is called.
 */
declare module 'ssl/cache' {
	/**
	 * modules/crypt/ssl/ssl_cache.js: the TLS client's one cached session (server name, session
	 * id, master secret), read by the next handshake to the same server name to resume it.
	 * deleteSessionID forgets the entry whatever id it is given.
	 */
	const cache: {
		getByHost(host: string): { id: ArrayBuffer; secret: ArrayBuffer } | undefined;
		saveSession(host: string, id: ArrayBuffer, secret: ArrayBuffer): void;
		deleteSessionID(id?: ArrayBuffer): void;
	};
	export default cache;
}
