/*
 * The OTA feature wired to a link, for the composition (robot.ts) to call: the Jobs
 * client, the agent, and a status shadow that reports the running firmware on every
 * connection. The self-test check is the composition's ("link up and shadow synced").
 */
import type { CodeSigningPort, FirmwareSlotPort, HttpPort } from '../../ports';
import type { Link, LinkPorts } from '../link/link';
import { ShadowClient } from '../shadow/client';
import { OtaAgent, type OtaOptions } from './agent';
import { JobsClient } from './jobs';

export interface OtaPortsExtra {
	readonly slot: FirmwareSlotPort;
	readonly signing: CodeSigningPort;
	readonly http: HttpPort;
}

export interface Ota {
	readonly agent: OtaAgent;
	readonly jobs: JobsClient;
	readonly status: ShadowClient;
}

export const STATUS_SHADOW = 'status';

/** Call before `link.start()`; boots the agent at once (resuming what the last life left). */
export function createOta(link: Link, ports: LinkPorts & OtaPortsExtra, options: OtaOptions & { readonly thing: string; readonly timeoutMs?: number }): Ota {
	const t = options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {};
	const jobs = new JobsClient(link, ports, { thing: options.thing, ...t });
	const status = new ShadowClient(link, ports, { thing: options.thing, name: STATUS_SHADOW, ...t });
	const agent = new OtaAgent(jobs, ports, options);
	const report = () => {
		const previous = ports.slot.previous();
		void status.update({ reported: { firmware: { version: agent.version, valid: ports.slot.running().valid, previous: previous?.version ?? null } } });
	};
	// again when a job ends: after a self-test the image is valid now
	agent.onState((s) => s.value === 'reporting' && report());
	link.listen({
		state: (s) => {
			if (s.value === 'connecting') {
				report();
				agent.online();
			}
			// requests in flight are abandoned by the clients themselves (link/requests.ts)
		},
	});
	agent.boot();
	return { agent, jobs, status };
}
