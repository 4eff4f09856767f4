/*
 * The local AWS IoT Device Management commands service: the control-plane operations (served on
 * the jobs control plane's endpoint, `iot`), StartCommandExecution on its own jobs data plane
 * endpoint (`iot-jobs-data`), the device topics over the in-process bus, execution timers scaled
 * by `secondMs`, and the state in <dataDir>/commands.json.
 */
import type { Bus } from '../bus';
import type { LogFn } from '../log';
import { CommandsCore } from './core';
import { serveDeviceApi } from './device-api';
import { controlPlaneRoutes, startDataPlane } from './http';

export interface CommandsServiceOptions {
	readonly bus: Bus;
	readonly log: LogFn;
	readonly host?: string;
	readonly dataDir?: string;
	/** Milliseconds per second of executionTimeoutSeconds (default 1000); tests pass less. */
	readonly secondMs?: number;
	readonly verifySignatures?: boolean;
}

export interface CommandsService {
	/** The jobs data plane endpoint for `new IoTJobsDataPlaneClient({ endpoint })` (StartCommandExecution). */
	readonly dataEndpoint: string;
	/** The control-plane routes the jobs control plane hands over (CreateCommand, GetCommandExecution, ...). */
	readonly routes: ReturnType<typeof controlPlaneRoutes>;
	readonly core: CommandsCore;
	close(): Promise<void>;
}

export async function startCommandsService(o: CommandsServiceOptions): Promise<CommandsService> {
	const secondMs = o.secondMs ?? 1000;
	if (!(secondMs > 0) || !Number.isFinite(secondMs)) throw new RangeError('"secondMs" expected a positive number, got ' + String(secondMs));
	const core = new CommandsCore({ publish: (topic, payload) => o.bus.publish(topic, payload, 1), log: o.log, secondMs, ...(o.dataDir ? { dataDir: o.dataDir } : {}) });
	await core.load();
	const data = await startDataPlane(core, { log: o.log, ...(o.host !== undefined ? { host: o.host } : {}), ...(o.verifySignatures !== undefined ? { verifySignatures: o.verifySignatures } : {}) });
	const off = serveDeviceApi(core, o.bus, o.log);
	o.log({ level: 'info', event: 'commands.started', dataEndpoint: data.url, secondMs });
	let closing: Promise<void> | undefined;
	return {
		dataEndpoint: data.url,
		routes: controlPlaneRoutes(core),
		core,
		close() {
			closing ??= (async () => {
				off();
				await data.close();
				await core.close();
			})();
			return closing;
		},
	};
}

export { CommandsCore, commandArn, requestTopic } from './core';
export type { Execution, ExecutionStatus } from './execution';
