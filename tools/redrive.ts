/*
 * Moves the messages of a dead-letter queue back to the queue they came from, with SQS's
 * own DLQ redrive (StartMessageMoveTask), and waits for the move to finish. For the
 * registration queue: requests that failed past maxReceiveCount (IoT throttled, a bug since
 * fixed) land in its DLQ; once the cause is fixed, this sends them through the worker again.
 * The worker is idempotent, so a request that in fact went through is harmless to redrive.
 *
 *   npx tsx tools/redrive.ts --dlq URL|ARN [--to ARN] [--max-per-second N] [--dry-run] [where]
 *   tsx tools/redrive.ts --dlq https://sqs.eu-west-1.amazonaws.com/123456789012/robots-prod-RegistrationDlq-xyz --aws
 *
 * --dlq     the DLQ's URL or ARN (stack output RegistrationDlqUrl / RegistrationDlqArn)
 * --to      where to move them; default: each message back to its source queue
 * --dry-run show how many messages the DLQ holds and move nothing
 * where:    --endpoint URL uses the local cloud (its credentials, cloud/local/credentials.ts);
 *           --aws [--region R] [--endpoint URL] uses the default AWS credential chain.
 *
 * Prints one JSON line: { dlqArn, before, moved, status }. Exit codes: 0 done (nothing to
 * move included), 1 the service failed or the task did not complete, 2 bad arguments.
 */
import { pathToFileURL } from 'node:url';
import { GetQueueAttributesCommand, GetQueueUrlCommand, ListMessageMoveTasksCommand, SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { parseCommandLine, UsageError } from './cli';

export interface RedriveOptions {
	/** The DLQ's URL or ARN. */
	readonly dlq: string;
	readonly destinationArn?: string;
	readonly maxPerSecond?: number;
	readonly dryRun?: boolean;
	/** How long to wait for the move task, ms (default 5 minutes). */
	readonly waitMs?: number;
	readonly pollMs?: number;
}

export interface RedriveResult {
	readonly dlqArn: string;
	/** Messages in the DLQ before (visible and in flight). */
	readonly before: number;
	readonly moved: number;
	readonly status: 'NOTHING_TO_MOVE' | 'DRY_RUN' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'RUNNING' | string;
	readonly failureReason?: string;
}

const QUEUE_ARN = /^arn:aws[a-z-]*:sqs:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,80}(\.fifo)?)$/;

/** The DLQ's URL from an ARN (GetQueueUrl by name and owner) or as given. */
async function dlqUrl(sqs: SQSClient, dlq: string): Promise<string> {
	const m = QUEUE_ARN.exec(dlq);
	if (!m) {
		if (!/^https?:\/\//.test(dlq)) throw new UsageError('--dlq: expected a queue URL or ARN, got ' + JSON.stringify(dlq));
		return dlq;
	}
	return (await sqs.send(new GetQueueUrlCommand({ QueueName: m[3]!, QueueOwnerAWSAccountId: m[2]! }))).QueueUrl!;
}

export async function redrive(sqs: SQSClient, o: RedriveOptions): Promise<RedriveResult> {
	if (o.destinationArn !== undefined && !QUEUE_ARN.test(o.destinationArn)) throw new UsageError('--to: expected a queue ARN, got ' + JSON.stringify(o.destinationArn));
	if (o.maxPerSecond !== undefined && !(Number.isInteger(o.maxPerSecond) && o.maxPerSecond >= 1 && o.maxPerSecond <= 500)) throw new UsageError('--max-per-second: expected an integer 1..500, got ' + o.maxPerSecond);
	const url = await dlqUrl(sqs, o.dlq);
	const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes ?? {};
	const dlqArn = attrs.QueueArn;
	if (!dlqArn) throw new Error('GetQueueAttributes answered without QueueArn');
	const before = Number(attrs.ApproximateNumberOfMessages ?? 0) + Number(attrs.ApproximateNumberOfMessagesNotVisible ?? 0);
	if (o.dryRun) return { dlqArn, before, moved: 0, status: 'DRY_RUN' };
	if (before === 0) return { dlqArn, before, moved: 0, status: 'NOTHING_TO_MOVE' };

	const { TaskHandle } = await sqs.send(
		new StartMessageMoveTaskCommand({
			SourceArn: dlqArn,
			...(o.destinationArn ? { DestinationArn: o.destinationArn } : {}),
			...(o.maxPerSecond ? { MaxNumberOfMessagesPerSecond: o.maxPerSecond } : {}),
		}),
	);
	const deadline = Date.now() + (o.waitMs ?? 5 * 60_000);
	for (;;) {
		const tasks = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn, MaxResults: 10 }))).Results ?? [];
		const task = tasks.find((t) => t.TaskHandle === TaskHandle) ?? tasks[0];
		const status = task?.Status ?? 'UNKNOWN';
		if (status !== 'RUNNING' || Date.now() > deadline) return { dlqArn, before, moved: task?.ApproximateNumberOfMessagesMoved ?? 0, status, ...(task?.FailureReason ? { failureReason: task.FailureReason } : {}) };
		await new Promise((r) => setTimeout(r, o.pollMs ?? 2000));
	}
}

export interface Io {
	out(line: string): void;
	err(line: string): void;
	readonly env: Readonly<Record<string, string | undefined>>;
}

const USAGE = `usage: npx tsx tools/redrive.ts --dlq URL|ARN [--to ARN] [--max-per-second N] [--dry-run] (--endpoint URL | --aws [--region R] [--endpoint URL])`;

/** The command: parses `argv`, runs, returns the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
	let sqs: SQSClient | undefined;
	try {
		const parsed = parseCommandLine({
			args: [...argv],
			options: {
				dlq: { type: 'string' },
				to: { type: 'string' },
				'max-per-second': { type: 'string' },
				'dry-run': { type: 'boolean' },
				endpoint: { type: 'string' },
				aws: { type: 'boolean' },
				region: { type: 'string' },
				help: { type: 'boolean', short: 'h' },
			},
			strict: true,
			allowPositionals: false,
		}).values;
		if (parsed.help) {
			io.out(USAGE);
			return 0;
		}
		if (!parsed.dlq) throw new UsageError('--dlq is required');
		const endpoint = parsed.endpoint ?? io.env.SQS_ENDPOINT;
		const aws = parsed.aws === true || (endpoint !== undefined && /amazonaws\.com/.test(endpoint));
		if (!aws && !endpoint) throw new UsageError('say where: --endpoint URL (the local cloud) or --aws');
		const region = parsed.region ?? io.env.AWS_REGION ?? (aws ? undefined : LOCAL_REGION);
		sqs = new SQSClient({ ...(region ? { region } : {}), ...(endpoint ? { endpoint } : {}), ...(aws ? {} : { credentials: { ...LOCAL_CREDENTIALS } }) });
		const maxPerSecond = parsed['max-per-second'] === undefined ? undefined : Number(parsed['max-per-second']);
		const result = await redrive(sqs, {
			dlq: parsed.dlq,
			...(parsed.to ? { destinationArn: parsed.to } : {}),
			...(maxPerSecond !== undefined ? { maxPerSecond } : {}),
			dryRun: parsed['dry-run'] === true,
		});
		io.out(JSON.stringify(result));
		return result.status === 'COMPLETED' || result.status === 'NOTHING_TO_MOVE' || result.status === 'DRY_RUN' ? 0 : 1;
	} catch (e) {
		if (e instanceof UsageError) {
			io.err('redrive: ' + e.message);
			io.err(USAGE);
			return 2;
		}
		io.err('redrive: ' + ((e as Error)?.name ?? 'Error') + ': ' + ((e as Error)?.message ?? String(e)));
		return 1;
	} finally {
		sqs?.destroy();
	}
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
	main(process.argv.slice(2), { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n'), env: process.env }).then((code) => process.exit(code));
}
