import assert from 'node:assert/strict';
import {
	ChangeMessageVisibilityCommand,
	CreateQueueCommand,
	DeleteMessageCommand,
	GetQueueAttributesCommand,
	GetQueueUrlCommand,
	ListMessageMoveTasksCommand,
	QueueDoesNotExist,
	ReceiveMessageCommand,
	SendMessageCommand,
	SQSClient,
	SQSServiceException,
	StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../credentials';
import { md5OfMessageAttributes } from './model';
import { startQueue, type QueueService } from './server';

function client(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string } = LOCAL_CREDENTIALS) {
	// a copy: the SDK marks the credentials object it is given, and LOCAL_CREDENTIALS is frozen
	return new SQSClient({ endpoint, region: LOCAL_REGION, credentials: { ...credentials } });
}

describe('local queue (SQS)', () => {
	let sqs: QueueService;
	let c: SQSClient;
	/** The service clock, moved by hand: visibility timeouts pass without waiting. */
	let clock: number;
	beforeEach(async () => {
		clock = Date.now();
		sqs = await startQueue({ now: () => clock });
		c = client(sqs.endpoint);
	});
	afterEach(async () => {
		c.destroy();
		await sqs.close();
	});

	async function queuesWithDlq(maxReceiveCount: number) {
		const dlq = await c.send(new CreateQueueCommand({ QueueName: 'reports-dlq' }));
		const dlqArn = (await c.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
		const src = await c.send(
			new CreateQueueCommand({
				QueueName: 'reports',
				Attributes: { VisibilityTimeout: '30', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }) },
			}),
		);
		return { src: src.QueueUrl!, dlq: dlq.QueueUrl!, dlqArn };
	}
	const count = async (QueueUrl: string) => Number((await c.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes!.ApproximateNumberOfMessages);

	it('sends, receives with attributes, deletes; GetQueueUrl; errors', async () => {
		const { QueueUrl } = await c.send(new CreateQueueCommand({ QueueName: 'q' }));
		assert.equal(QueueUrl, sqs.endpoint + '/000000000000/q');
		assert.equal((await c.send(new GetQueueUrlCommand({ QueueName: 'q' }))).QueueUrl, QueueUrl);
		const attrs = { thing: { DataType: 'String', StringValue: 'robot-1' }, n: { DataType: 'Number', StringValue: '3' } };
		const sent = await c.send(new SendMessageCommand({ QueueUrl, MessageBody: '{"r":1}', MessageAttributes: attrs }));
		assert.equal(sent.MD5OfMessageAttributes, md5OfMessageAttributes(attrs));
		const got = await c.send(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }));
		assert.equal(got.Messages?.length, 1);
		const m = got.Messages![0]!;
		assert.equal(m.Body, '{"r":1}');
		assert.equal(m.Attributes?.ApproximateReceiveCount, '1');
		assert.equal(m.MessageAttributes?.thing?.StringValue, 'robot-1');
		await c.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
		clock += 31_000;
		assert.equal((await c.send(new ReceiveMessageCommand({ QueueUrl }))).Messages, undefined);
		await assert.rejects(c.send(new GetQueueUrlCommand({ QueueName: 'none' })), QueueDoesNotExist);
		await assert.rejects(c.send(new SendMessageCommand({ QueueUrl: sqs.endpoint + '/000000000000/none', MessageBody: 'x' })), QueueDoesNotExist);
	});

	it('a message not deleted comes back after its visibility timeout; ChangeMessageVisibility moves that', async () => {
		const { QueueUrl } = await c.send(new CreateQueueCommand({ QueueName: 'q', Attributes: { VisibilityTimeout: '10' } }));
		await c.send(new SendMessageCommand({ QueueUrl, MessageBody: 'm' }));
		const first = await c.send(new ReceiveMessageCommand({ QueueUrl }));
		assert.equal(first.Messages?.length, 1);
		clock += 9_000;
		assert.equal((await c.send(new ReceiveMessageCommand({ QueueUrl }))).Messages, undefined);
		const attrs = await c.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
		assert.equal(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible, '1');
		clock += 1_000;
		const again = await c.send(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['ApproximateReceiveCount'], VisibilityTimeout: 5 }));
		assert.equal(again.Messages?.[0]?.Attributes?.ApproximateReceiveCount, '2');
		await c.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: again.Messages![0]!.ReceiptHandle, VisibilityTimeout: 60 }));
		clock += 30_000;
		assert.equal((await c.send(new ReceiveMessageCommand({ QueueUrl }))).Messages, undefined);
		// the first receipt handle is stale: deleting with it deletes nothing
		await c.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: first.Messages![0]!.ReceiptHandle }));
		clock += 31_000;
		assert.equal((await c.send(new ReceiveMessageCommand({ QueueUrl }))).Messages?.length, 1);
	});

	it('a message received and not deleted maxReceiveCount times ends in the DLQ; redrive brings it back', async () => {
		const { src, dlq, dlqArn } = await queuesWithDlq(3);
		await c.send(new SendMessageCommand({ QueueUrl: src, MessageBody: 'poison' }));
		for (let i = 1; i <= 3; i++) {
			const got = await c.send(new ReceiveMessageCommand({ QueueUrl: src, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
			assert.equal(got.Messages?.[0]?.Attributes?.ApproximateReceiveCount, String(i));
			clock += 31_000;
		}
		assert.equal((await c.send(new ReceiveMessageCommand({ QueueUrl: src }))).Messages, undefined);
		assert.equal(await count(src), 0);
		assert.equal(await count(dlq), 1);

		// the registration tools' redrive: StartMessageMoveTask back to the source
		await c.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn }));
		const tasks = await c.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn }));
		assert.equal(tasks.Results?.[0]?.Status, 'COMPLETED');
		assert.equal(tasks.Results?.[0]?.ApproximateNumberOfMessagesMoved, 1);
		assert.equal(await count(dlq), 0);
		const back = await c.send(new ReceiveMessageCommand({ QueueUrl: src, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
		assert.equal(back.Messages?.[0]?.Body, 'poison');
		assert.equal(back.Messages?.[0]?.Attributes?.ApproximateReceiveCount, '1');
	});

	it('the manual redrive works too: receive from the DLQ, send to the source, delete', async () => {
		const { src, dlq } = await queuesWithDlq(1);
		await c.send(new SendMessageCommand({ QueueUrl: src, MessageBody: 'r1' }));
		await c.send(new ReceiveMessageCommand({ QueueUrl: src }));
		clock += 31_000;
		const dead = await c.send(new ReceiveMessageCommand({ QueueUrl: dlq }));
		assert.equal(dead.Messages?.[0]?.Body, 'r1');
		await c.send(new SendMessageCommand({ QueueUrl: src, MessageBody: dead.Messages![0]!.Body! }));
		await c.send(new DeleteMessageCommand({ QueueUrl: dlq, ReceiptHandle: dead.Messages![0]!.ReceiptHandle }));
		assert.equal(await count(src), 1);
		clock += 31_000;
		assert.equal(await count(dlq), 0);
	});

	it('a long poll returns as soon as a message arrives', async () => {
		const { QueueUrl } = await c.send(new CreateQueueCommand({ QueueName: 'q' }));
		const started = performance.now();
		const polling = c.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10 }));
		await new Promise((r) => setTimeout(r, 150));
		await c.send(new SendMessageCommand({ QueueUrl, MessageBody: 'late' }));
		const got = await polling;
		assert.equal(got.Messages?.[0]?.Body, 'late');
		const took = performance.now() - started;
		assert.ok(took >= 150 && took < 5_000, 'took ' + took + ' ms');
		// and an empty long poll ends at its wait time
		const empty = await c.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
		assert.equal(empty.Messages, undefined);
	});

	it('refuses a wrong secret; two instances side by side keep their own queues', async () => {
		const wrong = client(sqs.endpoint, { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: 'guess' });
		await assert.rejects(wrong.send(new CreateQueueCommand({ QueueName: 'q' })), (e: unknown) => e instanceof SQSServiceException && e.name === 'InvalidSignatureException');
		wrong.destroy();
		const other = await startQueue({});
		const oc = client(other.endpoint);
		await c.send(new CreateQueueCommand({ QueueName: 'only-here' }));
		await assert.rejects(oc.send(new GetQueueUrlCommand({ QueueName: 'only-here' })), QueueDoesNotExist);
		oc.destroy();
		await other.close();
	});
});
