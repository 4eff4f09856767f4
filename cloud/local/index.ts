/*
 * The local cloud: the stand-in for the AWS services on one machine, reached by
 * the same clients as AWS (the firmware, aws-iot-device-sdk-v2, AWS SDK v3 with
 * endpoint overrides):
 *   AWS IoT Core  broker (mutual TLS, per-thing policy), Device Shadow (MQTT and
 *                 HTTP data plane), Jobs (MQTT device API and HTTP control plane),
 *                 topic rules (Basic Ingest included)
 *   S3            SigV4-checked, presigned URLs, object-created events
 *   KMS, DynamoDB (dynalite), SQS (with dead-letter queues)
 * No global state: every call makes an independent instance on its own ports.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { KMS } from '@aws-crypto/client-node';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { IoTJobsDataPlaneClient } from '@aws-sdk/client-iot-jobs-data-plane';
import { createMapIngestHandler, FUNCTION_NAME as MAP_INGEST_FUNCTION } from '../functions/map-ingest/handler';
import { createMissionReportHandler, FUNCTION_NAME as MISSION_REPORT_FUNCTION, MISSION_REPORT_SQL, RULE_NAME as MISSION_REPORT_RULE } from '../functions/mission-report/handler';
import { createMetricsCollector, type MetricsCollector } from './metrics';
import { createPresenceHandler, FUNCTION_NAME as PRESENCE_FUNCTION, PRESENCE_SQL, RULE_NAME as PRESENCE_RULE } from '../functions/presence/handler';
import { COMMAND_EVENTS_SQL, createCommandEventsHandler, FUNCTION_NAME as COMMAND_EVENTS_FUNCTION, RULE_NAME as COMMAND_EVENTS_RULE } from '../functions/command-events/handler';
import { createUploadSlotHandler, FUNCTION_NAME as UPLOAD_SLOT_FUNCTION, RULE_NAME as UPLOAD_SLOT_RULE, UPLOAD_SLOT_SQL } from '../functions/upload-slot/handler';
import { clientConfig, createDocumentClient } from '../lib/aws';
import { COMMANDS } from '../lib/robot-commands';
import { createLogger } from '../lib/logger';
import type { TableNames } from '../tables';
import { createDevPki, type DevPki } from './dev-pki';
import { startBroker, type Broker } from './broker';
import { createBus, type Bus } from './bus';
import { createLocalCertificates } from './certificates';
import { registryRoutes } from './registry-http';
import { createLocalIotRegistry } from './iot-registry';
import { REGISTRY_FILE } from './iot-registry-store';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from './credentials';
import { startDynamoDb } from './dynamodb/server';
import { ensureTables } from './dynamodb/tables';
import { startCommandsService } from './commands/index';
import { startJobsService } from './jobs/index';
import { startOwnerApi } from './owner-api';
import { startOwnerAuth, type OwnerAuth } from './owner-auth';
import { startKms } from './kms/server';
import { silentLog, type LogFn } from './log';
import { startQueue } from './queue/server';
import { ROBOT_POLICY_NAME, startLocalRegistration, type LocalRegistration } from './registration';
import { createRules } from './rules/index';
import { addLocalRenewal, devCaIssuer } from './renewal';
import { startS3 } from './s3/server';
import { startShadowService } from './shadow/index';

export interface LocalCloudOptions {
	/** Where the dev PKI and the services' state live. */
	readonly dataDir: string;
	/** MQTT over TLS port; 0 picks a free one. */
	readonly mqttPort?: number;
	readonly host?: string;
	/** Thing names to issue dev device certificates for. */
	readonly things?: readonly string[];
	/**
	 * More CAs (PEM) whose device certificates the broker accepts, besides the dev CA: the
	 * company CA of factory provisioning (tools/provision). CAs registered with
	 * `registerLocalCa` (tools/register-ca) in DATADIR/pki/registered-cas are added too,
	 * read again at each broker start.
	 */
	readonly extraCas?: readonly string[];
	/**
	 * Names to issue dev certificates for that get the operator policy (every thing's shadow
	 * and jobs topics) rather than a thing's: the app side of the test rig.
	 */
	readonly operators?: readonly string[];
	readonly log?: LogFn;
	/** Keep service state in memory only (tests); the dev PKI still lives in dataDir. */
	readonly inMemory?: boolean;
	/** Milliseconds in a jobs "minute" (timeouts), for tests that cannot wait minutes. */
	readonly jobsMinuteMs?: number;
	/** Milliseconds in a commands "second" (executionTimeoutSeconds), for tests of execution timeouts. */
	readonly commandsSecondMs?: number;
	/** Lifetime of map upload URLs in seconds (default 300), for tests of expiry. */
	readonly mapSlotExpiresS?: number;
	/** The registration queue's visibility timeout in seconds (default 30), for tests of retries. */
	readonly registrationVisibilityS?: number;
}

export interface Endpoints {
	readonly mqtt: string;
	readonly caPath: string;
	/** AWS IoT data plane (shadows over HTTP): `IoTDataPlaneClient({ endpoint })`. */
	readonly iotData: string;
	/** AWS IoT control plane (jobs): `IoTClient({ endpoint })`. */
	readonly iot: string;
	/** AWS IoT jobs data plane (StartCommandExecution): `IoTJobsDataPlaneClient({ endpoint })`. */
	readonly iotJobsData: string;
	readonly s3: string;
	readonly kms: string;
	readonly dynamodb: string;
	readonly sqs: string;
	/** The registration API (API Gateway's stand-in, HTTPS with the dev CA): `https://host:port/register`. */
	readonly registration: string;
	/** The owners' HTTP API (JWT authorizer): the app's backend. */
	readonly ownerApi: string;
	/** The owners' user pool (Cognito's stand-in: InitiateAuth, JWKS). */
	readonly ownerAuth: string;
}

export interface LocalCloud {
	readonly pki: DevPki;
	/** The running broker (a new object after `startBroker`). Throws while it is stopped. */
	readonly broker: Broker;
	/** In-process MQTT for the cloud's own services; survives broker restarts. */
	readonly bus: Bus;
	readonly shadow: Awaited<ReturnType<typeof startShadowService>>;
	readonly jobs: Awaited<ReturnType<typeof startJobsService>>;
	/** AWS IoT commands: CreateCommand & co. on `iot`, StartCommandExecution on `iotJobsData`, the device topics. */
	readonly commands: Awaited<ReturnType<typeof startCommandsService>>;
	readonly rules: ReturnType<typeof createRules>;
	readonly s3: Awaited<ReturnType<typeof startS3>>;
	readonly kms: Awaited<ReturnType<typeof startKms>>;
	readonly dynamodb: Awaited<ReturnType<typeof startDynamoDb>>;
	readonly queue: Awaited<ReturnType<typeof startQueue>>;
	/** Robot registration: the API, queue and DLQ, worker and the IoT registry. */
	readonly registration: LocalRegistration;
	/** Counters from the handlers' EMF log records: what CloudWatch metrics would show. */
	readonly metrics: MetricsCollector;
	/** The product's DynamoDB tables (cloud/tables.ts), made at startup: physical names. */
	readonly tables: TableNames;
	/** Owners: the user pool, and the origins (an app's page) its API and sign-in answer with CORS. */
	readonly owners: { readonly auth: OwnerAuth; allowOrigin(origin: string): void };
	readonly endpoints: Endpoints;
	/** Stops the broker alone, as an outage would; clients see their connections drop. */
	stopBroker(): Promise<void>;
	/** Starts it again on the same port. */
	startBroker(): Promise<void>;
	close(): Promise<void>;
}

/** The map KMS key's alias (its data keys are the robots' map keys). */
export const MAP_KEY_ALIAS = 'alias/robot-maps';

/** Buckets the product uses: encrypted maps, firmware images. */
export const BUCKETS = Object.freeze(['maps', 'firmware']);

/** Where `registerLocalCa` keeps the CAs registered with a local cloud, under its dataDir/pki. */
export const REGISTERED_CAS_DIR = 'registered-cas';

function readRegisteredCas(dir: string): string[] {
	if (!fs.existsSync(dir)) return [];
	return fs
		.readdirSync(dir)
		.filter((f) => f.endsWith('.pem'))
		.sort()
		.map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
}

export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
	// the handlers' EMF records (cloud/lib/metrics.ts) are counted as CloudWatch would read them from their logs
	const metrics = createMetricsCollector();
	const log = metrics.tap(options.log ?? silentLog);
	const host = options.host ?? '127.0.0.1';
	const state = (name: string) => (options.inMemory ? {} : { dataDir: path.join(options.dataDir, name) });
	const { pki, registeredCas, certificates, registry } = await createIdentity(options);
	const brokerOptions = {
		host,
		get ca() {
			return [pki.ca.certPem, ...(options.extraCas ?? []), ...readRegisteredCas(registeredCas)];
		},
		cert: pki.server.certPem,
		key: pki.server.keyPem,
		log,
		operators: options.operators ?? [],
		admit: registry.admits,
	};
	const bus = createBus(log);
	let broker: Broker | undefined = await startBroker({ ...brokerOptions, port: options.mqttPort ?? 0 });
	// a certificate revoked or deactivated loses its live session at once, as on AWS IoT
	const offRevocation = registry.onCertificateStatus((id, status) => {
		if (status !== 'ACTIVE') broker?.disconnectCertificate(id, 'certificate ' + status);
	});
	await bus.attach(broker);
	const port = broker.port;

	// pages of the owner's app allowed to call its API and read its map URLs (allowOrigin)
	const ownerOrigins: string[] = [];
	const s3 = await startS3({ log, host, buckets: [...BUCKETS], ...state('s3'), corsGetOrigins: () => ownerOrigins });
	const kms = await startKms({ log, host, ...state('kms') });
	const dynamodb = await startDynamoDb({ log, host, ...state('dynamodb') });
	const queue = await startQueue({ log, host });
	const shadow = await startShadowService({ bus, log, host, ...state('shadows') });
	const commands = await startCommandsService({ bus, log, host, ...state('commands'), ...(options.commandsSecondMs ? { secondMs: options.commandsSecondMs } : {}) });
	// the product's commands, as the template declares them on AWS (kept ones are already there)
	for (const c of Object.values(COMMANDS)) if (!commands.runner.command(c.commandId)) commands.runner.createCommand({ ...c, mandatoryParameters: [...c.mandatoryParameters] });
	// the registry's control-plane operations (CreateThing, DescribeCertificate, ...) on the jobs endpoint, over the one registry
	const registryHttp = registryRoutes(registry);
	const jobs = await startJobsService({
		bus,
		log,
		host,
		s3Endpoint: s3.endpoint,
		...state('jobs'),
		...(options.jobsMinuteMs ? { minuteMs: options.jobsMinuteMs } : {}),
		more: (m, p, q, b, h) => commands.routes(m, p, q, b) ?? registryHttp(m, p, q, b, h),
	});
	// IoT DescribeCertificate's stand-in; its tap goes before the rules' so a publish's certificate is known when its rule runs
	const offCertificates = bus.onDevicePublish((m) => {
		if (m.certificate.length > 0) certificates.register(m.certificate);
	});
	const rules = createRules({ bus, log });

	const { ddb, tables, slotClients, mapIngest } = await startProductHandlers({ rules, bus, log, certificates, registry, pki, s3, kms, dynamodbEndpoint: dynamodb.endpoint, mapSlotExpiresS: options.mapSlotExpiresS });

	// robot registration (cloud/functions/register-*): API, queue with DLQ, worker, IoT registry
	const registration = await startLocalRegistration({
		host,
		log,
		queue,
		iotDataEndpoint: shadow.endpoint,
		dynamodbEndpoint: dynamodb.endpoint,
		robotsTable: tables.robots,
		caPem: pki.ca.certPem,
		serverCertPem: pki.server.certPem,
		serverKeyPem: pki.server.keyPem,
		certificates,
		registry,
		...(options.registrationVisibilityS !== undefined ? { visibilityTimeoutS: options.registrationVisibilityS } : {}),
	});

	// owners: the user pool and the HTTP API, the owner-api Lambdas' code behind it
	const { ownerAuth, ownerApi, closeOwners } = await startOwners({
		log,
		host,
		ownerOrigins,
		iotData: shadow.endpoint,
		iot: jobs.endpoint,
		jobsData: commands.dataEndpoint,
		s3: s3.endpoint,
		ddb,
		tables,
	});

	const endpoints: Endpoints = {
		mqtt: 'mqtts://' + host + ':' + port,
		caPath: pki.paths.caPem,
		iotData: shadow.endpoint,
		iot: jobs.endpoint,
		iotJobsData: commands.dataEndpoint,
		s3: s3.endpoint,
		kms: kms.endpoint,
		dynamodb: dynamodb.endpoint,
		sqs: queue.endpoint,
		registration: registration.url,
		ownerApi: ownerApi.url,
		ownerAuth: ownerAuth.endpoint,
	};
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
		jobs,
		commands,
		rules,
		s3,
		kms,
		dynamodb,
		queue,
		registration,
		metrics,
		tables,
		owners: { auth: ownerAuth, allowOrigin: (origin) => void ownerOrigins.push(origin) },
		endpoints,
		stopBroker,
		async startBroker() {
			if (broker) return;
			broker = await startBroker({ ...brokerOptions, port });
			await bus.attach(broker);
		},
		async close() {
			offCertificates();
			offRevocation();
			mapIngest.stop();
			await closeOwners();
			await registration.close();
			await rules.close();
			await mapIngest.drain();
			for (const c of slotClients) c.destroy();
			ddb.destroy();
			await Promise.all([jobs.close(), commands.close(), shadow.close()]);
			await Promise.all([s3.close(), kms.close(), dynamodb.close(), queue.close()]);
			await stopBroker();
			log({ level: 'info', event: 'cloud.stopped' });
		},
	};
}

/** The dev PKI, and the IoT registry with its certificates entered as provisioned. */
async function createIdentity(options: LocalCloudOptions) {
	const pki = await createDevPki(path.join(options.dataDir, 'pki'), { things: [...(options.things ?? []), ...(options.operators ?? [])] });
	const registeredCas = path.join(options.dataDir, 'pki', REGISTERED_CAS_DIR);
	// IoT DescribeCertificate's stand-in and the IoT registry the broker admits CONNECTs by: the
	// dev PKI's certificates are entered as provisioned (ACTIVE, a thing's attached to it)
	const certificates = createLocalCertificates();
	// kept in dataDir/iot (robots registered or renewed, revocations); a bad file stops the start here
	const registry = createLocalIotRegistry({ certificates, ...(options.inMemory ? {} : { file: path.join(options.dataDir, 'iot', REGISTRY_FILE) }) });
	const operatorNames = new Set(options.operators ?? []);
	for (const [name, identity] of pki.things) registry.addDevice(identity.certDer, operatorNames.has(name) ? undefined : name);
	return { pki, registeredCas, certificates, registry };
}

/**
 * The product's handlers, on clients pointed at the local services as on AWS they are at
 * theirs: the rules' handlers, certificate renewal and map ingest.
 */
async function startProductHandlers(o: {
	rules: LocalCloud['rules'];
	bus: Bus;
	log: LogFn;
	certificates: ReturnType<typeof createLocalCertificates>;
	registry: ReturnType<typeof createLocalIotRegistry>;
	pki: DevPki;
	s3: LocalCloud['s3'];
	kms: LocalCloud['kms'];
	dynamodbEndpoint: string;
	mapSlotExpiresS: LocalCloudOptions['mapSlotExpiresS'];
}) {
	const { rules, bus, log, certificates, registry, pki, s3, kms, dynamodbEndpoint, mapSlotExpiresS } = o;
	// (clientConfig copies the credentials: the SDK mutates the object it is given)
	const ddbConfig = { region: LOCAL_REGION, endpoint: dynamodbEndpoint, credentials: LOCAL_CREDENTIALS };
	const ddbAdmin = new DynamoDBClient(clientConfig(ddbConfig));
	const tables = await ensureTables(ddbAdmin).finally(() => ddbAdmin.destroy());
	const ddb = createDocumentClient(ddbConfig);
	// map uploads: the data key the slot rule wraps with and the ingest unwraps with
	const mapKey = await kms.createKey({ alias: MAP_KEY_ALIAS, description: 'robot map data keys' });
	const slotClients = addProductRules({
		rules,
		bus,
		log,
		ddb,
		tables,
		certificates,
		mapKeyArn: mapKey.arn,
		kmsEndpoint: kms.endpoint,
		s3Endpoint: s3.endpoint,
		mapSlotExpiresS,
	});
	// certificate renewal before expiry (renewal.ts): the dev CA issues, with the factory's signing code
	addLocalRenewal({
		rules,
		registry,
		issuer: devCaIssuer(pki.ca),
		publish: (t, p, q) => bus.publish(t, p, q),
		policyName: ROBOT_POLICY_NAME,
		log,
		robots: { ddb, table: tables.robots },
	});
	const mapIngest = startMapIngest({ s3, kmsEndpoint: kms.endpoint, ddb, tables, mapKeyArn: mapKey.arn, log });
	return { ddb, tables, slotClients, mapIngest };
}

/** AWS SDK client config for a local service (clientConfig copies the credentials: the SDK mutates the object it is given). */
function awsConfig(endpoint: string) {
	return clientConfig({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS });
}

/** The product's rules on the local rules engine: mission reports, presence, map upload slots; returns the slot's clients to destroy at close. */
function addProductRules(p: {
	rules: ReturnType<typeof createRules>;
	bus: Bus;
	log: LogFn;
	ddb: ReturnType<typeof createDocumentClient>;
	tables: TableNames;
	certificates: ReturnType<typeof createLocalCertificates>;
	mapKeyArn: string;
	kmsEndpoint: string;
	s3Endpoint: string;
	mapSlotExpiresS: number | undefined;
}): { destroy(): void }[] {
	const { rules, bus, log, ddb, tables, certificates, mapKeyArn, kmsEndpoint, s3Endpoint, mapSlotExpiresS } = p;
	rules.add({
		name: MISSION_REPORT_RULE,
		sql: MISSION_REPORT_SQL,
		functionName: MISSION_REPORT_FUNCTION,
		handler: createMissionReportHandler({ ddb, table: tables.missions, logger: createLogger({ sink: log, level: 'debug', keys: { service: 'mission-report' } }) }),
	});
	// connectivity in the robots table from the broker's lifecycle events
	rules.add({
		name: PRESENCE_RULE,
		sql: PRESENCE_SQL,
		functionName: PRESENCE_FUNCTION,
		handler: createPresenceHandler({ ddb, table: tables.robots, logger: createLogger({ sink: log, level: 'debug', keys: { service: 'presence' } }) }),
	});
	// command executions by status (EMF) from the commands service's execution events
	rules.add({
		name: COMMAND_EVENTS_RULE,
		sql: COMMAND_EVENTS_SQL,
		functionName: COMMAND_EVENTS_FUNCTION,
		handler: createCommandEventsHandler({ logger: createLogger({ sink: log, level: 'debug', keys: { service: 'command-events' } }) }),
	});

	// map uploads: the slot rule (design.md, "Key choices")
	const slotKms = new KMSClient(awsConfig(kmsEndpoint));
	// presigned URLs carry no checksum (the SDK's default would sign the CRC32 of an empty body)
	const slotS3 = new S3Client({ ...awsConfig(s3Endpoint), forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
	rules.add({
		name: UPLOAD_SLOT_RULE,
		sql: UPLOAD_SLOT_SQL,
		functionName: UPLOAD_SLOT_FUNCTION,
		handler: createUploadSlotHandler({
			kms: slotKms,
			s3: slotS3,
			certificates,
			publisher: { publish: (topic, payload, qos) => bus.publish(topic, payload, qos) },
			keyId: mapKeyArn,
			missions: { ddb, table: tables.missions },
			logger: createLogger({ sink: log, level: 'debug', keys: { service: 'upload-slot' } }),
			...(mapSlotExpiresS !== undefined ? { expiresInS: mapSlotExpiresS } : {}),
		}),
	});
	return [slotKms, slotS3];
}

/** Map ingest on the maps bucket: S3 invokes the function asynchronously; `stop` ends the invocations, `drain` awaits those under way and frees the clients. */
function startMapIngest(p: { s3: Awaited<ReturnType<typeof startS3>>; kmsEndpoint: string; ddb: ReturnType<typeof createDocumentClient>; tables: TableNames; mapKeyArn: string; log: LogFn }): { stop(): void; drain(): Promise<void> } {
	const { s3, kmsEndpoint, ddb, tables, mapKeyArn, log } = p;
	const ingestS3 = new S3Client({ ...awsConfig(s3.endpoint), forcePathStyle: true });
	const ingestKms: KMS[] = [];
	const ingest = createMapIngestHandler({
		s3: ingestS3,
		ddb,
		table: tables.missions,
		keyArn: mapKeyArn,
		kms: (region) => {
			const k = new KMS(clientConfig({ region, endpoint: kmsEndpoint, credentials: LOCAL_CREDENTIALS }));
			ingestKms.push(k);
			return k;
		},
		logger: createLogger({ sink: log, level: 'debug', keys: { service: 'map-ingest' } }),
	});
	// S3 invokes the function asynchronously; what is under way is awaited at close
	const ingesting = new Set<Promise<unknown>>();
	const offIngest = s3.onObjectCreated((event) => {
		const p = ingest(event, { awsRequestId: randomUUID(), functionName: MAP_INGEST_FUNCTION })
			.catch((e: unknown) => log({ level: 'error', event: 'map_ingest.invocation_failed', error: String(e) }))
			.finally(() => ingesting.delete(p));
		ingesting.add(p);
	});

	return {
		stop: offIngest,
		async drain() {
			await Promise.all([...ingesting]);
			for (const c of [ingestS3, ...ingestKms]) c.destroy();
		},
	};
}

/** The owners' user pool and HTTP API with the owner-api Lambdas' code behind it, on clients of the local services. */
async function startOwners(p: {
	log: LogFn;
	host: string;
	ownerOrigins: string[];
	iotData: string;
	iot: string;
	jobsData: string;
	s3: string;
	ddb: ReturnType<typeof createDocumentClient>;
	tables: TableNames;
}): Promise<{ ownerAuth: OwnerAuth; ownerApi: Awaited<ReturnType<typeof startOwnerApi>>; closeOwners(): Promise<void> }> {
	const { log, host, ownerOrigins, ddb, tables } = p;
	const endpoints = p;
	const ownerAuth = await startOwnerAuth({ log, host, corsOrigins: () => ownerOrigins });
	const ownerClients = {
		iotData: new IoTDataPlaneClient(awsConfig(endpoints.iotData)),
		iot: new IoTClient(awsConfig(endpoints.iot)),
		jobsData: new IoTJobsDataPlaneClient(awsConfig(endpoints.jobsData)),
		s3: new S3Client({ ...awsConfig(endpoints.s3), forcePathStyle: true }),
	};
	const ownerApi = await startOwnerApi({
		auth: ownerAuth,
		log,
		host,
		corsOrigins: () => ownerOrigins,
		deps: {
			...ownerClients,
			ddb,
			tables,
			mapsBucket: 'maps',
			region: LOCAL_REGION,
			account: LOCAL_ACCOUNT,
			logger: createLogger({ sink: log, level: 'debug', keys: { service: 'owner-api' } }),
		},
	});

	return {
		ownerAuth,
		ownerApi,
		async closeOwners() {
			await ownerApi.close();
			await ownerAuth.close();
			for (const c of Object.values(ownerClients)) c.destroy();
		},
	};
}
