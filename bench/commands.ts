/*
 * commands.billing for bench/run.ts: what one command from the owner's app costs in AWS IoT
 * Core messages, beside the per-mission figure of bench/missions.ts and with its metering model
 * (bill, kindsOf). A host robot (createRobot with commands, memory storage, the simulator's
 * cleaning engine) on the local cloud; each command is started with the stock jobs data plane
 * client (StartCommandExecution, the product's robot-* commands) and the window from its start
 * to its terminal status in GetCommandExecution is metered at the robot's socket: the request
 * delivered to the robot (QoS 1), the robot's PUBACK of it (metered under MQTT 3.1.1), its one
 * answer (QoS 1; the service's PUBACK is not metered). The robot does not subscribe to the
 * accepted/rejected replies, so none is delivered to it. A clean-now's mission is then a mission
 * like any other: its messages are the per-mission figure.
 *
 *   npx tsx bench/commands.ts     prints the table
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { GetCommandExecutionCommand, IoTClient } from '@aws-sdk/client-iot';
import { IoTJobsDataPlaneClient, StartCommandExecutionCommand } from '@aws-sdk/client-iot-jobs-data-plane';
import { startInput, type CommandRequest } from '../cloud/lib/robot-commands';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud } from '../cloud/local/index';
import { createRobot } from '../firmware/core/robot/robot';
import { createMemoryStorage, hostPorts, hostRandom, memoryLog, readCredentials } from '../firmware/platform/host/index';
import { CleaningSimulator, HOME_ROOMS, simCommandActions, TYPICAL_HOME } from '../firmware/sim/cleaning';
import { kindsOf, recordingPorts, type KindRow } from './missions';
import { median } from './stats';
import { benchSection } from './section';

const THING = 'bench-commands';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CommandSample {
	readonly action: string;
	readonly status: string;
	readonly reasonCode: string;
	readonly billedMessages: number;
	/** MQTT bytes both ways in the window */
	readonly mqttBytes: number;
	readonly kinds: KindRow[];
}

export interface CommandsBillingResult {
	readonly setup: string;
	readonly samples: CommandSample[];
	readonly summary: { readonly billedMedian: number; readonly billedMax: number };
}

export async function commandsBilling(): Promise<CommandsBillingResult> {
	const dir = mkdtempSync(join(os.tmpdir(), 'bench-commands-'));
	const cloud = await startLocalCloud({ dataDir: dir, things: [THING], inMemory: true });
	const aws = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
	const iot = new IoTClient({ ...aws, endpoint: cloud.endpoints.iot });
	const data = new IoTJobsDataPlaneClient({ ...aws, endpoint: cloud.endpoints.iotJobsData });
	const log = memoryLog();
	const { ports, recs } = recordingPorts(hostPorts(createMemoryStorage(), log));
	const robot = createRobot(ports, {
		thing: THING,
		endpoint: { host: '127.0.0.1', port: cloud.broker.port, tls: { ...readCredentials(cloud.pki.paths.thing(THING).dir), serverName: 'localhost' } },
		commands: { rooms: HOME_ROOMS },
	});
	// a slow clock for the cleaning: the mission stays running while pause/resume/stop are metered
	const sim = new CleaningSimulator(robot.missions, { timers: ports.timers, random: hostRandom, log }, TYPICAL_HOME, 60_000);
	robot.commands!.bind(simCommandActions(sim, log));
	try {
		robot.start();
		for (let i = 0; robot.link.state.value !== 'connected' || robot.schedule.state.value !== 'synced'; i++) {
			if (i > 400) throw new Error('the robot did not come online within 20 s');
			await sleep(50);
		}
		await sleep(200);
		const samples: CommandSample[] = [];
		const requests: CommandRequest[] = [{ action: 'locate' }, { action: 'clean', rooms: ['kitchen', 'hall'] }, { action: 'clean' }, { action: 'pause' }, { action: 'resume' }, { action: 'stop' }, { action: 'volume', volume: 40 }];
		for (const req of requests) {
			const mark = recs.length;
			const { executionId } = await data.send(new StartCommandExecutionCommand(startInput(req, { region: LOCAL_REGION, account: LOCAL_ACCOUNT, thing: THING }, Date.now())));
			let x: { status?: string; statusReason?: { reasonCode?: string } } = {};
			for (let i = 0; ; i++) {
				x = await iot.send(new GetCommandExecutionCommand({ executionId, targetArn: `arn:aws:iot:${LOCAL_REGION}:${LOCAL_ACCOUNT}:thing/${THING}` }));
				if (x.status !== 'CREATED' && x.status !== 'IN_PROGRESS') break;
				if (i > 200) throw new Error(`command ${req.action}: no answer within 10 s`);
				await sleep(50);
			}
			// the service's PUBACK of the answer comes after the status changed
			await sleep(100);
			const window = recs.slice(mark).filter((r) => r.p.type !== 'pingreq' && r.p.type !== 'pingresp' && !(r.p.type === 'publish' && r.p.topic.includes('/missions/')));
			const kinds = kindsOf(window);
			samples.push({
				action: req.action + (req.rooms ? ' ' + req.rooms.join('+') : ''),
				status: x.status ?? '?',
				reasonCode: x.statusReason?.reasonCode ?? '',
				billedMessages: kinds.reduce((n, k) => n + k.billedMessages, 0),
				mqttBytes: window.reduce((n, r) => n + r.size, 0),
				kinds,
			});
		}
		const billed = samples.map((s) => s.billedMessages);
		return {
			setup:
				'host robot (createRobot with commands, memory storage) on the local cloud, TLS 1.2; each command started with StartCommandExecution (robot-* commands, notAfter 60 s) and metered at the robot socket until its terminal status; mission events and reports excluded (the per-mission figure)',
			samples,
			summary: { billedMedian: median(billed), billedMax: Math.max(...billed) },
		};
	} finally {
		sim.stop();
		robot.stop();
		iot.destroy();
		data.destroy();
		await cloud.close();
		rmSync(dir, { recursive: true, force: true });
	}
}

export function commandsMarkdown(r: CommandsBillingResult): string {
	const lines = [
		'| command | answer | billed messages | MQTT bytes | what |',
		'| --- | --- | ---: | ---: | --- |',
		...r.samples.map(
			(s) =>
				`| ${s.action} | ${s.status} ${s.reasonCode} | ${s.billedMessages} | ${s.mqttBytes} | ${s.kinds
					.filter((k) => k.billedMessages > 0)
					.map((k) => `${k.kind} ${k.billedMessages}`)
					.join(', ')} |`,
		),
	];
	return lines.join('\n') + `\n\nmedian ${r.summary.billedMedian}, max ${r.summary.billedMax} billed messages per command. ${r.setup}.`;
}

if (import.meta.url === 'file://' + process.argv[1]) {
	console.log(commandsMarkdown(await commandsBilling()));
}

export const commandsBillingSection = benchSection({ name: 'commands.billing', title: "billed AWS IoT messages per command from the owner's app", run: commandsBilling, markdown: (x) => [commandsMarkdown(x), ''] });
