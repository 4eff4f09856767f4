/*
 * Standard SQS queues in memory: visibility timeouts, receive counts, delays and
 * dead-letter queues (RedrivePolicy), plus the move back out of a DLQ
 * (StartMessageMoveTask). Time comes in as an argument; nothing here waits.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../credentials';

export const MAX_VISIBILITY_SECONDS = 43_200;
export const MAX_DELAY_SECONDS = 900;
export const MAX_MESSAGE_BYTES = 262_144;
export const MAX_RECEIVE_COUNT = 1000;
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

export class QueueError extends Error {
	constructor(
		readonly type: string,
		message: string,
	) {
		super(message);
	}
}

export interface MessageAttributeValue {
	readonly DataType: string;
	readonly StringValue?: string;
	/** base64, as the JSON protocol carries blobs. */
	readonly BinaryValue?: string;
}
export type MessageAttributes = Readonly<Record<string, MessageAttributeValue>>;

interface Message {
	readonly id: string;
	readonly body: string;
	readonly attributes: MessageAttributes;
	readonly sentAt: number;
	/** The queue it was first sent to, for a redrive out of a DLQ. */
	readonly originArn: string;
	receiveCount: number;
	firstReceiveAt?: number;
	visibleAt: number;
	/** The latest receipt handle; undefined until received. */
	receipt?: string;
}

export interface RedrivePolicy {
	readonly deadLetterTargetArn: string;
	readonly maxReceiveCount: number;
}

interface Queue {
	readonly name: string;
	readonly arn: string;
	readonly created: number;
	visibilityTimeout: number;
	delaySeconds: number;
	receiveWaitSeconds: number;
	redrive?: RedrivePolicy;
	messages: Message[];
}

export interface Received {
	readonly MessageId: string;
	readonly ReceiptHandle: string;
	readonly MD5OfBody: string;
	readonly Body: string;
	readonly Attributes?: Record<string, string>;
	readonly MessageAttributes?: MessageAttributes;
	readonly MD5OfMessageAttributes?: string;
}

export const queueArn = (name: string) => 'arn:aws:sqs:' + LOCAL_REGION + ':' + LOCAL_ACCOUNT + ':' + name;
const md5 = (data: string | Uint8Array) => createHash('md5').update(data).digest('hex');

/** MD5 over the attributes as SQS defines it: sorted names, length-prefixed fields, 1 = string, 2 = binary. */
export function md5OfMessageAttributes(attributes: MessageAttributes): string {
	const hash = createHash('md5');
	const field = (b: Buffer) => {
		const n = Buffer.alloc(4);
		n.writeUInt32BE(b.length);
		hash.update(n).update(b);
	};
	for (const name of Object.keys(attributes).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
		const v = attributes[name]!;
		field(Buffer.from(name, 'utf8'));
		field(Buffer.from(v.DataType, 'utf8'));
		const binary = v.DataType.startsWith('Binary');
		hash.update(Buffer.from([binary ? 2 : 1]));
		field(binary ? Buffer.from(v.BinaryValue ?? '', 'base64') : Buffer.from(v.StringValue ?? '', 'utf8'));
	}
	return hash.digest('hex');
}

function intAttribute(name: string, value: string, max: number): number {
	const n = Number(value);
	if (!/^\d+$/.test(value) || n > max) throw new QueueError('InvalidAttributeValue', 'Invalid value for the parameter ' + name + ': ' + value);
	return n;
}

function parseRedrive(value: string): RedrivePolicy | undefined {
	if (value === '') return undefined;
	let p: { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
	try {
		p = JSON.parse(value) as typeof p;
	} catch {
		throw new QueueError('InvalidAttributeValue', 'RedrivePolicy must be JSON');
	}
	const max = Number(p.maxReceiveCount);
	if (typeof p.deadLetterTargetArn !== 'string' || !Number.isInteger(max) || max < 1 || max > MAX_RECEIVE_COUNT) {
		throw new QueueError('InvalidAttributeValue', 'RedrivePolicy needs deadLetterTargetArn and maxReceiveCount 1..' + MAX_RECEIVE_COUNT);
	}
	return { deadLetterTargetArn: p.deadLetterTargetArn, maxReceiveCount: max };
}

export interface MoveTask {
	readonly TaskHandle: string;
	readonly Status: 'COMPLETED';
	readonly SourceArn: string;
	readonly DestinationArn?: string;
	readonly ApproximateNumberOfMessagesMoved: number;
	readonly ApproximateNumberOfMessagesToMove: number;
	readonly StartedTimestamp: number;
}

/** Sets a queue's attributes; an unknown name or a bad value is a QueueError, as SQS answers. */
function setAttributes(q: Queue, attributes: Readonly<Record<string, string>>): void {
	for (const [name, value] of Object.entries(attributes)) {
		switch (name) {
			case 'VisibilityTimeout':
				q.visibilityTimeout = intAttribute(name, value, MAX_VISIBILITY_SECONDS);
				break;
			case 'DelaySeconds':
				q.delaySeconds = intAttribute(name, value, MAX_DELAY_SECONDS);
				break;
			case 'ReceiveMessageWaitTimeSeconds':
				q.receiveWaitSeconds = intAttribute(name, value, 20);
				break;
			case 'RedrivePolicy':
				q.redrive = parseRedrive(value);
				break;
			case 'MessageRetentionPeriod':
			case 'MaximumMessageSize':
			case 'Policy':
			case 'SqsManagedSseEnabled':
				break; // accepted, not enforced locally
			default:
				throw new QueueError('InvalidAttributeName', 'Unknown or unsupported attribute ' + name);
		}
	}
}

/** GetQueueAttributes' answer at `now`. */
function attributesOf(q: Queue, now: number): Record<string, string> {
	const inFlight = q.messages.filter((m) => m.visibleAt > now && m.receipt !== undefined).length;
	const delayed = q.messages.filter((m) => m.visibleAt > now && m.receipt === undefined).length;
	const out: Record<string, string> = {
		QueueArn: q.arn,
		ApproximateNumberOfMessages: String(q.messages.length - inFlight - delayed),
		ApproximateNumberOfMessagesNotVisible: String(inFlight),
		ApproximateNumberOfMessagesDelayed: String(delayed),
		VisibilityTimeout: String(q.visibilityTimeout),
		DelaySeconds: String(q.delaySeconds),
		ReceiveMessageWaitTimeSeconds: String(q.receiveWaitSeconds),
		MaximumMessageSize: String(MAX_MESSAGE_BYTES),
		MessageRetentionPeriod: '345600',
		CreatedTimestamp: String(Math.floor(q.created / 1000)),
		LastModifiedTimestamp: String(Math.floor(q.created / 1000)),
	};
	if (q.redrive) out.RedrivePolicy = JSON.stringify(q.redrive);
	return out;
}

/** Whether `name` is among the attribute names a ReceiveMessage asked for. */
function asked(names: readonly string[], name: string): boolean {
	return names.some((n) => n === 'All' || n === '.*' || n === name || (n.endsWith('.*') && name.startsWith(n.slice(0, -1))));
}

/** Receives `m`: in flight for `visibility` s under a new receipt handle, with the attributes asked for. */
function receiveOne(m: Message, visibility: number, o: { systemAttributes: readonly string[]; messageAttributes: readonly string[] }, now: number): Received {
	m.receiveCount += 1;
	m.firstReceiveAt ??= now;
	m.visibleAt = now + visibility * 1000;
	m.receipt = randomBytes(24).toString('base64url') + '.' + m.id;
	const system: Record<string, string> = {
		SenderId: LOCAL_ACCOUNT,
		SentTimestamp: String(m.sentAt),
		ApproximateReceiveCount: String(m.receiveCount),
		ApproximateFirstReceiveTimestamp: String(m.firstReceiveAt),
	};
	const attributes = Object.fromEntries(Object.entries(system).filter(([k]) => asked(o.systemAttributes, k)));
	const messageAttributes = Object.fromEntries(Object.entries(m.attributes).filter(([k]) => asked(o.messageAttributes, k)));
	const some = Object.keys(messageAttributes).length > 0;
	return {
		MessageId: m.id,
		ReceiptHandle: m.receipt,
		MD5OfBody: md5(m.body),
		Body: m.body,
		...(Object.keys(attributes).length > 0 ? { Attributes: attributes } : {}),
		...(some ? { MessageAttributes: messageAttributes, MD5OfMessageAttributes: md5OfMessageAttributes(messageAttributes) } : {}),
	};
}

/** The delay a SendMessage of `body` gets, or the QueueError SQS answers it with. */
function sendDelay(q: Queue, body: string, delaySeconds: number | undefined): number {
	if (body.length === 0) throw new QueueError('InvalidParameterValue', 'The message body must be at least 1 character');
	// valid characters per the SQS API: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF
	if (/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u.test(body)) throw new QueueError('InvalidMessageContents', 'Invalid characters found in the message body');
	if (Buffer.byteLength(body) > MAX_MESSAGE_BYTES) throw new QueueError('InvalidParameterValue', 'The message is longer than ' + MAX_MESSAGE_BYTES + ' bytes');
	const delay = delaySeconds ?? q.delaySeconds;
	if (!Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_SECONDS) throw new QueueError('InvalidParameterValue', 'DelaySeconds must be 0..' + MAX_DELAY_SECONDS);
	return delay;
}

/** Moves each message of `dlq` to its target with its receive count reset; returns how many moved. */
function moveBack(dlq: Queue, targetOf: (m: Message) => Queue | undefined, now: number): number {
	let moved = 0;
	const kept: Message[] = [];
	for (const m of dlq.messages) {
		const target = targetOf(m);
		if (!target || target === dlq) {
			kept.push(m);
			continue;
		}
		m.receiveCount = 0;
		m.receipt = undefined;
		m.visibleAt = now;
		target.messages.push(m);
		moved += 1;
	}
	dlq.messages = kept;
	return moved;
}

export function createQueues() {
	const queues = new Map<string, Queue>();
	const tasks: MoveTask[] = [];

	const get = (name: string): Queue => {
		const q = queues.get(name);
		if (!q) throw new QueueError('QueueDoesNotExist', 'The specified queue does not exist.');
		return q;
	};
	const byArn = (arn: string) => [...queues.values()].find((q) => q.arn === arn);

	/** A message past maxReceiveCount goes to the DLQ as soon as it is visible again. */
	function settle(now: number): void {
		for (const q of queues.values()) {
			const dlq = q.redrive && byArn(q.redrive.deadLetterTargetArn);
			if (!q.redrive || !dlq) continue;
			const max = q.redrive.maxReceiveCount;
			const dead = q.messages.filter((m) => m.visibleAt <= now && m.receiveCount >= max);
			if (dead.length === 0) continue;
			q.messages = q.messages.filter((m) => !dead.includes(m));
			for (const m of dead) {
				m.receipt = undefined;
				dlq.messages.push(m);
			}
		}
	}

	function find(q: Queue, receipt: string): Message | undefined {
		if (!/^[A-Za-z0-9_-]+\.[0-9a-f-]{36}$/.test(receipt)) throw new QueueError('ReceiptHandleIsInvalid', 'The input receipt handle "' + receipt + '" is not a valid receipt handle.');
		return q.messages.find((m) => m.receipt === receipt);
	}

	return {
		create(name: string, attributes: Readonly<Record<string, string>>, now: number): string {
			if (!QUEUE_NAME.test(name)) throw new QueueError('InvalidParameterValue', 'Queue names are 1-80 letters, digits, - or _ (no FIFO queues locally)');
			const existing = queues.get(name);
			const q: Queue = existing ?? { name, arn: queueArn(name), created: now, visibilityTimeout: 30, delaySeconds: 0, receiveWaitSeconds: 0, messages: [] };
			if (existing) {
				const probe = { ...existing, messages: [] };
				setAttributes(probe, attributes);
				const same = probe.visibilityTimeout === existing.visibilityTimeout && probe.delaySeconds === existing.delaySeconds && JSON.stringify(probe.redrive) === JSON.stringify(existing.redrive);
				if (!same) throw new QueueError('QueueNameExists', 'A queue already exists with the same name and a different value for attribute(s)');
				return name;
			}
			setAttributes(q, attributes);
			queues.set(name, q);
			return name;
		},
		exists: (name: string) => queues.has(name),
		remove(name: string): void {
			get(name);
			queues.delete(name);
		},
		list: (prefix = '') => [...queues.keys()].filter((n) => n.startsWith(prefix)).sort(),
		purge(name: string): void {
			get(name).messages = [];
		},
		setAttributes: (name: string, attributes: Readonly<Record<string, string>>) => setAttributes(get(name), attributes),
		attributes(name: string, now: number): Record<string, string> {
			settle(now);
			return attributesOf(get(name), now);
		},
		/** Wait time a receive without WaitTimeSeconds uses. */
		waitSeconds: (name: string) => get(name).receiveWaitSeconds,
		send(name: string, body: string, delaySeconds: number | undefined, attributes: MessageAttributes, now: number) {
			const q = get(name);
			const delay = sendDelay(q, body, delaySeconds);
			const m: Message = { id: randomUUID(), body, attributes, sentAt: now, originArn: q.arn, receiveCount: 0, visibleAt: now + delay * 1000 };
			q.messages.push(m);
			const hasAttributes = Object.keys(attributes).length > 0;
			return { MessageId: m.id, MD5OfMessageBody: md5(body), ...(hasAttributes ? { MD5OfMessageAttributes: md5OfMessageAttributes(attributes) } : {}) };
		},
		receive(name: string, o: { max: number; visibilityTimeout?: number; systemAttributes: readonly string[]; messageAttributes: readonly string[] }, now: number): Received[] {
			settle(now);
			const q = get(name);
			const visibility = o.visibilityTimeout ?? q.visibilityTimeout;
			if (!Number.isInteger(visibility) || visibility < 0 || visibility > MAX_VISIBILITY_SECONDS) {
				throw new QueueError('InvalidParameterValue', 'VisibilityTimeout must be 0..' + MAX_VISIBILITY_SECONDS);
			}
			const out: Received[] = [];
			for (const m of q.messages) {
				if (out.length >= o.max) break;
				if (m.visibleAt > now) continue;
				out.push(receiveOne(m, visibility, o, now));
			}
			return out;
		},
		/** Deleting with a stale receipt handle succeeds and deletes nothing, as on SQS. */
		delete(name: string, receipt: string): void {
			const q = get(name);
			const m = find(q, receipt);
			if (m) q.messages = q.messages.filter((x) => x !== m);
		},
		changeVisibility(name: string, receipt: string, seconds: number, now: number): void {
			const q = get(name);
			if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_VISIBILITY_SECONDS) {
				throw new QueueError('InvalidParameterValue', 'VisibilityTimeout must be 0..' + MAX_VISIBILITY_SECONDS);
			}
			const m = find(q, receipt);
			if (!m || m.visibleAt <= now) throw new QueueError('MessageNotInflight', 'The message referred to is not in flight.');
			m.visibleAt = now + seconds * 1000;
		},
		/**
		 * Moves every message of a dead-letter queue back, to `destinationArn` or each to
		 * the queue it came from, with its receive count reset. Done at once: the task is
		 * COMPLETED when this returns.
		 */
		startMove(sourceArn: string, destinationArn: string | undefined, now: number): MoveTask {
			settle(now);
			const dlq = byArn(sourceArn);
			if (!dlq) throw new QueueError('ResourceNotFoundException', 'The source queue ' + sourceArn + ' does not exist');
			if (![...queues.values()].some((q) => q.redrive?.deadLetterTargetArn === sourceArn)) {
				throw new QueueError('InvalidParameterValue', 'Source queue must be configured as a Dead Letter Queue.');
			}
			const destination = destinationArn === undefined ? undefined : byArn(destinationArn);
			if (destinationArn !== undefined && !destination) throw new QueueError('ResourceNotFoundException', 'The destination queue ' + destinationArn + ' does not exist');
			const toMove = dlq.messages.length;
			const moved = moveBack(dlq, (m) => destination ?? byArn(m.originArn), now);
			const task: MoveTask = {
				TaskHandle: Buffer.from(JSON.stringify({ id: randomUUID(), sourceArn })).toString('base64'),
				Status: 'COMPLETED',
				SourceArn: sourceArn,
				...(destinationArn !== undefined ? { DestinationArn: destinationArn } : {}),
				ApproximateNumberOfMessagesMoved: moved,
				ApproximateNumberOfMessagesToMove: toMove,
				StartedTimestamp: now,
			};
			tasks.push(task);
			return task;
		},
		moveTasks: (sourceArn: string) => tasks.filter((t) => t.SourceArn === sourceArn).reverse(),
	};
}

export type Queues = ReturnType<typeof createQueues>;
