/*
 * Conformance of the local commands service, written from AWS's documentation of AWS IoT Device
 * Management commands (API reference: CreateCommand, StartCommandExecution, GetCommandExecution,
 * ListCommandExecutions, DeleteCommandExecution, StatusReason; developer guide: "Start and monitor
 * command executions", "Create and manage commands", "Command execution events", "AWS IoT Commands
 * Troubleshooting"; the device SDKs' UpdateCommandExecution). Each case quotes what it checks.
 * Clients are the stock ones: @aws-sdk/client-iot, @aws-sdk/client-iot-jobs-data-plane, and an
 * MQTT.js device with the robot's certificate through the local broker and its policy.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateCommandCommand, DeleteCommandExecutionCommand, GetCommandCommand, GetCommandExecutionCommand, IoTClient, ListCommandExecutionsCommand } from '@aws-sdk/client-iot';
import { IoTJobsDataPlaneClient, StartCommandExecutionCommand } from '@aws-sdk/client-iot-jobs-data-plane';
import type { MqttClient } from 'mqtt';
import { connectThing, closed } from '../../../test/support/mqtt-client';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../credentials';
import { startLocalCloud, type LocalCloud } from '../index';
import { COMMANDS } from '../../lib/robot-commands';
import { startCommandsService } from './index';
import { templateParameters } from './payload';

/** A "second" of executionTimeoutSeconds lasts this long here. */
const SECOND_MS = 100;
const LONG = 600; // executionTimeoutSeconds that do not run out during a case (60 s here)
type Json = Record<string, any>;

describe('commands service (AWS IoT Device Management commands), from the AWS documentation', function () {
	this.timeout(30_000);
	let dir: string;
	let cloud: LocalCloud;
	let iot: IoTClient;
	let data: IoTJobsDataPlaneClient;
	const devices = new Map<string, MqttClient>();
	const inbox = new Map<string, { topic: string; payload: Buffer }[]>();
	const events: { topic: string; body: Json }[] = [];
	let offEvents: () => void;
	let offReplies: () => void;
	const arn = (thing: string) => `arn:aws:iot:${LOCAL_REGION}:000000000000:thing/${thing}`;

	before(async () => {
		dir = await mkdtemp(path.join(tmpdir(), 'commands-'));
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1', 'robot-2'], inMemory: true, commandsSecondMs: SECOND_MS });
		iot = new IoTClient({ endpoint: cloud.endpoints.iot, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
		data = new IoTJobsDataPlaneClient({ endpoint: cloud.endpoints.iotJobsData, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
		for (const thing of ['robot-1', 'robot-2']) {
			const c = await connectThing({ port: cloud.broker.port, identity: cloud.pki.things.get(thing)! });
			const granted = await c.subscribeAsync(`$aws/commands/things/${thing}/executions/+/request/json`, { qos: 1 });
			assert.equal(granted[0]!.qos, 1, 'the robot policy grants its own request filter');
			inbox.set(thing, []);
			c.on('message', (topic, payload) => inbox.get(thing)!.push({ topic, payload }));
			devices.set(thing, c);
		}
		offEvents = cloud.bus.subscribe('$aws/events/commandExecution/#', (m) => {
			events.push({ topic: m.topic, body: JSON.parse(new TextDecoder().decode(m.payload)) as Json });
		});
		// the service's accepted / rejected answers, seen from the cloud side (the robot's policy
		// does not grant it those topics: it never waits for them)
		offReplies = cloud.bus.subscribe('$aws/commands/things/+/executions/+/response/+/json', (m) => {
			inbox.get(m.topic.split('/')[3]!)?.push({ topic: m.topic, payload: Buffer.from(m.payload) });
		});
		await iot.send(
			new CreateCommandCommand({
				commandId: 'locate',
				displayName: 'Locate',
				payload: { content: new TextEncoder().encode('{"action":"locate"}'), contentType: 'application/json' },
			}),
		);
		await iot.send(
			new CreateCommandCommand({
				commandId: 'clean',
				payloadTemplate:
					'{"action":"clean","mode":"${aws:iot:commandexecution::parameter:mode}","rooms":"${aws:iot:commandexecution::parameter:rooms}","notAfter":"${aws:iot:commandexecution::parameter:notAfter}","timeout":"${aws:iot:commandexecution::executionTimeoutSec}","note":"mode ${aws:iot:commandexecution::parameter:mode}"}',
				preprocessor: { awsJsonSubstitution: { outputFormat: 'JSON' } },
				mandatoryParameters: [{ name: 'mode', defaultValue: { S: 'vacuum' } }, { name: 'rooms', defaultValue: { S: 'all' } }, { name: 'notAfter' }],
			}),
		);
	});
	after(async () => {
		offEvents?.();
		offReplies?.();
		for (const c of devices.values()) c.end(true);
		iot?.destroy();
		data?.destroy();
		await cloud?.close();
		await rm(dir, { recursive: true, force: true });
	});

	const waitFor = async (thing: string, match: (topic: string) => boolean, ms = 5000): Promise<{ topic: string; body: Json }> => {
		const until = Date.now() + ms;
		for (;;) {
			const box = inbox.get(thing)!;
			const i = box.findIndex((m) => match(m.topic));
			if (i >= 0) {
				const [m] = box.splice(i, 1);
				return { topic: m!.topic, body: JSON.parse(m!.payload.toString()) as Json };
			}
			if (Date.now() > until) throw new Error('no message for ' + thing);
			await new Promise((r) => setTimeout(r, 10));
		}
	};
	const start = async (commandId: string, thing: string, extra: Json = {}): Promise<string> => {
		const r = await data.send(new StartCommandExecutionCommand({ commandArn: `arn:aws:iot:${LOCAL_REGION}:000000000000:command/${commandId}`, targetArn: arn(thing), ...extra }));
		assert.ok(r.executionId);
		return r.executionId;
	};
	const respond = async (thing: string, id: string, body: Json, as = thing): Promise<{ outcome: string; body: Json }> => {
		await devices.get(as)!.publishAsync(`$aws/commands/things/${thing}/executions/${id}/response/json`, JSON.stringify(body), { qos: 1 });
		const m = await waitFor(thing, (t) => t.startsWith(`$aws/commands/things/${thing}/executions/${id}/response/`) && t.endsWith('ed/json'));
		return { outcome: m.topic.split('/').at(-2)!, body: m.body };
	};
	const get = (id: string, thing = 'robot-1') => iot.send(new GetCommandExecutionCommand({ executionId: id, targetArn: arn(thing) }));
	const code = async (p: Promise<unknown>): Promise<string> => {
		try {
			await p;
		} catch (e) {
			return (e as { name: string }).name;
		}
		return 'no error';
	};

	it('CreateCommand: "A unique identifier for the command"; the ARN is arn:aws:iot:<region>:<accountid>:command/<commandId>', async () => {
		const c = await iot.send(new GetCommandCommand({ commandId: 'locate' }));
		assert.equal(c.commandArn, `arn:aws:iot:${LOCAL_REGION}:000000000000:command/locate`);
		assert.equal(c.namespace, 'AWS-IoT');
		assert.equal(new TextDecoder().decode(c.payload!.content), '{"action":"locate"}');
		assert.equal(await code(iot.send(new CreateCommandCommand({ commandId: 'locate', payload: { content: new Uint8Array([1]) } }))), 'ConflictException');
		assert.equal(await code(iot.send(new CreateCommandCommand({ commandId: 'bad id!', payload: { content: new Uint8Array([1]) } }))), 'ValidationException');
	});

	it('StartCommandExecution publishes the payload to $aws/commands/things/<thing>/executions/<id>/request/json; the execution is CREATED', async () => {
		const id = await start('locate', 'robot-1', { executionTimeoutSeconds: LONG });
		const m = await waitFor('robot-1', (t) => t === `$aws/commands/things/robot-1/executions/${id}/request/json`);
		assert.deepEqual(m.body, { action: 'locate' });
		const e = await get(id);
		assert.equal(e.status, 'CREATED');
		assert.equal(e.executionTimeoutSeconds, LONG);
		assert.equal(e.targetArn, arn('robot-1'));
		assert.ok(e.createdAt instanceof Date && e.startedAt === undefined && e.completedAt === undefined);
		// another thing never sees it
		await new Promise((r) => setTimeout(r, 100));
		assert.equal(inbox.get('robot-2')!.filter((x) => x.topic.includes(id)).length, 0);
	});

	it('a dynamic command: placeholders replaced by the parameters, "Missing parameters use their defaultValue"', async () => {
		const id = await start('clean', 'robot-1', { executionTimeoutSeconds: LONG, parameters: { rooms: { S: 'kitchen+hall' }, notAfter: { L: 1900000000 } } });
		const m = await waitFor('robot-1', (t) => t === `$aws/commands/things/robot-1/executions/${id}/request/json`);
		assert.deepEqual(m.body, { action: 'clean', mode: 'vacuum', rooms: 'kitchen+hall', notAfter: 1900000000, timeout: LONG, note: 'mode vacuum' });
		const e = await get(id);
		assert.deepEqual(e.parameters, { mode: { S: 'vacuum' }, rooms: { S: 'kitchen+hall' }, notAfter: { L: 1900000000 } });
		// a parameter with no value and no default, one the command does not declare, a bad value
		assert.equal(await code(start('clean', 'robot-1', { parameters: { mode: { S: 'mop' } } })), 'ValidationException');
		assert.equal(await code(start('clean', 'robot-1', { parameters: { notAfter: { L: 1 }, speed: { I: 3 } } })), 'ValidationException');
		assert.equal(await code(start('clean', 'robot-1', { parameters: { notAfter: { I: 1.5 } } })), 'ValidationException');
	});

	it('refuses an unknown command (ResourceNotFoundException), a target that is not a thing ARN and a bad timeout (ValidationException)', async () => {
		assert.equal(await code(start('nope', 'robot-1')), 'ResourceNotFoundException');
		assert.equal(await code(data.send(new StartCommandExecutionCommand({ commandArn: `arn:aws:iot:${LOCAL_REGION}:000000000000:command/locate`, targetArn: 'robot-1' }))), 'ValidationException');
		assert.equal(await code(start('locate', 'robot-1', { executionTimeoutSeconds: 0 })), 'ValidationException');
	});

	it('clientToken: "retry a request with the same token and the same parameters, the request will complete successfully ... different parameters, an HTTP 409 conflict"', async () => {
		const a = await start('locate', 'robot-2', { clientToken: 'tok-1', executionTimeoutSeconds: LONG });
		const b = await start('locate', 'robot-2', { clientToken: 'tok-1', executionTimeoutSeconds: LONG });
		assert.equal(a, b);
		assert.equal(await code(start('locate', 'robot-2', { clientToken: 'tok-1', executionTimeoutSeconds: LONG - 1 })), 'ConflictException');
		await waitFor('robot-2', (t) => t === `$aws/commands/things/robot-2/executions/${a}/request/json`);
	});

	it('the device answers on .../response/json with status, statusReason and result: accepted, and GetCommandExecution shows them', async () => {
		const id = await start('locate', 'robot-1', { executionTimeoutSeconds: LONG });
		await waitFor('robot-1', (t) => t.endsWith(`${id}/request/json`));
		const r = await respond('robot-1', id, {
			status: 'SUCCEEDED',
			statusReason: { reasonCode: 'BEEPED', reasonDescription: 'played the locate sound' },
			result: { seconds: { S: '5' } },
		});
		assert.deepEqual(r, { outcome: 'accepted', body: { executionId: id } });
		const e = await get(id);
		assert.equal(e.status, 'SUCCEEDED');
		assert.deepEqual(e.statusReason, { reasonCode: 'BEEPED', reasonDescription: 'played the locate sound' });
		assert.deepEqual(e.result, { seconds: { S: '5' } });
		assert.ok(e.startedAt && e.completedAt);
		// a terminal status is final: a second answer is rejected and changes nothing
		const again = await respond('robot-1', id, { status: 'FAILED', statusReason: { reasonCode: 'LATE' } });
		assert.equal(again.outcome, 'rejected');
		assert.equal(again.body.error, 'TerminalStateReached');
		assert.equal((await get(id)).status, 'SUCCEEDED');
	});

	it('REJECTED and FAILED with their reasons; a malformed answer is rejected (InvalidRequest, InvalidJson) and changes nothing', async () => {
		const id = await start('locate', 'robot-1', { executionTimeoutSeconds: LONG });
		await waitFor('robot-1', (t) => t.endsWith(`${id}/request/json`));
		assert.equal((await respond('robot-1', id, { status: 'DONE' })).body.error, 'InvalidRequest');
		assert.equal((await respond('robot-1', id, { status: 'REJECTED', statusReason: { reasonCode: 'lower case' } })).body.error, 'InvalidRequest');
		await devices.get('robot-1')!.publishAsync(`$aws/commands/things/robot-1/executions/${id}/response/json`, '{not json', { qos: 1 });
		assert.equal((await waitFor('robot-1', (t) => t.endsWith(`${id}/response/rejected/json`))).body.error, 'InvalidJson');
		assert.equal((await get(id)).status, 'CREATED');
		assert.equal((await respond('robot-1', id, { status: 'IN_PROGRESS' })).outcome, 'accepted');
		assert.equal((await get(id)).status, 'IN_PROGRESS');
		assert.equal((await respond('robot-1', id, { status: 'REJECTED', statusReason: { reasonCode: 'BUSY', reasonDescription: 'the robot is cleaning' } })).outcome, 'accepted');
		const e = await get(id);
		assert.equal(e.status, 'REJECTED');
		assert.equal(e.statusReason?.reasonCode, 'BUSY');
	});

	it('"If the command execution status is not set to another terminal state before the timer expires, it will automatically update to TIMED_OUT"; "A cloud-initiated TIMED_OUT is non-terminal"', async () => {
		const id = await start('locate', 'robot-1', { executionTimeoutSeconds: 1 });
		await waitFor('robot-1', (t) => t.endsWith(`${id}/request/json`));
		for (let i = 0; (await get(id)).status !== 'TIMED_OUT'; i++) {
			assert.ok(i < 200, 'never timed out');
			await new Promise((r) => setTimeout(r, SECOND_MS / 2));
		}
		const t = await get(id);
		assert.ok(t.completedAt);
		// the device can still give its final answer after the service's timeout
		assert.equal((await respond('robot-1', id, { status: 'REJECTED', statusReason: { reasonCode: 'EXPIRED' } })).outcome, 'accepted');
		assert.equal((await get(id)).status, 'REJECTED');
		// a TIMED_OUT the device reports itself is terminal
		const id2 = await start('locate', 'robot-1', { executionTimeoutSeconds: LONG });
		assert.equal((await respond('robot-1', id2, { status: 'TIMED_OUT', statusReason: { reasonCode: 'MOTOR_TIMEOUT' } })).outcome, 'accepted');
		assert.equal((await respond('robot-1', id2, { status: 'SUCCEEDED' })).body.error, 'TerminalStateReached');
	});

	it('"Command execution events" on $aws/events/commandExecution/<commandId>/<status> with executionId, status, statusReason, eventType', async () => {
		const id = await start('locate', 'robot-1', { executionTimeoutSeconds: LONG });
		await respond('robot-1', id, { status: 'FAILED', statusReason: { reasonCode: 'SPEAKER_FAULT' } });
		await new Promise((r) => setTimeout(r, 100));
		const mine = events.filter((e) => e.body.executionId === id);
		assert.deepEqual(
			mine.map((e) => e.topic),
			['$aws/events/commandExecution/locate/CREATED', '$aws/events/commandExecution/locate/FAILED'],
		);
		assert.equal(mine[1]!.body.eventType, 'COMMAND_EXECUTION');
		assert.deepEqual(mine[1]!.body.statusReason, { reasonCode: 'SPEAKER_FAULT' });
		assert.equal(mine[1]!.body.targetArn, arn('robot-1'));
	});

	it("the policy: a robot cannot subscribe to or answer another robot's executions", async () => {
		const id = await start('locate', 'robot-1', { executionTimeoutSeconds: LONG });
		const r2 = devices.get('robot-2')!;
		const granted = await r2.subscribeAsync('$aws/commands/things/robot-1/executions/+/request/json', { qos: 1 }).catch(() => [{ qos: 128 }]);
		assert.equal(granted[0]!.qos, 128);
		// a forbidden publish is dropped and its sender disconnected (its PUBACK never comes)
		r2.publish(`$aws/commands/things/robot-1/executions/${id}/response/json`, JSON.stringify({ status: 'SUCCEEDED' }), { qos: 1 });
		await closed(r2);
		r2.end(true);
		assert.equal((await get(id)).status, 'CREATED');
		// robot-2 back, for the cases after this one
		const c = await connectThing({ port: cloud.broker.port, identity: cloud.pki.things.get('robot-2')! });
		await c.subscribeAsync('$aws/commands/things/robot-2/executions/+/request/json', { qos: 1 });
		c.on('message', (topic, payload) => inbox.get('robot-2')!.push({ topic, payload }));
		devices.set('robot-2', c);
	});

	it('ListCommandExecutions: by commandArn or by targetArn ("If you provide both fields, the API will generate an error"), status filter, descending by default', async () => {
		const mine = await iot.send(new ListCommandExecutionsCommand({ targetArn: arn('robot-2') }));
		assert.ok(mine.commandExecutions!.length >= 1);
		assert.ok(mine.commandExecutions!.every((e) => e.targetArn === arn('robot-2')));
		const all = await iot.send(new ListCommandExecutionsCommand({ commandArn: `arn:aws:iot:${LOCAL_REGION}:000000000000:command/locate` }));
		const times = all.commandExecutions!.map((e) => e.createdAt!.getTime());
		assert.deepEqual(
			times,
			[...times].sort((a, b) => b - a),
		);
		const asc = await iot.send(new ListCommandExecutionsCommand({ commandArn: `arn:aws:iot:${LOCAL_REGION}:000000000000:command/locate`, sortOrder: 'ASCENDING' }));
		assert.deepEqual(
			asc.commandExecutions!.map((e) => e.executionId),
			all.commandExecutions!.map((e) => e.executionId).reverse(),
		);
		const ok = await iot.send(new ListCommandExecutionsCommand({ targetArn: arn('robot-1'), status: 'SUCCEEDED' }));
		assert.ok(ok.commandExecutions!.length >= 1 && ok.commandExecutions!.every((e) => e.status === 'SUCCEEDED'));
		assert.equal(await code(iot.send(new ListCommandExecutionsCommand({ targetArn: arn('robot-1'), commandArn: all.commandExecutions![0]!.commandArn }))), 'ValidationException');
		const page = await iot.send(new ListCommandExecutionsCommand({ targetArn: arn('robot-1'), maxResults: 1 }));
		assert.equal(page.commandExecutions!.length, 1);
		assert.ok(page.nextToken);
	});

	it('DeleteCommandExecution: "Only command executions that enter a terminal state can be deleted"', async () => {
		const id = await start('locate', 'robot-1', { executionTimeoutSeconds: LONG });
		assert.equal(await code(iot.send(new DeleteCommandExecutionCommand({ executionId: id, targetArn: arn('robot-1') }))), 'ConflictException');
		await respond('robot-1', id, { status: 'SUCCEEDED' });
		await iot.send(new DeleteCommandExecutionCommand({ executionId: id, targetArn: arn('robot-1') }));
		assert.equal(await code(get(id)), 'ResourceNotFoundException');
		// another thing's ARN does not find an execution
		const id2 = await start('locate', 'robot-1', { executionTimeoutSeconds: LONG });
		assert.equal(await code(get(id2, 'robot-2')), 'ResourceNotFoundException');
	});

	it('requests without a valid SigV4 signature are refused on both planes', async () => {
		const bad = new IoTJobsDataPlaneClient({
			endpoint: cloud.endpoints.iotJobsData,
			region: LOCAL_REGION,
			credentials: { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong' },
		});
		const badIot = new IoTClient({ endpoint: cloud.endpoints.iot, region: LOCAL_REGION, credentials: { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong' } });
		try {
			assert.notEqual(await code(bad.send(new StartCommandExecutionCommand({ commandArn: `arn:aws:iot:${LOCAL_REGION}:000000000000:command/locate`, targetArn: arn('robot-1') }))), 'no error');
			assert.notEqual(await code(badIot.send(new GetCommandCommand({ commandId: 'locate' }))), 'no error');
		} finally {
			bad.destroy();
			badIot.destroy();
		}
	});

	it("the product's commands (cloud/lib/robot-commands.ts) declare every parameter their templates name", () => {
		for (const c of Object.values(COMMANDS)) {
			const names = templateParameters(c.payloadTemplate);
			assert.ok(names.ok, c.commandId);
			assert.deepEqual([...names.names].sort(), c.mandatoryParameters.map((p) => p.name).sort(), c.commandId);
		}
	});

	it('executions are kept with the rest of the state: a restarted service has them and still times them out', async () => {
		const d = path.join(dir, 'persist');
		const log = () => {};
		let s = await startCommandsService({ bus: cloud.bus, log, dataDir: d, secondMs: SECOND_MS });
		s.runner.createCommand({ commandId: 'locate', payload: { content: Buffer.from('{}').toString('base64'), contentType: 'application/json' } });
		const r = s.runner.start({ commandId: 'locate', targetArn: arn('robot-2'), thingName: 'robot-2', executionTimeoutSeconds: 2 });
		assert.ok(r.ok);
		await s.close();
		s = await startCommandsService({ bus: cloud.bus, log, dataDir: d, secondMs: SECOND_MS });
		try {
			assert.equal(s.runner.execution(r.value.executionId)?.status, 'CREATED');
			for (let i = 0; s.runner.execution(r.value.executionId)?.status !== 'TIMED_OUT'; i++) {
				assert.ok(i < 200, 'never timed out after the restart');
				await new Promise((res) => setTimeout(res, SECOND_MS / 2));
			}
		} finally {
			await s.close();
		}
	});
});
