/*
 * RegisterWorkerFunction: takes checked registration requests from the registration queue
 * (SQS event source, ReportBatchItemFailures) and makes the robot a thing that may connect:
 *   1. registers its certificate with IoT under our CA, ACTIVE (or finds it registered);
 *   2. creates the thing (the certificate CN);
 *   3. attaches the robot policy to the certificate and the certificate to the thing;
 *   4. creates the initial shadows (classic and `schedule`) when they do not exist;
 *   5. marks the robot registered in the robots table.
 * Every step is idempotent, so a message delivered twice, or retried after a step failed
 * half way, ends the same. A failed step fails only its record: SQS delivers it again after
 * the visibility timeout, and after the queue's maxReceiveCount it lands in the dead-letter
 * queue, from which `tools/redrive.ts` moves it back once the fault is fixed. A message that
 * does not parse fails the same way: it is evidence, kept in the DLQ, not dropped.
 *
 * What retrying cannot change is not a failure: a certificate IoT refuses, or one it has as
 * revoked or inactive (a robot blocked on purpose stays blocked), is recorded in the robots
 * table as `refused` with the reason the validate function then answers the robot with.
 */
import { IoTClient } from '@aws-sdk/client-iot';
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { X509Certificate } from 'node:crypto';
import { clientConfig, createDocumentClient } from '../../lib/aws';
import { errorFields, invocationLogger, type InvocationContext, type Logger } from '../../lib/logger';
import { caCertificateIdsFromEnv, functionLogger, lambdaEntry, requireEnv, tableFromEnv, type Env } from '../../lib/lambda-env';
import { countMetric } from '../../lib/metrics';
import { TABLES } from '../../tables';
import { parseRegistrationMessage, type RegistrationMessage } from '../register-validate/message';
import { awsIotRegistry, CertificateRejected, type IotRegistry } from './registry';

export const FUNCTION_NAME = 'RegisterWorkerFunction';
/** Deliveries of one message before SQS moves it to the dead-letter queue (the template's RedrivePolicy). */
export const MAX_RECEIVE_COUNT = 5;
/** The shadows every robot starts with: the classic one (status) and the schedule. */
export const INITIAL_SHADOWS: readonly string[] = Object.freeze(['', 'schedule']);

/** The parts of an SQS event record this reads. */
export interface SqsRecord {
	readonly messageId: string;
	readonly body: string;
	readonly attributes?: Readonly<Record<string, string | undefined>>;
	readonly eventSourceARN?: string;
}

export interface SqsEvent {
	readonly Records: readonly SqsRecord[];
}

export interface SqsBatchResponse {
	readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

export type RegisterWorkerHandler = (event: SqsEvent, context: InvocationContext) => Promise<SqsBatchResponse>;

export interface RegisterWorkerDeps {
	readonly registry: IotRegistry;
	readonly caCertificateIds: readonly string[];
	readonly iotData: IoTDataPlaneClient;
	readonly ddb: DynamoDBDocumentClient;
	/** The robots table's physical name. */
	readonly table: string;
	/** The IoT policy every robot certificate gets (thing-scoped). */
	readonly policyName: string;
	readonly logger: Logger;
	readonly now?: () => number;
}

export type RecordOutcome = 'registered' | 'refused';

class Refused extends Error {
	constructor(
		readonly code: 'certificate_revoked' | 'untrusted_certificate',
		message: string,
	) {
		super(message);
	}
}

/** A record's failure already logged with its context. */
class Logged extends Error {}

/** A failure of one step: the step's name goes in the log. */
class StepFailed extends Error {
	constructor(
		readonly stage: string,
		override readonly cause: unknown,
	) {
		super(stage + ': ' + String((cause as Error)?.message ?? cause));
	}
}

export function createRegisterWorkerHandler(deps: RegisterWorkerDeps): RegisterWorkerHandler {
	checkDeps(deps);
	const d: Wired = { ...deps, now: deps.now ?? Date.now };
	return async (event, context) => {
		const base = invocationLogger(d.logger, context);
		if (!event || !Array.isArray(event.Records)) throw new TypeError('event: expected an SQS event with Records');
		const batchItemFailures: { itemIdentifier: string }[] = [];
		// one at a time: a batch is small, and IoT's control plane has low per-account rates
		for (const record of event.Records) {
			const log = base.child({ messageId: record.messageId, receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 0) });
			try {
				await handleRecord(d, record, log);
			} catch (e) {
				if (!(e instanceof Logged)) log.error('register_worker.failed', { stage: 'unknown', ...errorFields(e), willRetry: true });
				batchItemFailures.push({ itemIdentifier: record.messageId });
			}
		}
		return { batchItemFailures };
	};
}

/** The deps with the clock resolved. */
type Wired = RegisterWorkerDeps & { readonly now: () => number };

function checkDeps(deps: RegisterWorkerDeps): void {
	const { registry, caCertificateIds, iotData, ddb, table, policyName, logger } = deps;
	if (typeof registry?.registerCertificate !== 'function') throw new TypeError('"registry" expected an IotRegistry');
	if (!Array.isArray(caCertificateIds) || caCertificateIds.length === 0) throw new TypeError('"caCertificateIds" expected one or more CA certificate ids');
	if (typeof iotData?.send !== 'function') throw new TypeError('"iotData" expected an IoTDataPlaneClient');
	if (typeof ddb?.send !== 'function') throw new TypeError('"ddb" expected a DynamoDBDocumentClient');
	if (typeof table !== 'string' || table.length < 3) throw new TypeError('"table" expected the robots table name');
	if (typeof policyName !== 'string' || policyName === '') throw new TypeError('"policyName" expected the robot IoT policy name');
	if (typeof logger?.child !== 'function') throw new TypeError('"logger" expected a Logger');
}

/** Runs one step, naming it in the failure; a refusal passes through as it is. */
async function step<T>(stage: string, f: () => Promise<T>): Promise<T> {
	try {
		return await f();
	} catch (e) {
		if (e instanceof Refused) throw e;
		throw new StepFailed(stage, e);
	}
}

/** One record: parsed, then registered or refused; any other failure is logged and thrown as Logged. */
async function handleRecord(d: Wired, record: SqsRecord, recordLog: Logger): Promise<RecordOutcome> {
	const parsed = parseRegistrationMessage(record.body);
	if (!parsed.ok) {
		// evidence of a bug upstream: kept (retried, then in the DLQ), never dropped
		recordLog.error('register_worker.poison', { errors: parsed.errors, bytes: record.body.length, willRetry: true });
		throw new Logged();
	}
	const m = parsed.value;
	const log = recordLog.child({ thing: m.thing, apiRequestId: m.apiRequestId, certificateId: m.certificateId });
	try {
		await register(d, m, log);
		return 'registered';
	} catch (e) {
		if (e instanceof StepFailed) {
			log.error('register_worker.failed', { stage: e.stage, ...errorFields(e.cause), willRetry: true });
			throw new Logged();
		}
		if (!(e instanceof Refused)) throw e;
		log.warn('register_worker.refused', { reason: e.code, message: e.message });
		countMetric(log, 'registration', 'RegistrationsRefused');
		try {
			await step('record_refusal', () => recordRefusal(d, m, e));
		} catch (f) {
			const sf = f as StepFailed;
			log.error('register_worker.failed', { stage: sf.stage, ...errorFields(sf.cause), willRetry: true });
			throw new Logged();
		}
		return 'refused';
	}
}

/** Steps 1 to 5 of the header; throws Refused or StepFailed. */
async function register(d: Wired, m: RegistrationMessage, log: Logger): Promise<void> {
	const { registry, policyName } = d;
	const caPem = await step('ca', () => issuerPem(d, m));
	const cert = await step('register_certificate', async () => {
		try {
			return await registry.registerCertificate(m.certificatePem, caPem);
		} catch (e) {
			if (e instanceof CertificateRejected) throw new Refused('untrusted_certificate', 'IoT refused the certificate: ' + e.message);
			throw e;
		}
	});
	if (cert.status !== 'ACTIVE') throw new Refused('certificate_revoked', 'the certificate is ' + cert.status + ' in IoT; it is not activated again by registration');
	const { thingArn } = await step('create_thing', () => registry.createThing(m.thing));
	await step('attach_policy', () => registry.attachPolicy(policyName, cert.certificateArn));
	await step('attach_thing_principal', () => registry.attachThingPrincipal(m.thing, cert.certificateArn));
	const createdShadows = await step('shadows', () => initialShadows(d, m));
	await step('record', () => recordRegistered(d, m, cert, thingArn));
	log.info('register_worker.registered', { certificateArn: cert.certificateArn, certificateCreated: cert.created, thingArn, createdShadows, queuedMs: d.now() - m.acceptedAt });
	countMetric(log, 'registration', 'RegistrationsRegistered');
}

/** Marks the robot registered (clearing an earlier refusal). */
async function recordRegistered(d: Wired, m: RegistrationMessage, cert: { certificateId: string; certificateArn: string }, thingArn: string): Promise<void> {
	await d.ddb.send(
		new UpdateCommand({
			TableName: d.table,
			Key: { [TABLES.robots.partitionKey.name]: m.thing },
			UpdateExpression: 'SET #status = :registered, #cert = :cert, #certArn = :certArn, #thingArn = :thingArn, #at = :at, #api = :api REMOVE #refusedCode, #refusedReason',
			ExpressionAttributeNames: {
				'#status': 'status',
				'#cert': 'certificateId',
				'#certArn': 'certificateArn',
				'#thingArn': 'thingArn',
				'#at': 'registeredAt',
				'#api': 'registeredBy',
				'#refusedCode': 'refusedCode',
				'#refusedReason': 'refusedReason',
			},
			ExpressionAttributeValues: {
				':registered': 'registered',
				':cert': cert.certificateId,
				':certArn': cert.certificateArn,
				':thingArn': thingArn,
				':at': d.now(),
				':api': m.apiRequestId,
			},
		}),
	);
}

/** The PEM of the registered, ACTIVE CA that issued the certificate. */
async function issuerPem(d: Wired, m: RegistrationMessage): Promise<string> {
	const cert = new X509Certificate(m.certificatePem);
	for (const id of d.caCertificateIds) {
		const ca = await d.registry.describeCaCertificate(id);
		if (!ca || ca.status !== 'ACTIVE') continue;
		const x = new X509Certificate(ca.pem);
		if (cert.checkIssued(x) && cert.verify(x.publicKey)) return ca.pem;
	}
	throw new Refused('untrusted_certificate', 'no ACTIVE registered CA issued the certificate');
}

/** Creates each initial shadow that does not exist; never overwrites one (a robot registering again keeps its state). */
async function initialShadows(d: Wired, m: RegistrationMessage): Promise<string[]> {
	const created: string[] = [];
	for (const name of INITIAL_SHADOWS) {
		const shadow = name ? { shadowName: name } : {};
		try {
			await d.iotData.send(new GetThingShadowCommand({ thingName: m.thing, ...shadow }));
			continue;
		} catch (e) {
			if ((e as Error)?.name !== 'ResourceNotFoundException') throw e;
		}
		const doc = { state: { reported: { registration: { certificateId: m.certificateId, registeredAt: d.now() } } } };
		await d.iotData.send(new UpdateThingShadowCommand({ thingName: m.thing, ...shadow, payload: new TextEncoder().encode(JSON.stringify(doc)) }));
		created.push(name || 'classic');
	}
	return created;
}

/** Records why, unless the robot is registered with another certificate (that registration stands). */
async function recordRefusal(d: Wired, m: RegistrationMessage, r: Refused): Promise<void> {
	try {
		await d.ddb.send(
			new UpdateCommand({
				TableName: d.table,
				Key: { [TABLES.robots.partitionKey.name]: m.thing },
				UpdateExpression: 'SET #status = :refused, #cert = :cert, #code = :code, #reason = :reason, #at = :at',
				ConditionExpression: 'attribute_not_exists(#status) OR #status <> :registered OR #cert = :cert',
				ExpressionAttributeNames: { '#status': 'status', '#cert': 'certificateId', '#code': 'refusedCode', '#reason': 'refusedReason', '#at': 'refusedAt' },
				ExpressionAttributeValues: { ':refused': 'refused', ':registered': 'registered', ':cert': m.certificateId, ':code': r.code, ':reason': r.message, ':at': d.now() },
			}),
		);
	} catch (e) {
		if ((e as Error)?.name !== 'ConditionalCheckFailedException') throw e;
	}
}

/**
 * The Lambda entry's wiring: CA_CERTIFICATE_IDS, ROBOTS_TABLE, ROBOT_POLICY_NAME,
 * IOT_DATA_ENDPOINT (https://<prefix>-ats.iot.<region>.amazonaws.com).
 */
export function fromEnv(env: Env): RegisterWorkerHandler {
	const ids = caCertificateIdsFromEnv(env);
	const table = tableFromEnv(env, 'robots');
	const policyName = requireEnv(env, 'ROBOT_POLICY_NAME', 'the robots IoT policy');
	const dataEndpoint = requireEnv(env, 'IOT_DATA_ENDPOINT', 'https://<prefix>-ats.iot.<region>.amazonaws.com');
	return createRegisterWorkerHandler({
		registry: awsIotRegistry(new IoTClient(clientConfig({}))),
		caCertificateIds: ids,
		iotData: new IoTDataPlaneClient(clientConfig({ endpoint: dataEndpoint })),
		ddb: createDocumentClient(),
		table,
		policyName,
		logger: functionLogger(env, 'register-worker'),
	});
}

/** The Lambda entry (SAM `Handler: handler.handler`). */
export const handler: RegisterWorkerHandler = lambdaEntry(fromEnv);
