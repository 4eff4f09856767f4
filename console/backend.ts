/*
 * The console's app backend: what the owner's mobile app and the operator's tools ask the
 * cloud, through the same AWS APIs and SDK clients (endpoint overrides to cloud/local,
 * never an in-process shortcut):
 *   shadows       IoT data plane GetThingShadow / UpdateThingShadow (tools/schedule.ts's)
 *   missions      DynamoDB Query on the missions table (cloud/tables.ts)
 *   maps          S3 GetObject of the map map-ingest decrypted with the stock Encryption SDK
 *   firmware      IoT Jobs control plane: CreateJob (tools/ota's publishFirmware), ListJobs,
 *                 ListJobExecutionsForJob, DescribeJobExecution, CancelJob
 * Credentials stay here: answers are plain views (console/protocol.ts).
 *
 * Expected failures are values (`Result`), carrying the cloud's own status, exception name
 * and words, so the page can show them as the cloud said them; a bad argument from the page
 * is refused here before anything is sent.
 */
import crypto from 'node:crypto';
import { CancelJobCommand, DescribeJobCommand, DescribeJobExecutionCommand, IoTClient, ListJobExecutionsForJobCommand, ListJobsCommand } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { clientConfig, createDocumentClient, type AwsCredentials } from '../cloud/lib/aws';
import { TABLES } from '../cloud/tables';
import { MAPS_BUCKET, MAX_MAP_BYTES } from '../cloud/functions/upload-slot/contract';
import { validateSchedule } from '../firmware/core/schedule/model';
import { getShadow, setDesiredSchedule, type ShadowDoc } from './shadow';
import { devSigner, publishFirmware } from '../cloud/ota/publish';
import type { ApiError, ExecutionView, JobView, MissionRow, ScheduleWritten, ShadowView } from './protocol';

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiError };

export interface BackendEndpoints {
	readonly iotData: string;
	readonly iot: string;
	readonly s3: string;
	readonly dynamodb: string;
}

export interface FirmwareSource {
	/** The code-signing key (EC P-256 PEM) whose certificate the robots trust. */
	readonly signingKeyPem: string;
	/** The image of `version`. */
	image(version: string): Uint8Array;
	/** Thing name to ARN without DescribeThing (the local cloud has none: tools/ota's localThingArn). */
	readonly thingArn?: (thing: string) => string;
}

export interface BackendOptions {
	readonly endpoints: BackendEndpoints;
	readonly region: string;
	readonly credentials: AwsCredentials;
	/** The missions table's physical name (LocalCloud.tables.missions). */
	readonly missionsTable?: string;
	readonly mapsBucket?: string;
	/** Without it the console cannot create firmware jobs (it still lists and cancels them). */
	readonly firmware?: FirmwareSource;
}

/** Most missions listed per robot, newest first. */
export const MAX_MISSIONS = 20;
/** Jobs listed (the newest), and executions read per job. */
export const MAX_JOBS = 10;
export const MAX_EXECUTIONS = 50;
const VERSION = /^\d{1,6}\.\d{1,6}\.\d{1,6}$/;
const JOB_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const MISSION_ID = /^m-[0-9a-z]{1,12}$/;

export interface Backend {
	shadow(thing: string, name: string | null): Promise<Result<ShadowView | null>>;
	/** `text` as the person typed it: parsed, checked by the robot's own validator, then written to `desired`; answers the shadow after the write. */
	setSchedule(thing: string, text: string): Promise<Result<ScheduleWritten>>;
	missions(thing: string): Promise<Result<MissionRow[]>>;
	/** The decrypted RMAP bytes of a mission whose map is ready. */
	map(thing: string, missionId: string): Promise<Result<Uint8Array>>;
	jobs(): Promise<Result<JobView[]>>;
	createJob(version: string, things: readonly string[]): Promise<Result<{ jobId: string }>>;
	cancelJob(jobId: string): Promise<Result<void>>;
	destroy(): void;
}

const bad = (message: string, code = 'InvalidRequest'): { ok: false; error: ApiError } => ({ ok: false, error: { status: 400, code, message } });

/** An AWS SDK error as the page shows it: the service's status, exception name and message. */
export function cloudError(e: unknown): ApiError {
	const x = e as Error & { $metadata?: { httpStatusCode?: number } };
	if (!(x instanceof Error)) return { status: 502, code: 'Error', message: String(e) };
	return { status: x.$metadata?.httpStatusCode ?? 502, code: x.name || 'Error', message: x.message };
}

async function attempt<T>(f: () => Promise<T>): Promise<Result<T>> {
	try {
		return { ok: true, value: await f() };
	} catch (e) {
		return { ok: false, error: cloudError(e) };
	}
}

function view(doc: ShadowDoc): ShadowView {
	return {
		version: doc.version ?? 0,
		desired: doc.state?.desired ?? null,
		reported: doc.state?.reported ?? null,
		delta: doc.state?.delta ?? null,
		timestamp: doc.timestamp ?? null,
	};
}

const epochMs = (d: Date | undefined) => (d instanceof Date ? d.getTime() : null);

export function createBackend(o: BackendOptions): Backend {
	const config = (endpoint: string) => clientConfig({ region: o.region, endpoint, credentials: o.credentials });
	const data = new IoTDataPlaneClient(config(o.endpoints.iotData));
	const iot = new IoTClient(config(o.endpoints.iot));
	const s3 = new S3Client({ ...config(o.endpoints.s3), forcePathStyle: true });
	const ddb: DynamoDBDocumentClient = createDocumentClient({ region: o.region, endpoint: o.endpoints.dynamodb, credentials: o.credentials });
	const table = o.missionsTable ?? TABLES.missions.name;
	const bucket = o.mapsBucket ?? MAPS_BUCKET;

	async function shadow(thing: string, name: string | null): Promise<Result<ShadowView | null>> {
		return attempt(async () => {
			const doc = await getShadow(data, thing, name);
			return doc ? view(doc) : null;
		});
	}

	async function missions(thing: string): Promise<Result<MissionRow[]>> {
		return attempt(async () => {
			const r = await ddb.send(
				new QueryCommand({
					TableName: table,
					KeyConditionExpression: 'thing = :t',
					ExpressionAttributeValues: { ':t': thing },
					ConsistentRead: true,
				}),
			);
			const rows = (r.Items ?? []) as MissionRow[];
			// the sort key orders ids as strings (cloud/tables.ts); newest first is by start time
			const when = (m: MissionRow) => Number(m.startedAt ?? m.receivedAt ?? m.mapUploadedAt ?? 0);
			return rows.sort((a, b) => when(b) - when(a) || (a.missionId < b.missionId ? 1 : -1)).slice(0, MAX_MISSIONS);
		});
	}

	async function map(thing: string, missionId: string): Promise<Result<Uint8Array>> {
		if (!MISSION_ID.test(missionId)) return bad('"missionId" expected m-<base 36>, got ' + JSON.stringify(missionId));
		const rows = await missions(thing);
		if (!rows.ok) return rows;
		const row = rows.value.find((m) => m.missionId === missionId);
		if (!row) return { ok: false, error: { status: 404, code: 'NotFound', message: 'no mission ' + missionId + ' of ' + thing } };
		if (row.mapReady !== true || typeof row.mapKey !== 'string') return { ok: false, error: { status: 404, code: 'NotFound', message: 'the map of ' + missionId + ' is not ready' } };
		const key = row.mapKey;
		return attempt(async () => {
			const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
			if ((got.ContentLength ?? 0) > MAX_MAP_BYTES) {
				got.Body?.transformToWebStream()
					.cancel()
					.catch(() => undefined);
				throw Object.assign(new Error(`the map is ${got.ContentLength} bytes; maps are at most ${MAX_MAP_BYTES}`), { name: 'MapTooLarge', $metadata: { httpStatusCode: 413 } });
			}
			if (!got.Body) throw new Error('GetObject answered without a body');
			return got.Body.transformToByteArray();
		});
	}

	async function executions(jobId: string): Promise<ExecutionView[]> {
		const list = await iot.send(new ListJobExecutionsForJobCommand({ jobId, maxResults: MAX_EXECUTIONS }));
		const out: ExecutionView[] = [];
		for (const s of list.executionSummaries ?? []) {
			const thing = s.thingArn?.split('/').pop() ?? '?';
			// the summary has no statusDetails; the agent's progress is in the execution itself
			const d = await iot.send(new DescribeJobExecutionCommand({ jobId, thingName: thing }));
			const x = d.execution;
			out.push({
				thing,
				status: x?.status ?? s.jobExecutionSummary?.status ?? 'UNKNOWN',
				versionNumber: x?.versionNumber ?? null,
				details: { ...(x?.statusDetails?.detailsMap ?? {}) },
				updatedAt: epochMs(x?.lastUpdatedAt ?? s.jobExecutionSummary?.lastUpdatedAt),
			});
		}
		return out.sort((a, b) => (a.thing < b.thing ? -1 : 1));
	}

	return {
		shadow,

		async setSchedule(thing, text) {
			let parsed: unknown;
			try {
				parsed = JSON.parse(text);
			} catch (e) {
				return bad('the schedule is not JSON: ' + (e as Error).message, 'InvalidSchedule');
			}
			// the robot's own validator: what it would refuse is refused before anything is written
			const v = validateSchedule(parsed);
			if (!v.ok) return bad('not a valid schedule: ' + v.error.map((e) => (e.path || 'schedule') + ': ' + e.message).join('; '), 'InvalidSchedule');
			return attempt(async () => {
				const { reply } = await setDesiredSchedule(data, thing, v.value);
				// the update's reply echoes only what was written: the page needs the whole document
				const writtenVersion = reply.version ?? 0;
				const doc = await getShadow(data, thing);
				return { writtenVersion, shadow: doc && (doc.version ?? 0) >= writtenVersion ? view(doc) : view(reply) };
			});
		},

		missions,
		map,

		async jobs() {
			return attempt(async () => {
				const list = await iot.send(new ListJobsCommand({ maxResults: MAX_JOBS }));
				const jobs: JobView[] = [];
				for (const j of list.jobs ?? []) {
					if (!j.jobId) continue;
					const d = (await iot.send(new DescribeJobCommand({ jobId: j.jobId }))).job;
					const r = d?.jobExecutionsRolloutConfig;
					const rollout = r ? (r.exponentialRate ? `${r.exponentialRate.baseRatePerMinute}/min x${r.exponentialRate.incrementFactor}, up to ${r.maximumPerMinute}/min` : `${r.maximumPerMinute}/min`) : null;
					jobs.push({
						jobId: j.jobId,
						status: j.status ?? 'UNKNOWN',
						rollout,
						comment: d?.comment ?? null,
						description: null,
						createdAt: epochMs(j.createdAt),
						executions: await executions(j.jobId),
					});
				}
				return jobs.sort((a, b) => (b.createdAt ?? 0) - (a.createdAt ?? 0));
			});
		},

		async createJob(version, things) {
			if (!o.firmware) return { ok: false, error: { status: 501, code: 'NoFirmware', message: 'this console was started without a firmware signing key: it cannot create firmware jobs' } };
			if (!VERSION.test(version)) return bad('"version" expected MAJOR.MINOR.PATCH, got ' + JSON.stringify(version));
			if (things.length === 0) return bad('"things" expected at least one robot');
			const f = o.firmware;
			return attempt(async () => {
				const jobId = 'firmware-' + version.replace(/\./g, '_') + '-' + crypto.randomBytes(4).toString('hex');
				await publishFirmware({ iot, s3, image: f.image(version), version, signer: devSigner(f.signingKeyPem), things, jobId, ...(f.thingArn ? { thingArn: f.thingArn } : {}) });
				return { jobId };
			});
		},

		async cancelJob(jobId) {
			if (!JOB_ID.test(jobId)) return bad('"jobId" expected 1-64 of [a-zA-Z0-9_-], got ' + JSON.stringify(jobId));
			return attempt(async () => {
				await iot.send(new CancelJobCommand({ jobId, reasonCode: 'CONSOLE', comment: 'cancelled from the console', force: true }));
			});
		},

		destroy() {
			for (const c of [data, iot, s3, ddb]) c.destroy();
		},
	};
}
