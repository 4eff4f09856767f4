/*
 * The device scenarios, by the name passed as `scenario=`: the link's, and one or more
 * for every capability the robot adds (issue #13).
 */
import type { Link } from '../../../firmware/core/link/link';
import type { MissionPorts } from '../../../firmware/core/mission/missions';
import type { Robot } from '../../../firmware/core/robot/robot';
import type { ClockPort, LogFields, LogPort } from '../../../firmware/ports';
import echo from './echo';
import outboxQueue from './outbox-queue';
import outboxDeliver from './outbox-deliver';
import brokerRestart from './broker-restart';
import foreignCa from './foreign-ca';
import malformedFrame from './malformed-frame';
import { scheduleApply, scheduleRefuse, scheduleReport } from './schedule';
import sntp from './sntp';
import { missionCut, missionRecover, missionReport } from './mission';
import cryptoKat from './crypto-kat';
import { mapUpload2m, mapUpload64k } from './map-upload';
import { ota, otaCut } from './ota';
import { robotDay } from './robot-day';
import testcmd from './testcmd';

export interface Context {
	readonly link: Link;
	/** The robot of firmware/main.ts, for a scenario with `robot: true` (then `link` is its link). */
	readonly robot: Robot | undefined;
	readonly ports: { readonly clock: ClockPort; readonly log: LogPort };
	/** The robot's mission ports: on a scaled clock when the scenario sets `missionMsPerMin`. */
	readonly missionPorts: MissionPorts;
	/** Sees every structured log event after it is traced. */
	onLog(listener: (event: string, fields?: LogFields) => void): void;
	readonly thing: string;
	/** Time.ticks when the app's main module started. */
	readonly startedAt: number;
	/** A line `step {"event":...}` the Node runner may act on (restart the broker...). */
	step(event: string, fields?: Record<string, string | number | boolean>): void;
	/** A line `device-metric {...}` for the benchmark. */
	metric(fields: Record<string, string | number | boolean>): void;
	pass(): void;
	fail(why: string): void;
}

export interface Scenario {
	readonly timeoutMs: number;
	/** Preference domain of the credentials to use (default "cred", the device's own). */
	readonly credentials?: string;
	/** Build the whole robot (createRobot) rather than a bare Link; the scenario starts it. */
	readonly robot?: boolean;
	/** Real ms per simulated mission minute (60000 = real time): the robot's missions run on a scaled clock. */
	readonly missionMsPerMin?: number;
	/** The robot runs its OTA agent (firmware/platform/moddable/firmware.ts); a reboot ends the run with `step reboot` and the runner starts the app again. */
	readonly ota?: boolean;
	/** The robot uploads a map of this many bytes after every report that promises one (createRobot's `upload`, native crypto). */
	readonly mapBytes?: number;
	run(c: Context): void;
}

export const SCENARIOS: Readonly<Record<string, Scenario>> = Object.freeze({
	echo,
	'outbox-queue': outboxQueue,
	'outbox-deliver': outboxDeliver,
	'broker-restart': brokerRestart,
	'foreign-ca': foreignCa,
	'malformed-frame': malformedFrame,
	'schedule-report': scheduleReport,
	'schedule-apply': scheduleApply,
	'schedule-refuse': scheduleRefuse,
	sntp,
	'mission-report': missionReport,
	'mission-cut': missionCut,
	'mission-recover': missionRecover,
	'crypto-kat': cryptoKat,
	'map-upload-64k': mapUpload64k,
	'map-upload-2m': mapUpload2m,
	ota,
	'ota-cut': otaCut,
	'robot-day': robotDay,
	testcmd,
});
