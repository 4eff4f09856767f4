/*
 * Test-control commands on the Moddable runtime (a test build only: firmware/main.ts
 * starts this when config.testcmd is set). The same interpreter as the simulator
 * (firmware/core/testcmd) over the platform's transport: the console UART on esp32,
 * a TCP listener on lin (transport.ts / transport-esp32.ts, chosen by the manifest).
 */
import type { LogPort } from '../../../ports';
import { createTestSession } from '../../../core/testcmd/channel';
import { createTestControl, type TestTarget } from '../../../core/testcmd/control';
import { openTestTransport, type TestTransport, type TransportOptions } from './transport';

export type { TestTransport, TransportOptions } from './transport';

export interface TestCommandOptions {
	/** Asked on every request: undefined before the robot exists (the reply says not-ready). */
	readonly target: () => TestTarget | undefined;
	readonly log: LogPort;
	readonly transport?: TransportOptions;
	/** The rig went away (TCP). */
	readonly closed?: () => void;
}

export function startTestCommands(o: TestCommandOptions): TestTransport {
	const control = createTestControl(o.target, o.log);
	const t = openTestTransport(o.transport ?? {}, { open: () => createTestSession(control), ...(o.closed ? { closed: o.closed } : {}) }, o.log);
	o.log.log('info', 'testcmd.listening', { where: t.where });
	return t;
}
