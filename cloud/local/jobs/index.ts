/*
 * The local AWS IoT Jobs service: the control plane over HTTP for `@aws-sdk/client-iot`
 * (endpoint override), the device API over the in-process MQTT bus, presigned-URL
 * placeholders signed for the local S3, and timeouts on real timers scaled by `minuteMs`.
 */
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../credentials';
import type { Bus } from '../bus';
import type { LogFn } from '../log';
import { closeOnce } from '../close-once';
import { startControlPlane, type ControlPlaneOptions } from './control-plane';
import { JobsRunner } from './runner';
import { s3Presigner } from './document';
import { serveDeviceApi } from './device-api';

export interface JobsServiceOptions {
	readonly bus: Bus;
	readonly log: LogFn;
	/** HTTP port of the control plane; 0 (default) picks a free one. */
	readonly port?: number;
	readonly host?: string;
	/** Keeps jobs and executions in <dataDir>/jobs.json across restarts. */
	readonly dataDir?: string;
	/** The local S3 endpoint presigned URLs point at; without it, documents with placeholders are refused. */
	readonly s3Endpoint?: string;
	readonly region?: string;
	readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
	/**
	 * Milliseconds per minute of inProgressTimeoutInMinutes and stepTimeoutInMinutes
	 * (default 60 000). Tests pass e.g. 200 so a 1-minute timeout fires after 200 ms.
	 */
	readonly minuteMs?: number;
	/** Refuse control-plane requests without a valid SigV4 signature (default true). */
	readonly verifySignatures?: boolean;
	/** Other control-plane operations served on the same endpoint (the commands service's routes). */
	readonly more?: ControlPlaneOptions['more'];
}

export interface JobsService {
	/** The control-plane endpoint for `new IoTClient({ endpoint })`. */
	readonly endpoint: string;
	readonly port: number;
	/** The state, for tests and tools that look inside. */
	readonly runner: JobsRunner;
	close(): Promise<void>;
}

export async function startJobsService(o: JobsServiceOptions): Promise<JobsService> {
	const minuteMs = o.minuteMs ?? 60_000;
	if (!(minuteMs > 0) || !Number.isFinite(minuteMs)) throw new RangeError('"minuteMs" expected a positive number, got ' + String(minuteMs));
	if (o.s3Endpoint !== undefined && !URL.canParse(o.s3Endpoint)) throw new TypeError('"s3Endpoint" expected a URL, got ' + o.s3Endpoint);
	const region = o.region ?? LOCAL_REGION;
	const presign = o.s3Endpoint ? s3Presigner({ endpoint: o.s3Endpoint, region, credentials: o.credentials ?? LOCAL_CREDENTIALS }) : undefined;
	const runner = new JobsRunner({
		publish: (topic, payload) => o.bus.publish(topic, payload, 1),
		log: o.log,
		minuteMs,
		...(presign ? { presign } : {}),
		...(o.s3Endpoint ? { localS3: o.s3Endpoint } : {}),
		...(o.dataDir ? { dataDir: o.dataDir } : {}),
	});
	await runner.load();
	const http = await startControlPlane(runner, {
		log: o.log,
		canPresign: presign !== undefined,
		...(o.s3Endpoint ? { localS3: o.s3Endpoint } : {}),
		...(o.port !== undefined ? { port: o.port } : {}),
		...(o.host !== undefined ? { host: o.host } : {}),
		...(o.verifySignatures !== undefined ? { verifySignatures: o.verifySignatures } : {}),
		...(o.more ? { more: o.more } : {}),
	});
	const off = serveDeviceApi(runner, o.bus, o.log);
	o.log({ level: 'info', event: 'jobs.started', endpoint: http.url, s3Endpoint: o.s3Endpoint, minuteMs });
	return {
		endpoint: http.url,
		port: http.port,
		runner,
		close: closeOnce(
			off,
			() => http.close(),
			() => runner.close(),
		),
	};
}

export { JobsRunner } from './runner';
export type { JobRecord, JobStatus } from './runner';
export type { Execution, ExecutionStatus } from './execution';
export { thingArn, jobArn } from './control-plane';
