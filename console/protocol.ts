/*
 * What the console's server tells its page: the JSON of the API's answers and of the
 * server-sent events. Types only, shared by console/server.ts (Node) and console/page
 * (the browser), so neither side can drift from the other. Nothing here carries a
 * credential: the page sees views of documents, never a signed request or a key.
 */

/** A shadow as GetThingShadow returns it, reduced to what a person reads. */
export interface ShadowView {
	readonly version: number;
	readonly desired: Readonly<Record<string, unknown>> | null;
	readonly reported: Readonly<Record<string, unknown>> | null;
	readonly delta: Readonly<Record<string, unknown>> | null;
	/** Epoch seconds of the document (AWS `timestamp`). */
	readonly timestamp: number | null;
}

export interface RobotView {
	readonly thing: string;
	/** A live MQTT session on the broker. */
	readonly connected: boolean;
	/** Epoch ms of the robot's last PUBLISH the broker accepted, or of its connection. */
	readonly lastSeen: number | null;
	/** `reported.firmware.version` of the `status` shadow (the OTA agent reports it on every connection). */
	readonly firmware: string | null;
	/** The classic shadow, the named `schedule` one and the named `status` one (firmware); null before the robot made them. */
	readonly classic: ShadowView | null;
	readonly schedule: ShadowView | null;
	readonly status: ShadowView | null;
	/** Whether the console can cut this robot's link and start its missions (a simulated robot). */
	readonly controls: boolean;
}

/** One event of a mission's batched telemetry (firmware/core/mission/missions.ts): `e` the name, `t` seconds in. */
export interface MissionEvent {
	readonly e: string;
	readonly t?: number;
	readonly [field: string]: unknown;
}

/** One batch as the robot published it on `robots/{thing}/missions/{id}/events`, stamped on arrival. */
export interface EventBatch {
	readonly thing: string;
	readonly mission: string;
	readonly at: number;
	readonly dropped: number;
	readonly events: readonly MissionEvent[];
}

/** A `missions` table item: the stored report (firmware/core/mission/report.ts) and the map's fields. */
export type MissionRow = Readonly<Record<string, unknown>> & { readonly thing: string; readonly missionId: string };

export interface ExecutionView {
	readonly thing: string;
	readonly status: string;
	readonly versionNumber: number | null;
	/** What the robot's agent last said (progress, reason): `statusDetails.detailsMap`. */
	readonly details: Readonly<Record<string, string>>;
	readonly updatedAt: number | null;
}

export interface JobView {
	readonly jobId: string;
	readonly status: string;
	/** A staged rollout's rate (`jobExecutionsRolloutConfig`), as a person reads it; null without one. */
	readonly rollout: string | null;
	/** Why the job ended as it did: an abort's criterion, a cancel's comment. */
	readonly comment: string | null;
	readonly description: string | null;
	readonly createdAt: number | null;
	readonly executions: readonly ExecutionView[];
}

/** The answer to a schedule write: the version the write made, and the shadow read right after it. */
export interface ScheduleWritten {
	readonly writtenVersion: number;
	readonly shadow: ShadowView;
}

/** An error the page shows as it came: the cloud's own status, code and words. */
export interface ApiError {
	readonly status: number;
	readonly code: string;
	readonly message: string;
}

/** A server-sent event's `data` (the SSE `event` field is the `type`). */
export type LiveMessage =
	| { readonly type: 'robot'; readonly robot: RobotView }
	| { readonly type: 'events'; readonly batch: EventBatch }
	| { readonly type: 'missions'; readonly thing: string; readonly missions: readonly MissionRow[] }
	| { readonly type: 'jobs'; readonly jobs: readonly JobView[] }
	/** The handlers' EMF counters (cloud/local/metrics.ts): `ReportsStored{Service=mission-report}` -> n. */
	| { readonly type: 'metrics'; readonly counters: Readonly<Record<string, number>> }
	/** Something the server could not read from the cloud (it keeps trying); null once reads work again. */
	| { readonly type: 'problem'; readonly error: ApiError | null };

/** Job statuses after which nothing changes any more (AWS IoT `JobStatus`). */
export const DONE_JOBS: ReadonlySet<string> = new Set(['COMPLETED', 'CANCELED', 'DELETION_IN_PROGRESS']);
/** Event batches kept per robot, by the server for pages opened later and by a page. */
export const MAX_BATCHES = 40;

/** The console's robot controls: what a simulated robot of the rig can be told to do. */
export const CONTROLS = Object.freeze(['offline', 'online', 'mission'] as const);
export type Control = (typeof CONTROLS)[number];
