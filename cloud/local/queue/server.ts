/*
 * A local SQS speaking the JSON 1.0 protocol that `@aws-sdk/client-sqs` v3 uses
 * (POST, X-Amz-Target: AmazonSQS.<Op>, application/x-amz-json-1.0), with long
 * polling. Queue URLs are `<endpoint>/000000000000/<name>`. Standard queues only.
 * Operations: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, PurgeQueue,
 * GetQueueAttributes, SetQueueAttributes, SendMessage, SendMessageBatch,
 * ReceiveMessage, DeleteMessage, DeleteMessageBatch, ChangeMessageVisibility,
 * StartMessageMoveTask, ListMessageMoveTasks.
 */
import type http from 'node:http';
import { LOCAL_ACCOUNT } from '../credentials';
import { HttpError, listen, sendJson } from '../http';
import { silentLog, type LogFn } from '../log';
import { jsonProtocolInput, sendJsonProtocolError, signedJsonBody } from '../json-protocol';
import { createQueues, QueueError, type MessageAttributes } from './model';

const TARGET_PREFIX = 'AmazonSQS.';
const CONTENT_TYPE = 'application/x-amz-json-1.0';
/** A batch is at most 10 entries of at most 256 KiB: 4 MiB is ample for one request. */
const MAX_BODY = 4 * 1024 * 1024;
const MAX_WAIT_SECONDS = 20;
const MAX_BATCH = 10;
/** Long polls look again this often, so a message whose visibility timeout ends is seen too. */
const POLL_MS = 50;
/** The awsQueryCompatible error codes the SDK maps from x-amzn-query-error. */
const QUERY_CODES: Record<string, string> = {
	QueueDoesNotExist: 'AWS.SimpleQueueService.NonExistentQueue;Sender',
	QueueNameExists: 'QueueAlreadyExists;Sender',
	ReceiptHandleIsInvalid: 'ReceiptHandleIsInvalid;Sender',
	MessageNotInflight: 'AWS.SimpleQueueService.MessageNotInflight;Sender',
};

export interface QueueOptions {
	readonly log?: LogFn;
	readonly port?: number;
	readonly host?: string;
	/** Accepted for the common shape; queues live in memory only (a restart empties them). */
	readonly dataDir?: string;
	/** Milliseconds since the epoch, for visibility and delays; Date.now by default. */
	readonly now?: () => number;
}

export interface QueueService {
	/** `http://host:port`: give it to SQSClient as `endpoint`. */
	readonly endpoint: string;
	readonly port: number;
	/** Creates a queue without a round trip, for wiring at start; returns its URL. */
	createQueue(name: string, attributes?: Readonly<Record<string, string>>): string;
	queueUrl(name: string): string;
	close(): Promise<void>;
}

type Input = Record<string, unknown>;

const invalid = (message: string) => new QueueError('InvalidParameterValue', message);

function str(input: Input, name: string): string {
	const v = input[name];
	if (typeof v !== 'string') throw new QueueError('MissingParameter', 'The request must contain the parameter ' + name + '.');
	return v;
}

function optInt(input: Input, name: string, min: number, max: number): number | undefined {
	const v = input[name];
	if (v === undefined || v === null) return undefined;
	if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid('Value ' + String(v) + ' for parameter ' + name + ' is invalid. Must be ' + min + '..' + max + '.');
	return v;
}

function stringMap(input: Input, name: string): Record<string, string> {
	const v = input[name] ?? {};
	if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) throw invalid(name + ' must be a map of strings');
	return v as Record<string, string>;
}

function names(input: Input, ...keys: string[]): string[] {
	return keys.flatMap((k) => (Array.isArray(input[k]) ? (input[k] as unknown[]).filter((x): x is string => typeof x === 'string') : []));
}

function messageAttributes(input: Input): MessageAttributes {
	const v = input.MessageAttributes ?? {};
	if (typeof v !== 'object' || Array.isArray(v)) throw invalid('MessageAttributes must be a map');
	for (const [name, a] of Object.entries(v as Record<string, unknown>)) {
		const attr = a as { DataType?: unknown; StringValue?: unknown; BinaryValue?: unknown };
		if (typeof attr?.DataType !== 'string' || !/^(String|Number|Binary)(\..+)?$/.test(attr.DataType)) throw invalid('The message attribute ' + name + ' has an invalid DataType');
		if (attr.DataType.startsWith('Binary') ? typeof attr.BinaryValue !== 'string' : typeof attr.StringValue !== 'string') {
			throw invalid('The message attribute ' + name + ' must carry a value of its DataType');
		}
	}
	return v as MessageAttributes;
}

function batch(input: Input): Input[] {
	const entries = input.Entries;
	if (!Array.isArray(entries) || entries.length === 0) throw new QueueError('EmptyBatchRequest', 'There should be at least one entry in the request.');
	if (entries.length > MAX_BATCH) throw new QueueError('TooManyEntriesInBatchRequest', 'Maximum number of entries per request are ' + MAX_BATCH + '.');
	const ids = entries.map((e: Input) => e.Id);
	if (new Set(ids).size !== ids.length) throw new QueueError('BatchEntryIdsNotDistinct', 'Id values must be distinct.');
	return entries as Input[];
}

/** Runs `one` for each entry of a batch; a QueueError fails that entry alone, as on SQS. */
function perEntry(input: Input, one: (e: Input) => object): { Successful: unknown[]; Failed: unknown[] } {
	const Successful: unknown[] = [];
	const Failed: unknown[] = [];
	for (const e of batch(input)) {
		try {
			Successful.push({ Id: e.Id, ...one(e) });
		} catch (err) {
			if (!(err instanceof QueueError)) throw err;
			Failed.push({ Id: e.Id, SenderFault: true, Code: err.type, Message: err.message });
		}
	}
	return { Successful, Failed };
}

/** A request body as the operation's input: a JSON object (empty body: none). */
/** Long polls waiting on a queue: `pause` until `ms` passed or a send `wake`s the queue. */
function createWaiters(): { wake(name: string): void; pause(name: string, ms: number): Promise<void> } {
	const waiters = new Map<string, Set<() => void>>();
	return {
		wake(name) {
			for (const w of waiters.get(name) ?? []) w();
		},
		pause: (name, ms) =>
			new Promise<void>((resolve) => {
				const set = waiters.get(name) ?? new Set();
				waiters.set(name, set);
				const done = () => {
					clearTimeout(timer);
					set.delete(done);
					resolve();
				};
				const timer = setTimeout(done, ms);
				set.add(done);
			}),
	};
}

export async function startQueue(options: QueueOptions): Promise<QueueService> {
	const log = options.log ?? silentLog;
	const now = options.now ?? Date.now;
	const queues = createQueues();
	const { wake, pause } = createWaiters();
	let closed = false;
	let endpoint = '';

	const url = (name: string) => endpoint + '/' + LOCAL_ACCOUNT + '/' + name;
	/** The queue name from a QueueUrl (any host: clients may reach us by another name). */
	const nameOf = (input: Input) => {
		const name = str(input, 'QueueUrl').split('?')[0]!.split('/').filter(Boolean).pop() ?? '';
		if (!queues.exists(name)) throw new QueueError('QueueDoesNotExist', 'The specified queue does not exist.');
		return name;
	};

	const ops: Record<string, (input: Input) => Promise<unknown> | unknown> = {
		CreateQueue: (input) => {
			const name = queues.create(str(input, 'QueueName'), stringMap(input, 'Attributes'), now());
			log({ level: 'info', event: 'queue.created', name });
			return { QueueUrl: url(name) };
		},
		GetQueueUrl: (input) => {
			const name = str(input, 'QueueName');
			if (!queues.exists(name)) throw new QueueError('QueueDoesNotExist', 'The specified queue does not exist.');
			return { QueueUrl: url(name) };
		},
		ListQueues: (input) => ({ QueueUrls: queues.list(typeof input.QueueNamePrefix === 'string' ? input.QueueNamePrefix : '').map(url) }),
		DeleteQueue: (input) => (queues.remove(nameOf(input)), {}),
		PurgeQueue: (input) => (queues.purge(nameOf(input)), {}),
		GetQueueAttributes: (input) => {
			const all = queues.attributes(nameOf(input), now());
			const wanted = names(input, 'AttributeNames');
			const pick = wanted.includes('All') ? all : Object.fromEntries(Object.entries(all).filter(([k]) => wanted.includes(k)));
			return { Attributes: pick };
		},
		SetQueueAttributes: (input) => (queues.setAttributes(nameOf(input), stringMap(input, 'Attributes')), {}),
		SendMessage: (input) => {
			const name = nameOf(input);
			const out = queues.send(name, str(input, 'MessageBody'), optInt(input, 'DelaySeconds', 0, 900), messageAttributes(input), now());
			wake(name);
			return out;
		},
		SendMessageBatch: (input) => {
			const name = nameOf(input);
			const out = perEntry(input, (e) => queues.send(name, str(e, 'MessageBody'), optInt(e, 'DelaySeconds', 0, 900), messageAttributes(e), now()));
			wake(name);
			return out;
		},
		ReceiveMessage: async (input) => {
			const name = nameOf(input);
			const max = optInt(input, 'MaxNumberOfMessages', 1, 10) ?? 1;
			const wait = optInt(input, 'WaitTimeSeconds', 0, MAX_WAIT_SECONDS) ?? queues.waitSeconds(name);
			const o = {
				max,
				visibilityTimeout: optInt(input, 'VisibilityTimeout', 0, 43_200),
				systemAttributes: names(input, 'AttributeNames', 'MessageSystemAttributeNames'),
				messageAttributes: names(input, 'MessageAttributeNames'),
			};
			// the deadline runs on the real clock: an injected clock only moves message times
			const deadline = performance.now() + wait * 1000;
			for (;;) {
				const got = queues.receive(name, o, now());
				const left = deadline - performance.now();
				if (got.length > 0 || left <= 0 || closed || !queues.exists(name)) return got.length > 0 ? { Messages: got } : {};
				await pause(name, Math.min(left, POLL_MS));
			}
		},
		DeleteMessage: (input) => (queues.delete(nameOf(input), str(input, 'ReceiptHandle')), {}),
		DeleteMessageBatch: (input) => {
			const name = nameOf(input);
			return perEntry(input, (e) => (queues.delete(name, str(e, 'ReceiptHandle')), {}));
		},
		ChangeMessageVisibility: (input) => {
			const name = nameOf(input);
			const seconds = input.VisibilityTimeout;
			if (typeof seconds !== 'number') throw new QueueError('MissingParameter', 'The request must contain the parameter VisibilityTimeout.');
			queues.changeVisibility(name, str(input, 'ReceiptHandle'), seconds, now());
			// a timeout of 0 makes it visible at once
			wake(name);
			return {};
		},
		StartMessageMoveTask: (input) => {
			const destination = typeof input.DestinationArn === 'string' ? input.DestinationArn : undefined;
			const task = queues.startMove(str(input, 'SourceArn'), destination, now());
			log({ level: 'info', event: 'queue.redrive', source: task.SourceArn, moved: task.ApproximateNumberOfMessagesMoved });
			for (const name of queues.list()) wake(name);
			return { TaskHandle: task.TaskHandle };
		},
		ListMessageMoveTasks: (input) => ({ Results: queues.moveTasks(str(input, 'SourceArn')) }),
	};

	async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		if (req.method !== 'POST') throw new HttpError(400, 'UnsupportedOperation', 'SQS takes POST requests');
		const body = await signedJsonBody(req, { service: 'sqs', maxBytes: MAX_BODY, now: now(), log, logAs: 'queue' });
		const target = String(req.headers['x-amz-target'] ?? '');
		const op = target.startsWith(TARGET_PREFIX) ? ops[target.slice(TARGET_PREFIX.length)] : undefined;
		if (!op) throw new HttpError(400, 'UnsupportedOperation', 'unknown or unsupported operation ' + target);
		const input = jsonProtocolInput(body);
		try {
			sendJson(res, 200, await op(input), { 'content-type': CONTENT_TYPE });
		} catch (e) {
			if (e instanceof QueueError) throw new HttpError(400, e.type, e.message);
			throw e;
		}
	}

	const listening = await listen(handle, {
		port: options.port,
		host: options.host,
		onError: (res, e) =>
			sendJsonProtocolError(res, e, {
				contentType: CONTENT_TYPE,
				internalType: 'InternalError',
				typePrefix: 'com.amazonaws.sqs#',
				headers: (type): Record<string, string> => (QUERY_CODES[type] ? { 'x-amzn-query-error': QUERY_CODES[type] } : {}),
				log,
				logAs: 'queue',
			}),
	});
	endpoint = listening.url;
	log({ level: 'info', event: 'queue.started', endpoint });

	return {
		endpoint,
		port: listening.port,
		createQueue: (name, attributes = {}) => url(queues.create(name, attributes, now())),
		queueUrl(name) {
			if (!queues.exists(name)) throw new Error('no queue ' + name);
			return url(name);
		},
		async close() {
			closed = true;
			for (const name of queues.list()) wake(name);
			await listening.close();
		},
	};
}
