/*
 * The local AWS IoT Device Management commands service: the control-plane operations (served on
 * the jobs control plane's endpoint, `iot`), StartCommandExecution on its own jobs data plane
 * endpoint (`iot-jobs-data`), the device topics over the in-process bus, execution timers scaled
 * by `secondMs`, and the state in <dataDir>/commands.json.
 */
import type { Bus } from '../bus';
import type { LogFn } from '../log';
import { closeOnce } from '../close-once';
import { CommandsRunner } from './runner';
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
	readonly runner: CommandsRunner;
	close(): Promise<void>;
}

export async function startCommandsService(o: CommandsServiceOptions): Promise<CommandsService> {
	const secondMs = o.secondMs ?? 1000;
	if (!(secondMs > 0) || !Number.isFinite(secondMs)) throw new RangeError('"secondMs" expected a positive number, got ' + String(secondMs));
	const runner = new CommandsRunner({ publish: (topic, payload) => o.bus.publish(topic, payload, 1), log: o.log, secondMs, ...(o.dataDir ? { dataDir: o.dataDir } : {}) });
	await runner.load();
	const data = await startDataPlane(runner, {
		log: o.log,
		...(o.host !== undefined ? { host: o.host } : {}),
		...(o.verifySignatures !== undefined ? { verifySignatures: o.verifySignatures } : {}),
	});
	const off = serveDeviceApi(runner, o.bus, o.log);
	o.log({ level: 'info', event: 'commands.started', dataEndpoint: data.url, secondMs });
	return {
		dataEndpoint: data.url,
		routes: controlPlaneRoutes(runner),
		runner,
		close: closeOnce(
			off,
			() => data.close(),
			() => runner.close(),
		),
	};
}

export { CommandsRunner, commandArn, requestTopic } from './runner';
export type { Execution, ExecutionStatus } from './execution';
