/*
 * Commands end to end on the local cloud: the app starts AWS IoT command executions with the
 * stock jobs data plane client; the robot (firmware core on the host platform, the simulator's
 * cleaning engine) runs them and answers; the cloud's execution shows the robot's status and
 * reason. A clean-now mission is a mission like a scheduled one: its report is stored once.
 * A duplicate delivery runs once; a command whose deadline passed while the robot was offline
 * is not run; pause, resume and dock end with their statuses.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetCommandExecutionCommand, IoTClient } from '@aws-sdk/client-iot';
import { IoTJobsDataPlaneClient, StartCommandExecutionCommand } from '@aws-sdk/client-iot-jobs-data-plane';
import { metricKey } from '../cloud/local/metrics';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../cloud/lib/aws';
import { startInput, type CommandRequest } from '../cloud/lib/robot-commands';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { createRobot, type Robot } from '../firmware/core/robot/robot';
import { createMemoryStorage, hostPorts, hostRandom, memoryLog, readCredentials } from '../firmware/platform/host/index';
import { CleaningSimulator, HOME_ROOMS, simCommandActions, TYPICAL_HOME } from '../firmware/sim/cleaning';
import { startProxy, type Proxy } from './support/proxy';

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
	const t0 = Date.now();
	while (!(await cond())) {
		if (Date.now() - t0 > ms) throw new Error('timed out waiting for ' + what);
		await new Promise((r) => setTimeout(r, 25));
	}
}

describe('commands end to end: app -> AWS IoT commands (local) -> robot -> answer', function () {
	this.timeout(60_000);
	let dir: string;
	let cloud: LocalCloud;
	let proxy: Proxy;
	let robot: Robot;
	let sim: CleaningSimulator;
	let iot: IoTClient;
	let data: IoTJobsDataPlaneClient;
	const log = memoryLog();
	const responses: string[] = [];
	let offResponses: () => void;
	const target = { region: LOCAL_REGION, account: LOCAL_ACCOUNT, thing: 'robot-1' };

	const start = async (r: CommandRequest, timeoutS?: number): Promise<string> => (await data.send(new StartCommandExecutionCommand(startInput(r, target, Date.now(), timeoutS)))).executionId!;
	const execution = (id: string) => iot.send(new GetCommandExecutionCommand({ executionId: id, targetArn: `arn:aws:iot:${LOCAL_REGION}:${LOCAL_ACCOUNT}:thing/robot-1` }));
	const settled = async (id: string) => {
		await until('execution ' + id + ' answered', async () => ['SUCCEEDED', 'FAILED', 'REJECTED'].includes((await execution(id)).status!));
		return execution(id);
	};

	before(async () => {
		dir = mkdtempSync(path.join(tmpdir(), 'commands-e2e-'));
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1'], inMemory: true });
		proxy = await startProxy({ host: '127.0.0.1', port: cloud.broker.port });
		iot = new IoTClient({ endpoint: cloud.endpoints.iot, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
		data = new IoTJobsDataPlaneClient({ endpoint: cloud.endpoints.iotJobsData, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
		offResponses = cloud.bus.subscribe('$aws/commands/things/robot-1/executions/+/response/json', (m) => void responses.push(m.topic.split('/')[5]!));
		const ports = hostPorts(createMemoryStorage(), log);
		robot = createRobot(ports, {
			thing: 'robot-1',
			endpoint: { host: '127.0.0.1', port: proxy.port, tls: { ...readCredentials(cloud.pki.paths.thing('robot-1').dir), serverName: 'localhost' } },
			link: { backoff: { baseMs: 50, capMs: 300 } },
			shadowTimeoutMs: 3000,
			commands: { rooms: HOME_ROOMS },
		});
		// 100 ms per simulated minute: a mission of the typical home lasts about 6 s
		sim = new CleaningSimulator(robot.missions, { timers: ports.timers, random: hostRandom, log }, TYPICAL_HOME, 100);
		robot.commands!.bind(simCommandActions(sim, log));
		robot.start();
		await until('connected', () => robot.link.state.value === 'connected' && robot.link.subscription('$aws/commands/things/robot-1/executions/+/request/json') === 'granted');
	});
	after(async () => {
		offResponses?.();
		sim?.stop();
		robot?.stop();
		iot?.destroy();
		data?.destroy();
		await proxy?.close();
		await cloud?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	it('clean now: SUCCEEDED with the mission id; pause, resume and dock end with their statuses; the mission report is stored once', async () => {
		const id = await start({ action: 'clean', mode: 'vacuum', rooms: ['kitchen', 'hall'] });
		const e = await settled(id);
		assert.equal(e.status, 'SUCCEEDED');
		assert.equal(e.statusReason?.reasonCode, 'STARTED');
		const missionId = e.result?.missionId?.S;
		assert.ok(missionId);
		assert.equal(robot.missions.state.value, 'running');

		const busy = await settled(await start({ action: 'clean' }));
		assert.deepEqual([busy.status, busy.statusReason?.reasonCode], ['REJECTED', 'BUSY']);
		const pause = await settled(await start({ action: 'pause' }));
		assert.deepEqual([pause.status, pause.statusReason?.reasonCode], ['SUCCEEDED', 'PAUSED']);
		assert.equal(robot.missions.state.value, 'paused');
		const resume = await settled(await start({ action: 'resume' }));
		assert.deepEqual([resume.status, resume.statusReason?.reasonCode], ['SUCCEEDED', 'RESUMED']);
		const dock = await settled(await start({ action: 'dock' }));
		assert.deepEqual([dock.status, dock.statusReason?.reasonCode], ['SUCCEEDED', 'DOCKING']);
		const room = await settled(await start({ action: 'locate' }));
		assert.equal(room.status, 'SUCCEEDED');
		// every status change counted as CloudWatch reads it (command-events' EMF records, the local collector)
		const counted = (status: string) => cloud.metrics.counters()[metricKey('CommandExecutions', { Service: 'commands', Status: status })] ?? 0;
		await until('the executions counted', async () => counted('SUCCEEDED') >= 5);
		assert.deepEqual([counted('CREATED'), counted('SUCCEEDED'), counted('REJECTED'), counted('FAILED')], [6, 5, 1, 0]);

		const ddb = createDocumentClient({ region: LOCAL_REGION, endpoint: cloud.endpoints.dynamodb, credentials: { ...LOCAL_CREDENTIALS } });
		try {
			const items = async () => (await ddb.send(new QueryCommand({ TableName: cloud.tables.missions, KeyConditionExpression: 'thing = :t', ExpressionAttributeValues: { ':t': 'robot-1' }, ConsistentRead: true }))).Items ?? [];
			await until('the report stored', async () => (await items()).some((i) => i.missionId === missionId));
			const mine = (await items()).filter((i) => i.missionId === missionId);
			assert.equal(mine.length, 1);
			assert.equal(mine[0]!.trigger, 'app');
			assert.equal(mine[0]!.outcome, 'cancelled');
		} finally {
			ddb.destroy();
		}
	});

	it('a request delivered twice runs once and is answered once', async () => {
		await until('idle', () => robot.missions.state.value === 'idle');
		const before = log.lines.filter((l) => l.event === 'sim.locate').length;
		const id = await start({ action: 'locate' });
		await settled(id);
		// the broker delivers the same request again (as after a reconnect without the PUBACK)
		const topic = `$aws/commands/things/robot-1/executions/${id}/request/json`;
		const payload = JSON.stringify({ action: 'locate', notAfter: Math.floor(Date.now() / 1000) + 60 });
		await cloud.bus.publish(topic, payload, 1);
		await until('duplicate seen', () => log.lines.some((l) => l.event === 'command.duplicate' && l.fields.execution === id));
		assert.equal(log.lines.filter((l) => l.event === 'sim.locate').length, before + 1);
		assert.equal(responses.filter((r) => r === id).length, 1);
	});

	it('a command whose deadline passed while the robot was offline is not run when it returns', async () => {
		proxy.cut();
		await until('offline', () => robot.link.state.value !== 'connected');
		const id = await start({ action: 'clean' }, 1);
		await until('timed out in the cloud', async () => (await execution(id)).status === 'TIMED_OUT');
		await new Promise((r) => setTimeout(r, 1100)); // past the robot's notAfter (whole seconds)
		proxy.restore();
		const e = await settled(id);
		assert.deepEqual([e.status, e.statusReason?.reasonCode], ['REJECTED', 'EXPIRED']);
		assert.equal(robot.missions.state.value, 'idle');
	});
});
