/*
 * The local stand-in for a Lambda SQS event source mapping: polls a queue with the SQS API
 * (long polls through an ordinary SQSClient, as Lambda's pollers do), invokes the handler
 * with a batch of records in the Lambda SQS event shape, and deletes the records that did
 * not fail (ReportBatchItemFailures: the handler answers `batchItemFailures`; a handler that
 * throws fails the whole batch). A failed record is left alone: it becomes visible again
 * after the queue's visibility timeout, and past the queue's maxReceiveCount the queue
 * moves it to its dead-letter queue, as on AWS.
 */
import { randomUUID } from 'node:crypto';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { InvocationContext } from '../../lib/logger';
import { LOCAL_REGION } from '../credentials';
import type { LogFn } from '../log';

export interface SqsEventRecord {
	readonly messageId: string;
	readonly receiptHandle: string;
	readonly body: string;
	readonly attributes: Record<string, string>;
	readonly messageAttributes: Record<string, { stringValue?: string; dataType: string }>;
	readonly md5OfBody: string;
	readonly eventSource: 'aws:sqs';
	readonly eventSourceARN: string;
	readonly awsRegion: string;
}

export type SqsBatchHandler = (event: { Records: SqsEventRecord[] }, context: InvocationContext) => Promise<{ batchItemFailures?: { itemIdentifier: string }[] } | void>;

export interface EventSourceOptions {
	readonly sqs: SQSClient;
	readonly queueUrl: string;
	readonly queueArn: string;
	readonly functionName: string;
	readonly handler: SqsBatchHandler;
	readonly batchSize?: number;
	readonly log: LogFn;
}

export interface EventSource {
	/** Resolves when no batch is being handled (the queue may still hold messages). */
	idle(): Promise<void>;
	close(): Promise<void>;
}

function record(m: Message, arn: string): SqsEventRecord {
	return {
		messageId: m.MessageId ?? '',
		receiptHandle: m.ReceiptHandle ?? '',
		body: m.Body ?? '',
		attributes: { ...(m.Attributes as Record<string, string> | undefined) },
		messageAttributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, { dataType: v.DataType ?? 'String', ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}) }])),
		md5OfBody: m.MD5OfBody ?? '',
		eventSource: 'aws:sqs',
		eventSourceARN: arn,
		awsRegion: LOCAL_REGION,
	};
}

export function startSqsEventSource(o: EventSourceOptions): EventSource {
	const abort = new AbortController();
	let busy: Promise<void> | undefined;
	let stopped = false;

	async function loop(): Promise<void> {
		while (!stopped) {
			let messages: Message[];
			try {
				const out = await o.sqs.send(
					new ReceiveMessageCommand({
						QueueUrl: o.queueUrl,
						MaxNumberOfMessages: o.batchSize ?? 10,
						WaitTimeSeconds: 1,
						MessageSystemAttributeNames: ['All'],
						MessageAttributeNames: ['All'],
					}),
					{ abortSignal: abort.signal },
				);
				messages = out.Messages ?? [];
			} catch (e) {
				if (stopped) return;
				o.log({ level: 'warn', event: 'event_source.receive_failed', functionName: o.functionName, error: String(e) });
				await new Promise((r) => setTimeout(r, 200));
				continue;
			}
			if (messages.length === 0) continue;
			const run = invoke(messages);
			busy = run;
			await run;
			busy = undefined;
		}
	}

	async function invoke(messages: Message[]): Promise<void> {
		const records = messages.map((m) => record(m, o.queueArn));
		let failed: Set<string>;
		try {
			const out = await o.handler({ Records: records }, { awsRequestId: randomUUID(), functionName: o.functionName });
			failed = new Set((out?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
		} catch (e) {
			o.log({ level: 'error', event: 'event_source.invocation_failed', functionName: o.functionName, records: records.length, error: String(e) });
			return;
		}
		const done = records.filter((r) => !failed.has(r.messageId));
		if (done.length === 0) return;
		try {
			await o.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: o.queueUrl, Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })) }));
		} catch (e) {
			if (!stopped) o.log({ level: 'error', event: 'event_source.delete_failed', functionName: o.functionName, error: String(e) });
		}
	}

	const running = loop();
	return {
		async idle() {
			while (busy) await busy;
		},
		async close() {
			stopped = true;
			await busy;
			abort.abort();
			await running.catch(() => undefined);
		},
	};
}
