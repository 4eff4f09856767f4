// What the cloud says about the robot, for the scenarios' checks: the schedule shadow through
// the HTTP data plane (as the app's backend uses it), the missions table, the decoded maps in
// S3, the broker's record of reports, firmware jobs. Each check answers undefined when it held,
// else why not, and says what it saw.
import { isDeepStrictEqual } from 'node:util';
import { DeleteThingShadowCommand, GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { DeleteCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeJobExecutionCommand, IoTClient } from '@aws-sdk/client-iot';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../cloud/local/credentials';
import { createDocumentClient } from '../../cloud/lib/aws';
import { reportTopic } from '../../firmware/core/mission/report';
import { parseMapHeader } from '../../firmware/sim/map';
import { THING, say, until, type Suite } from './suite';

type ShadowDoc = { state: { desired?: Record<string, unknown>; reported?: Record<string, unknown> }; version: number };
export type MissionItem = { thing: string; missionId: string; outcome: string; [k: string]: unknown };

export class Checks {
	readonly dataPlane: IoTDataPlaneClient;
	readonly ddb: ReturnType<typeof createDocumentClient>;
	readonly s3: S3Client;
	readonly iot: IoTClient;

	constructor(readonly s: Suite) {
		const credentials = { ...LOCAL_CREDENTIALS };
		const e = s.cloud.endpoints;
		this.dataPlane = new IoTDataPlaneClient({ endpoint: e.iotData, region: LOCAL_REGION, credentials });
		this.ddb = createDocumentClient({ endpoint: e.dynamodb, region: LOCAL_REGION, credentials });
		this.s3 = new S3Client({ region: LOCAL_REGION, endpoint: e.s3, forcePathStyle: true, credentials });
		this.iot = new IoTClient({ endpoint: e.iot, region: LOCAL_REGION, credentials });
	}

	close(): void {
		for (const c of [this.dataPlane, this.ddb, this.s3, this.iot]) c.destroy();
	}

	// ---- the schedule shadow ------------------------------------------------------------------
	async shadow(name = 'schedule', thing = THING): Promise<ShadowDoc | undefined> {
		try {
			const r = await this.dataPlane.send(new GetThingShadowCommand({ thingName: thing, shadowName: name }));
			return JSON.parse(new TextDecoder().decode(r.payload)) as ShadowDoc;
		} catch (e) {
			if ((e as { name?: string }).name === 'ResourceNotFoundException') return undefined;
			throw e;
		}
	}

	async deleteSchedule(): Promise<void> {
		if (await this.shadow()) await this.dataPlane.send(new DeleteThingShadowCommand({ thingName: THING, shadowName: 'schedule' }));
	}

	/** The app sets desired.schedule through the data plane (while the robot is off). */
	async appSets(schedule: unknown): Promise<void> {
		await this.dataPlane.send(new UpdateThingShadowCommand({ thingName: THING, shadowName: 'schedule', payload: new TextEncoder().encode(JSON.stringify({ state: { desired: { schedule } } })) }));
		const d = (await this.shadow())?.state.desired?.schedule;
		if (!isDeepStrictEqual(d, schedule)) throw new Error('the app edit is not in desired: ' + JSON.stringify(d));
		say(`app set desired.schedule through the data plane while the robot is off: ${JSON.stringify(schedule)}`);
	}

	/** undefined when reported.schedule is `expected` (scheduleError as `error` says) and desired is empty. */
	async scheduleIs(expected: unknown, error?: RegExp): Promise<string | undefined> {
		const s = await this.shadow();
		if (!s) return 'no schedule shadow';
		const shown = JSON.stringify(s.state);
		if (!isDeepStrictEqual(s.state.reported?.schedule, expected)) return `shadow reported.schedule is not ${JSON.stringify(expected)}: ${shown}`;
		// cleared: no desired section, or one with nothing left in it
		if (s.state.desired !== undefined && Object.keys(s.state.desired).length > 0) return `shadow desired not cleared: ${shown}`;
		const e = s.state.reported?.scheduleError;
		if (error ? !(typeof e === 'string' && error.test(e)) && !error.test(JSON.stringify(e)) : e !== undefined && e !== null) return `shadow reported.scheduleError ${JSON.stringify(e)}, expected ${error ? String(error) : 'none'}`;
		say(`shadow (version ${s.version}) state ${shown}`);
		return undefined;
	}

	// ---- missions: the broker record, the missions table ----------------------------------------
	async missionItems(): Promise<MissionItem[]> {
		await this.s.cloud.rules.idle();
		const r = await this.ddb.send(new QueryCommand({ TableName: this.s.cloud.tables.missions, KeyConditionExpression: 'thing = :t', ExpressionAttributeValues: { ':t': THING }, ConsistentRead: true }));
		return (r.Items ?? []) as MissionItem[];
	}

	async clearMissions(): Promise<void> {
		for (const i of await this.missionItems()) await this.ddb.send(new DeleteCommand({ TableName: this.s.cloud.tables.missions, Key: { thing: i.thing, missionId: i.missionId } }));
	}

	/** undefined when the report of `missionId` reached the broker once, at QoS 1 on its Basic Ingest topic. */
	reportOnce(missionId: string): string | undefined {
		const topic = reportTopic(THING, missionId);
		const got = this.s.broker()?.record.entries({ thing: THING, topic }) ?? [];
		if (got.length !== 1 || got[0]!.qos !== 1) return `broker received ${got.length} report(s) on ${topic} (qos ${got.map((e) => e.qos).join(',')}), expected 1 at qos 1`;
		say(`broker record for ${topic}: 1 at qos 1 (id ${got[0]!.messageId}${got[0]!.dup ? ', dup' : ''}), ${got[0]!.payload.length} bytes`);
		return undefined;
	}

	/** undefined when the table holds exactly one item for the thing: `missionId` with `outcome` (waits for the rule). */
	async onlyItem(missionId: string, outcome: string): Promise<string | undefined> {
		let items: MissionItem[] = [];
		try {
			await until(`missions item ${missionId}`, async () => ((items = await this.missionItems()).some((i) => i.missionId === missionId) ? true : undefined), 10_000);
		} catch {
			/* reported below */
		}
		const shown = items.map((i) => `${i.missionId}:${i.outcome}`).join(', ');
		if (items.length !== 1 || items[0]!.missionId !== missionId || items[0]!.outcome !== outcome) return `missions table holds [${shown}] for ${THING}, expected exactly [${missionId}:${outcome}]`;
		const i = items[0]!;
		say(`missions table: one item ${THING}/${missionId} outcome ${i.outcome}, durationS ${String(i.durationS)}, areaM2 ${String(i.areaM2)}, map ${String(i.map)}`);
		return undefined;
	}

	/** undefined when the mission's item says mapReady and the decoded map is an RMAP of `bytes` bytes. */
	async mapStored(missionId: string, bytes: number): Promise<string | undefined> {
		let item: Record<string, unknown> | undefined;
		try {
			await until(
				`mapReady on ${missionId}`,
				async () => {
					await this.s.cloud.rules.idle();
					item = (await this.ddb.send(new GetCommand({ TableName: this.s.cloud.tables.missions, Key: { thing: THING, missionId }, ConsistentRead: true }))).Item;
					return item?.mapReady === true ? true : undefined;
				},
				30_000,
			);
		} catch {
			return `missions item ${THING}/${missionId} has no mapReady: ${JSON.stringify(item)}`;
		}
		const key = `decoded/${THING}/${missionId}.map`;
		let got: Uint8Array;
		try {
			got = await (await this.s3.send(new GetObjectCommand({ Bucket: 'maps', Key: key }))).Body!.transformToByteArray();
		} catch (e) {
			return `no decoded map at s3://maps/${key}: ${String(e)}`;
		}
		const header = parseMapHeader(got);
		if (typeof header === 'string') return `decoded map s3://maps/${key} is not a map: ${header}`;
		if (got.length !== bytes) return `decoded map s3://maps/${key} is ${got.length} bytes, expected ${bytes}`;
		say(`missions item ${THING}/${missionId} mapReady; s3://maps/${key} is an RMAP ${header.width}x${header.height}, ${got.length} bytes, area ${header.areaM2} m²`);
		return undefined;
	}

	// ---- firmware jobs ----------------------------------------------------------------------------
	/** undefined when the job ended `status` (details matching `reason`) and the status shadow reports `running` valid. */
	async jobEnded(jobId: string, status: string, running: string, reason?: RegExp): Promise<string | undefined> {
		let e: { status?: string; statusDetails?: { detailsMap?: Record<string, string> } } | undefined;
		try {
			e = await until(
				`job ${jobId} ${status}`,
				async () => {
					const x = (await this.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: THING }))).execution;
					return x?.status === status ? x : undefined;
				},
				30_000,
			);
		} catch {
			const x = (await this.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: THING }))).execution;
			return `job ${jobId} is ${String(x?.status)} (${JSON.stringify(x?.statusDetails?.detailsMap ?? {})}), expected ${status}`;
		}
		const details = e?.statusDetails?.detailsMap ?? {};
		if (reason && !reason.test(JSON.stringify(details))) return `job ${jobId} details ${JSON.stringify(details)} do not match ${String(reason)}`;
		let fw: { version?: string; valid?: boolean } | undefined;
		try {
			fw = await until(
				`status shadow firmware ${running}`,
				async () => {
					const f = (await this.shadow('status'))?.state.reported?.firmware as { version?: string; valid?: boolean } | undefined;
					return f?.version === running && f.valid === true ? f : undefined;
				},
				10_000,
			);
		} catch {
			return `status shadow does not report firmware ${running} valid: ${JSON.stringify((await this.shadow('status'))?.state.reported?.firmware)}`;
		}
		say(`job ${jobId} ${status} ${JSON.stringify(details)}; status shadow firmware ${JSON.stringify(fw)}`);
		return undefined;
	}
}
