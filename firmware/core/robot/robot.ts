/*
 * The robot's connectivity, assembled once for every platform: the link, the
 * `schedule` shadow kept in sync offline-first, the runner that says when a
 * mission is due, and the missions with their durable reports. The device (firmware/main.ts) and the simulator
 * (tools/start.ts, hil-tests) differ only in the ports they pass.
 */
import type { SocketOptions } from '../../ports';
import { Link, type LinkOptions, type LinkPorts } from '../link/link';
import { ShadowClient } from '../shadow/client';
import { ShadowSync } from '../shadow/sync';
import { EMPTY_SCHEDULE, SCHEDULE_SHADOW, scheduleCodec } from '../schedule/codec';
import type { Schedule } from '../schedule/model';
import { ScheduleRunner, type Due } from '../schedule/runner';
import { Missions, type MissionOptions, type MissionPorts } from '../mission/missions';

export interface RobotConfig {
	/** AWS IoT thing name = certificate CN = MQTT client id. */
	readonly thing: string;
	readonly endpoint: SocketOptions;
	readonly link?: Partial<Omit<LinkOptions, 'endpoint' | 'clientId'>>;
	readonly shadowTimeoutMs?: number;
	readonly missions?: MissionOptions;
}

export interface Robot {
	readonly thing: string;
	readonly link: Link;
	readonly schedule: ShadowSync<Schedule>;
	readonly runner: ScheduleRunner;
	readonly missions: Missions;
	/** Called when the schedule says a mission is due. */
	onDue(handler: (d: Due) => void): void;
	start(): void;
	stop(): void;
}

/** `missionPorts` lets a simulator run missions on a faster clock than the link's. */
export function createRobot(ports: LinkPorts, config: RobotConfig, missionPorts: MissionPorts = ports): Robot {
	const link = new Link(ports, { ...config.link, endpoint: config.endpoint, clientId: config.thing });
	const missions = new Missions(config.thing, link, missionPorts, config.missions);
	const due: ((d: Due) => void)[] = [];
	const runner = new ScheduleRunner(ports, (d) => {
		if (due.length === 0) ports.log.log('warn', 'mission.due_unhandled', { entry: d.entryId });
		for (const h of due) h(d);
	});
	const shadow = new ShadowClient(link, ports, { thing: config.thing, name: SCHEDULE_SHADOW, ...(config.shadowTimeoutMs ? { timeoutMs: config.shadowTimeoutMs } : {}) });
	const schedule = new ShadowSync(link, shadow, ports, {
		codec: scheduleCodec,
		storageKey: 'sched',
		initial: EMPTY_SCHEDULE,
		onApply: (s) => {
			ports.log.log('info', 'schedule.applied', { entries: s.entries.length, tz: s.tz });
			runner.set(s);
		},
	});
	return {
		thing: config.thing,
		link,
		schedule,
		runner,
		missions,
		onDue: (h) => void due.push(h),
		start: () => link.start(),
		stop() {
			runner.stop();
			link.stop();
		},
	};
}
