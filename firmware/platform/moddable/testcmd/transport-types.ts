/*
 * What the test-control transports share: the manifest maps the module name to transport.ts
 * (lin, TCP) or transport-esp32.ts (esp32, console UART), and both export these types.
 * Types only: nothing of this module is left at run time.
 */
import type { TestSession } from '../../../core/testcmd/channel';

export interface TransportOptions {
	/** TCP port (lin); 0 or absent: any free port, traced by the caller from `where`. */
	readonly port?: number;
	/** UART number (esp32; default 0, the console) and baud rate (default 115200). */
	readonly uart?: number;
	readonly baud?: number;
}

export interface TestTransport {
	/** lin: the TCP port listened on; esp32: "uart0@115200". */
	readonly where: string | number;
	close(): void;
}

export interface SessionHooks {
	/** A rig connected (TCP) or the port opened (serial). */
	open(): TestSession;
	/** The rig went away (TCP only). */
	closed?(): void;
}
