/*
 * Commands from the owner's app (issue #24) on the real Moddable runtime: AWS IoT command
 * executions started through the local cloud's jobs data plane (StartCommandExecution with the
 * product's robot-* commands, the stock client) reach the shipped firmware on its request topic
 * and are answered on its response topic.
 * - clean now runs a mission on the cleaning model (the same mission machine as the schedule):
 *   SUCCEEDED STARTED with its mission id, pause / resume / dock end SUCCEEDED with their
 *   reasons, and the mission's report lands once in the missions table (cancelled by the dock);
 * - the same request delivered again runs once (`command.duplicate`, one answer);
 * - a command started while the robot is off, whose deadline passes before it is back, is not
 *   run: the cloud times it out, the robot answers REJECTED EXPIRED when it returns.
 * The mission clock is slowed (a 60-minute mission in about a minute) so pause and resume land
 * in the mission.
 */
import { GetCommandExecutionCommand, IoTClient } from '@aws-sdk/client-iot';
import { IoTJobsDataPlaneClient, StartCommandExecutionCommand } from '@aws-sdk/client-iot-jobs-data-plane';
import { startInput, type CommandRequest } from '../../../cloud/lib/robot-commands';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../cloud/local/credentials';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../../cloud/lib/aws';
import { Checks } from '../checks';
import { THING, say, until, type Scenario } from '../suite';

const scenario: Scenario = {
	name: 'commands',
	async run(s) {
		const aws = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
		const iot = new IoTClient({ ...aws, endpoint: s.cloud.endpoints.iot });
		const data = new IoTJobsDataPlaneClient({ ...aws, endpoint: s.cloud.endpoints.iotJobsData });
		const ddb = createDocumentClient({ ...aws, endpoint: s.cloud.endpoints.dynamodb });
		const targetArn = `arn:aws:iot:${LOCAL_REGION}:${LOCAL_ACCOUNT}:thing/${THING}`;
		const start = async (r: CommandRequest, timeoutS?: number) => (await data.send(new StartCommandExecutionCommand(startInput(r, { region: LOCAL_REGION, account: LOCAL_ACCOUNT, thing: THING }, Date.now(), timeoutS)))).executionId!;
		const answered = (id: string) =>
			until(
				`execution ${id} answered`,
				async () => {
					const x = await iot.send(new GetCommandExecutionCommand({ executionId: id, targetArn }));
					return ['SUCCEEDED', 'FAILED', 'REJECTED'].includes(x.status!) ? x : undefined;
				},
				20_000,
			);
		const expect = async (id: string, status: string, reason: string): Promise<string | undefined> => {
			const x = await answered(id);
			return x.status === status && x.statusReason?.reasonCode === reason ? undefined : `execution ${id}: ${x.status} ${x.statusReason?.reasonCode}, expected ${status} ${reason}`;
		};
		try {
			s.clearStorage();
			(await s.up()).record.clear();
			// the table is shared with the scenarios before this one: start from an empty one
			await new Checks(s).clearMissions();
			await s.provision();
			const slow = { robot: { missions: { msPerMin: 1_000, seed: 0x5eed, stuckRate: 0 } } };
			const d = s.power('commands', { verbose: true, test: slow });
			await d.untilStatus('link connected', (x) => x.link === 'connected');

			const clean = await start({ action: 'clean', rooms: ['kitchen', 'hall'] });
			const x = await answered(clean);
			if (x.status !== 'SUCCEEDED' || x.statusReason?.reasonCode !== 'STARTED') return `clean now answered ${x.status} ${x.statusReason?.reasonCode}`;
			const mission = x.result?.missionId?.S;
			if (!mission) return 'clean now answered without its mission id';
			const steps =
				(await expect(await start({ action: 'pause' }), 'SUCCEEDED', 'PAUSED')) ?? (await expect(await start({ action: 'resume' }), 'SUCCEEDED', 'RESUMED')) ?? (await expect(await start({ action: 'dock' }), 'SUCCEEDED', 'DOCKING'));
			if (steps) return steps;

			// a duplicate delivery of the clean: not run again, not answered again
			await s.cloud.bus.publish(`$aws/commands/things/${THING}/executions/${clean}/request/json`, JSON.stringify({ action: 'clean', mode: 'vacuum', rooms: 'kitchen+hall', notAfter: Math.floor(Date.now() / 1000) + 60 }), 1);
			await d.waitFor('command.duplicate', (l) => l.execution === clean);
			await d.untilStatus('docked, the report out', (st) => st.mission === 'idle' && st.pendingReports === 0, 60_000);
			const answers = d.log.filter((l) => l.event === 'command.answered' && l.execution === clean).length;
			if (answers !== 1) return `the clean was answered ${answers} times`;
			await d.off();
			// the mission's report, stored once (the missions table holds one item per mission id)
			const items = await until(
				`the report of ${mission} stored`,
				async () => {
					const r = await ddb.send(
						new QueryCommand({
							TableName: s.cloud.tables.missions,
							KeyConditionExpression: 'thing = :t AND missionId = :m',
							ExpressionAttributeValues: { ':t': THING, ':m': mission },
							ConsistentRead: true,
						}),
					);
					return r.Items?.length ? r.Items : undefined;
				},
				15_000,
			);
			if (items.length !== 1 || items[0]!.outcome !== 'cancelled' || items[0]!.trigger !== 'app') return `missions table: ${JSON.stringify(items)}, expected one cancelled item started from the app`;
			const refused = d.log.filter((l) => l.event === 'outbox.refused' || l.event === 'command.answer_not_queued');
			if (refused.length) return 'log events ' + JSON.stringify(refused);

			// off: a command whose deadline passes meanwhile
			const late = await start({ action: 'locate' }, 1);
			await until('the cloud timed it out', async () => ((await iot.send(new GetCommandExecutionCommand({ executionId: late, targetArn }))).status === 'TIMED_OUT' ? true : undefined), 15_000);
			await new Promise((r) => setTimeout(r, 1_100));
			const e = s.power('commands-late', { test: slow });
			const expired = await expect(late, 'REJECTED', 'EXPIRED');
			if (expired) return expired;
			if (e.log.some((l) => l.event === 'sim.locate')) return 'the expired locate ran';
			await e.off();
			say(`clean now ${clean.slice(0, 8)} -> ${mission}, paused, resumed, docked (report once, cancelled); duplicate dropped; late locate REJECTED EXPIRED`);
			return undefined;
		} finally {
			iot.destroy();
			data.destroy();
			ddb.destroy();
		}
	},
};
export default scenario;
