/*
 * The local cloud: the stand-in for the AWS services on one machine. So far the
 * AWS IoT Core message broker (mutual TLS against the dev CA, per-thing policy);
 * shadow, jobs, rules, S3, DynamoDB, KMS and the queue join it here.
 * No global state: every call makes an independent instance.
 */
import path from 'node:path';
import { createDevPki, type DevPki } from '../../tools/pki/dev-pki';
import { startBroker, type Broker } from './broker';
import { createBus, type Bus } from './bus';
import { startShadowService } from './shadow/index';
import { silentLog, type LogFn } from './log';

export interface LocalCloudOptions {
	/** Where the dev PKI and state live. */
	readonly dataDir: string;
	/** MQTT over TLS port; 0 picks a free one. */
	readonly mqttPort?: number;
	readonly host?: string;
	/** Thing names to issue dev device certificates for. */
	readonly things?: readonly string[];
	readonly log?: LogFn;
	/** Keep service state in memory only (tests); the dev PKI still lives in dataDir. */
	readonly inMemory?: boolean;
}

export interface LocalCloud {
	readonly pki: DevPki;
	/** The running broker (a new object after `startBroker`). Throws while it is stopped. */
	readonly broker: Broker;
	/** In-process MQTT for the cloud's own services; survives broker restarts. */
	readonly bus: Bus;
	readonly shadow: Awaited<ReturnType<typeof startShadowService>>;
	readonly endpoints: { readonly mqtt: string; readonly caPath: string; readonly shadow: string };
	/** Stops the broker alone, as an outage would; clients see their connections drop. */
	stopBroker(): Promise<void>;
	/** Starts it again on the same port. */
	startBroker(): Promise<void>;
	close(): Promise<void>;
}

export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
	const log = options.log ?? silentLog;
	const pki = await createDevPki(path.join(options.dataDir, 'pki'), { things: options.things ?? [] });
	const host = options.host ?? '127.0.0.1';
	const brokerOptions = { host, ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem, log };
	const bus = createBus(log);
	let broker: Broker | undefined = await startBroker({ ...brokerOptions, port: options.mqttPort ?? 0 });
	await bus.attach(broker);
	const port = broker.port;
	const shadow = await startShadowService({ bus, log, host, ...(options.inMemory ? {} : { dataDir: path.join(options.dataDir, 'shadows') }) });
	const endpoints = { mqtt: 'mqtts://' + host + ':' + port, caPath: pki.paths.caPem, shadow: shadow.endpoint };
	log({ level: 'info', event: 'cloud.started', ...endpoints });
	const stopBroker = async () => {
		const b = broker;
		broker = undefined;
		bus.detach();
		await b?.close();
	};
	return {
		pki,
		get broker() {
			if (!broker) throw new Error('the broker is stopped');
			return broker;
		},
		bus,
		shadow,
		endpoints,
		stopBroker,
		async startBroker() {
			if (broker) return;
			broker = await startBroker({ ...brokerOptions, port });
			await bus.attach(broker);
		},
		async close() {
			await shadow.close();
			await stopBroker();
			log({ level: 'info', event: 'cloud.stopped' });
		},
	};
}
