/*
 * Robot registration on the local cloud, wired as the SAM template wires it on AWS:
 *   API Gateway (HTTP API) POST /register   an HTTPS server with the dev PKI's server
 *                                           certificate, turning requests into payload-2.0
 *                                           events for RegisterValidateFunction
 *   SQS registration queue + DLQ            the local queue, RedrivePolicy maxReceiveCount
 *   SQS event source mapping                polls the queue for RegisterWorkerFunction
 *   IoT registry                            in process (iot-registry.ts), the dev CA
 *                                           registered as the product's CA
 * The handlers get the same kinds of clients as on AWS, pointed at the local services.
 */
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { SQSClient } from '@aws-sdk/client-sqs';
import { MAX_REQUEST_BYTES, REGISTRATION_PATH } from '../../firmware/core/registration/contract';
import { createRegisterValidateHandler, FUNCTION_NAME as VALIDATE_FUNCTION, type HttpApiEvent } from '../functions/register-validate/handler';
import { createRegisterWorkerHandler, FUNCTION_NAME as WORKER_FUNCTION, MAX_RECEIVE_COUNT } from '../functions/register-worker/handler';
import { clientConfig, createDocumentClient, type AwsCredentials } from '../lib/aws';
import { createLogger } from '../lib/logger';
import type { LocalCertificates } from './certificates';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './credentials';
import { HttpError, readBody } from './http';
import { createLocalIotRegistry, type LocalIotRegistry } from './iot-registry';
import type { LogFn } from './log';
import { startSqsEventSource } from './queue/event-source';
import { queueArn } from './queue/model';
import type { QueueService } from './queue/server';

export const REGISTRATION_QUEUE = 'registration';
export const REGISTRATION_DLQ = 'registration-dlq';
/** The robots' IoT policy (the template's RobotPolicy). */
export const ROBOT_POLICY_NAME = 'robot-policy';

export interface LocalRegistrationOptions {
	readonly host: string;
	readonly log: LogFn;
	readonly queue: QueueService;
	/** The shadow data plane (the worker creates the initial shadows there). */
	readonly iotDataEndpoint: string;
	readonly dynamodbEndpoint: string;
	readonly robotsTable: string;
	/** The product CA (PEM), registered as the one CA robots may register under. */
	readonly caPem: string;
	/** The HTTPS server's certificate and key (PEM). */
	readonly serverCertPem: string;
	readonly serverKeyPem: string;
	readonly certificates: LocalCertificates;
	/** The IoT registry the broker admits connections by (default: a new one). */
	readonly registry?: LocalIotRegistry;
	/** Seconds a delivered request stays invisible (SQS VisibilityTimeout); default 30, tests make it 1. */
	readonly visibilityTimeoutS?: number;
	readonly maxReceiveCount?: number;
	readonly credentials?: AwsCredentials;
}

export interface LocalRegistration {
	/** `https://host:port/register`: what a robot POSTs to. */
	readonly url: string;
	readonly registry: LocalIotRegistry;
	readonly caCertificateId: string;
	readonly queueUrl: string;
	readonly dlqUrl: string;
	readonly dlqArn: string;
	readonly queueArn: string;
	/** Resolves when the worker is not handling a batch. */
	idle(): Promise<void>;
	close(): Promise<void>;
}

export async function startLocalRegistration(o: LocalRegistrationOptions): Promise<LocalRegistration> {
	const credentials = o.credentials ?? LOCAL_CREDENTIALS;
	const aws = (endpoint: string) => clientConfig({ region: LOCAL_REGION, endpoint, credentials });
	const registry = o.registry ?? createLocalIotRegistry({ certificates: o.certificates });
	const caCertificateId = registry.registerCa(o.caPem);

	const dlqUrl = o.queue.createQueue(REGISTRATION_DLQ, { MessageRetentionPeriod: '1209600' });
	const dlqArn = queueArn(REGISTRATION_DLQ);
	const visibility = o.visibilityTimeoutS ?? 30;
	const queueUrl = o.queue.createQueue(REGISTRATION_QUEUE, {
		VisibilityTimeout: String(visibility),
		RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: o.maxReceiveCount ?? MAX_RECEIVE_COUNT }),
	});

	const sqs = new SQSClient(aws(o.queue.endpoint));
	const ddb = createDocumentClient({ region: LOCAL_REGION, endpoint: o.dynamodbEndpoint, credentials });
	const iotData = new IoTDataPlaneClient(aws(o.iotDataEndpoint));

	const validate = createRegisterValidateHandler({
		registry,
		caCertificateIds: [caCertificateId],
		sqs,
		queueUrl,
		ddb,
		table: o.robotsTable,
		logger: createLogger({ sink: o.log, level: 'debug', keys: { service: 'register-validate' } }),
	});
	const worker = createRegisterWorkerHandler({
		registry,
		caCertificateIds: [caCertificateId],
		iotData,
		ddb,
		table: o.robotsTable,
		policyName: ROBOT_POLICY_NAME,
		logger: createLogger({ sink: o.log, level: 'debug', keys: { service: 'register-worker' } }),
	});
	const source = startSqsEventSource({ sqs, queueUrl, queueArn: queueArn(REGISTRATION_QUEUE), functionName: WORKER_FUNCTION, handler: worker, batchSize: 5, log: o.log });

	// the API Gateway stand-in: one route, payload format 2.0, the handler's answer as is. It sends its
	// chain (leaf, then the CA) as API Gateway does: the Moddable TLS client checks the server name
	// against the SAN only of a certificate whose issuer came in the chain (ssl_cert.js verify)
	const server = https.createServer({ cert: o.serverCertPem.trim() + '\n' + o.caPem.trim() + '\n', key: o.serverKeyPem }, (req, res) => {
		api(req, res).catch((e: unknown) => {
			const err = e instanceof HttpError ? e : new HttpError(500, 'InternalServerError', String(e));
			if (!(e instanceof HttpError)) o.log({ level: 'error', event: 'registration_api.error', error: String(e) });
			if (res.headersSent) return void res.destroy();
			res.writeHead(err.status, { 'content-type': 'application/json' });
			res.end(JSON.stringify({ message: err.message }));
		});
	});
	async function api(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		const url = new URL(req.url ?? '/', 'https://local');
		if (url.pathname !== REGISTRATION_PATH || req.method !== 'POST') throw new HttpError(404, 'NotFound', 'Not Found');
		// API Gateway itself takes up to 10 MB; the function refuses what is over its own limit
		const body = await readBody(req, 4 * MAX_REQUEST_BYTES);
		const requestId = randomUUID();
		const event: HttpApiEvent = {
			body: body.toString('utf8'),
			isBase64Encoded: false,
			headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v])),
			requestContext: { requestId, http: { method: req.method ?? 'POST', sourceIp: req.socket.remoteAddress ?? '' } },
		};
		const out = await validate(event, { awsRequestId: randomUUID(), functionName: VALIDATE_FUNCTION });
		res.writeHead(out.statusCode, { ...out.headers, 'apigw-requestid': requestId, 'content-length': Buffer.byteLength(out.body) });
		res.end(out.body);
	}
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, o.host, () => resolve());
	});
	const port = (server.address() as AddressInfo).port;
	const url = 'https://' + o.host + ':' + port + REGISTRATION_PATH;
	o.log({ level: 'info', event: 'registration.started', url, queueUrl, dlqUrl, caCertificateId });

	return {
		url,
		registry,
		caCertificateId,
		queueUrl,
		dlqUrl,
		dlqArn,
		queueArn: queueArn(REGISTRATION_QUEUE),
		idle: () => source.idle(),
		async close() {
			await new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			});
			await source.close();
			sqs.destroy();
			ddb.destroy();
			iotData.destroy();
		},
	};
}
