/*
 * The app and operator side of the rig on aws-iot-device-sdk-v2: one mutual-TLS MQTT
 * connection with its Device Shadow and Jobs service clients (the SDK's v2 clients,
 * request/response matched by clientToken).
 *
 * Protocol: MQTT 5 against AWS IoT. The local cloud's broker (aedes 1.2) speaks only
 * MQTT 3.1.1: its CONNECT handler answers protocol level 5 with a 3.1.1 CONNACK, return
 * code 1 "unacceptable protocol version" [MQTT-3.1.2-2], which the SDK's MQTT 5 decoder
 * rejects as AWS_ERROR_MQTT5_DECODE_PROTOCOL_ERROR. So against cloud/local the same
 * service clients ride the SDK's MQTT 3.1.1 connection (`newFromMqtt311`); nothing
 * else differs.
 */
import { iot, iotjobs, iotshadow, mqtt, mqtt5 } from 'aws-iot-device-sdk-v2';
import type { Schedule } from '../firmware/core/schedule/model';

export type AppProtocol = 'mqtt5' | 'mqtt311';

export interface AppOptions {
	readonly host: string;
	readonly port: number;
	/** PEM; omitted against AWS (the system's roots) */
	readonly ca?: string;
	readonly certPem: string;
	readonly keyPem: string;
	/** The operator's certificate CN (the local broker and AWS policies key on it). */
	readonly clientId: string;
	readonly protocol: AppProtocol;
}

export interface ScheduleShadow {
	readonly version: number;
	readonly desired: { schedule?: Schedule } | undefined;
	readonly reported: { schedule?: Schedule; scheduleError?: unknown; [k: string]: unknown } | undefined;
}

export interface App {
	readonly protocol: AppProtocol;
	readonly shadow: iotshadow.IotShadowClientv2;
	readonly jobs: iotjobs.IotJobsClientv2;
	/** The owner edits the schedule: desired.schedule in the named shadow `schedule`. */
	setSchedule(thing: string, schedule: Schedule): Promise<number>;
	/** The `schedule` shadow, or undefined when it does not exist (404). */
	schedule(thing: string): Promise<ScheduleShadow | undefined>;
	/** The classic shadow's reported state, or undefined when it does not exist. */
	reported(thing: string): Promise<Record<string, unknown> | undefined>;
	/**
	 * A job execution's status through the device Jobs API. Once it is terminal the API
	 * answers TerminalStateReached instead (AWS documents this for DescribeJobExecution,
	 * and the local Jobs service does the same), so which terminal state it reached comes
	 * from the control plane (DescribeJobExecution on @aws-sdk/client-iot).
	 */
	jobStatus(thing: string, jobId: string): Promise<{ readonly status: string } | { readonly terminal: true }>;
	close(): Promise<void>;
}

const RR = { maxRequestResponseSubscriptions: 6, maxStreamingSubscriptions: 2, operationTimeoutInSeconds: 10 };

export async function connectApp(o: AppOptions): Promise<App> {
	let shadow: iotshadow.IotShadowClientv2;
	let jobs: iotjobs.IotJobsClientv2;
	let disconnect: () => Promise<void>;
	if (o.protocol === 'mqtt5') {
		const b = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(o.host, o.certPem, o.keyPem);
		b.withPort(o.port);
		if (o.ca) b.withCertificateAuthority(o.ca);
		b.withConnectProperties({ clientId: o.clientId, keepAliveIntervalSeconds: 60 });
		const client = new mqtt5.Mqtt5Client(b.build());
		await new Promise<void>((resolve, reject) => {
			client.once('connectionSuccess', () => resolve());
			client.once('connectionFailure', (e) => reject(new Error(`MQTT 5 connect to ${o.host}:${o.port} failed: ${e.error.message}`)));
			client.start();
		});
		shadow = iotshadow.IotShadowClientv2.newFromMqtt5(client, RR);
		jobs = iotjobs.IotJobsClientv2.newFromMqtt5(client, RR);
		disconnect = async () => {
			const stopped = new Promise<void>((r) => client.once('stopped', () => r()));
			client.stop();
			await stopped;
			client.close();
		};
	} else {
		const b = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder(o.certPem, o.keyPem);
		b.with_endpoint(o.host).with_port(o.port).with_client_id(o.clientId).with_clean_session(true);
		if (o.ca) b.with_certificate_authority(o.ca);
		const conn = new mqtt.MqttClient().new_connection(b.build());
		await conn.connect();
		shadow = iotshadow.IotShadowClientv2.newFromMqtt311(conn, RR);
		jobs = iotjobs.IotJobsClientv2.newFromMqtt311(conn, RR);
		disconnect = () => conn.disconnect();
	}
	const notFound = (e: unknown) => (e as { modeledError?: { code?: number } }).modeledError?.code === 404;
	return {
		protocol: o.protocol,
		shadow,
		jobs,
		async setSchedule(thing, schedule) {
			const r = await shadow.updateNamedShadow({ thingName: thing, shadowName: 'schedule', state: { desired: { schedule } } });
			return r.version!;
		},
		async schedule(thing) {
			try {
				const r = await shadow.getNamedShadow({ thingName: thing, shadowName: 'schedule' });
				const state = (r.state ?? {}) as { desired?: ScheduleShadow['desired']; reported?: ScheduleShadow['reported'] };
				return { version: r.version!, desired: state.desired, reported: state.reported };
			} catch (e) {
				if (notFound(e)) return undefined;
				throw e;
			}
		},
		async reported(thing) {
			try {
				const r = await shadow.getShadow({ thingName: thing });
				return (r.state?.reported ?? undefined) as Record<string, unknown> | undefined;
			} catch (e) {
				if (notFound(e)) return undefined;
				throw e;
			}
		},
		async jobStatus(thing, jobId) {
			try {
				const r = await jobs.describeJobExecution({ thingName: thing, jobId });
				return { status: r.execution?.status ?? 'UNKNOWN' };
			} catch (e) {
				const m = (e as { modeledError?: { code?: string; message?: string } }).modeledError;
				if (m?.code === 'TerminalStateReached') return { terminal: true };
				throw new Error(`DescribeJobExecution ${thing} ${jobId}: ${m ? `${m.code}: ${m.message}` : String(e)}`);
			}
		},
		async close() {
			shadow.close();
			jobs.close();
			await disconnect();
		},
	};
}
