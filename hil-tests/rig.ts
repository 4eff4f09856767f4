/*
 * The hardware-in-the-loop rig: a robot under test (sim process or real board), the cloud
 * it talks to (cloud/local in this process, or an AWS account), the app/operator side on
 * aws-iot-device-sdk-v2 (app.ts), and the faults a test injects:
 *   cut / latency   a TCP proxy between robot and broker (test/support/proxy.ts)
 *   broker restart  the local cloud's broker stops and starts on the same port
 *   power loss      kill -9 of the sim process, or the board held in reset
 *   clock jump      the robot's wall clock moves (test-control command)
 * Configuration comes from the environment (config.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IoTClient } from '@aws-sdk/client-iot';
import { S3Client } from '@aws-sdk/client-s3';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../cloud/lib/aws';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { createReportLedger, type ReportLedger } from '../test/support/report-ledger';
import { issueDevice } from '../cloud/local/dev-pki';
import { startProxy, type Proxy } from '../test/support/proxy';
import { connectApp, type App } from './app';
import type { RigConfig } from './config';
import { boardTarget } from './targets/board';
import { simTarget } from './targets/sim';
import type { BootOptions, RobotUnderTest, Target } from './targets/target';

export interface MissionRow {
	readonly thing: string;
	readonly missionId: string;
	readonly outcome: string;
	readonly mapReady?: boolean;
	readonly mapKey?: string;
	readonly [k: string]: unknown;
}

export interface Faults {
	/** The robot's link drops and new connections are refused until `restore`. */
	cut(): void;
	restore(): void;
	/** One-way delay on every chunk, both directions; 0 removes it. */
	latency(ms: number): void;
	/** The broker goes away for `pauseMs` and comes back on the same port (local cloud only). */
	restartBroker(pauseMs: number): Promise<void>;
	powerLoss(robot: RobotUnderTest): Promise<void>;
	clockJump(robot: RobotUnderTest, ms: number): Promise<void>;
}

export interface Rig {
	readonly config: RigConfig;
	/** Present with HIL_CLOUD=local. */
	readonly cloud: LocalCloud | undefined;
	readonly app: App;
	readonly target: Target;
	readonly faults: Faults;
	/** Control-plane and data-plane clients for what the SDK's service clients do not do. */
	readonly iot: IoTClient;
	readonly s3: S3Client;
	readonly registrationUrl: string | undefined;
	/**
	 * Every report delivery and handler outcome, from the local cloud's log (HIL_CLOUD=local):
	 * what can show a mission stored twice, which the table keyed by mission cannot.
	 */
	readonly reports: ReportLedger | undefined;
	/** Boots a robot that reaches the broker through the fault proxy. */
	boot(thing: string, options?: Omit<BootOptions, 'host' | 'port' | 'serverName'>): Promise<RobotUnderTest>;
	/** Credentials for a thing the cloud has never seen (registration); local cloud only. */
	unregisteredThing(thing: string): Promise<void>;
	missions(thing: string): Promise<MissionRow[]>;
	close(): Promise<void>;
}

const OPERATOR = 'hil-operator';

export async function startRig(config: RigConfig, progress: (msg: string) => void = () => {}): Promise<Rig> {
	const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hil-'));
	let cloud: LocalCloud | undefined;
	let broker: { host: string; port: number; serverName: string };
	let credentialsDir: (thing: string) => string;
	let app: App;
	let ddb: DynamoDBDocumentClient;
	let missionsTable: string | undefined;
	let iot: IoTClient;
	let s3: S3Client;
	let registrationUrl: string | undefined;
	const extraThings = new Map<string, string>();
	let reports: ReportLedger | undefined;

	if (config.cloud === 'local') {
		progress('starting the local cloud');
		reports = createReportLedger();
		cloud = await startLocalCloud({ dataDir: path.join(work, 'cloud'), things: [config.thing], operators: [OPERATOR], inMemory: true, log: reports.log });
		const c = cloud;
		broker = { host: c.broker.host, port: c.broker.port, serverName: 'localhost' };
		credentialsDir = (thing) => extraThings.get(thing) ?? c.pki.paths.thing(thing).dir;
		const op = c.pki.paths.thing(OPERATOR);
		app = await connectApp({
			host: '127.0.0.1',
			port: c.broker.port,
			ca: c.pki.ca.certPem,
			certPem: fs.readFileSync(op.certPem, 'utf8'),
			keyPem: fs.readFileSync(op.keyPem, 'utf8'),
			clientId: OPERATOR,
			protocol: 'mqtt311',
		});
		const aws = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
		ddb = createDocumentClient({ ...aws, endpoint: c.endpoints.dynamodb });
		missionsTable = c.tables.missions;
		iot = new IoTClient({ ...aws, endpoint: c.endpoints.iot });
		s3 = new S3Client({ ...aws, endpoint: c.endpoints.s3, forcePathStyle: true });
		registrationUrl = c.endpoints.registration;
	} else {
		const a = config.aws!;
		broker = { host: a.endpoint, port: 8883, serverName: a.endpoint };
		credentialsDir = (thing) => path.join(a.credentialsDir, 'things', thing);
		const op = path.join(a.credentialsDir, 'operator');
		progress(`connecting the operator (MQTT 5) to ${a.endpoint}`);
		app = await connectApp({
			host: a.endpoint,
			port: 8883,
			certPem: fs.readFileSync(path.join(op, 'cert.pem'), 'utf8'),
			keyPem: fs.readFileSync(path.join(op, 'key.pem'), 'utf8'),
			clientId: a.operatorId,
			protocol: 'mqtt5',
		});
		ddb = createDocumentClient({ region: a.region });
		missionsTable = a.missionsTable;
		iot = new IoTClient({ region: a.region });
		s3 = new S3Client({ region: a.region });
		registrationUrl = a.registrationUrl;
	}

	const b = config.board;
	const proxy: Proxy = await startProxy({ host: broker.host, port: broker.port }, b?.proxyPort ?? 0, b?.proxyHost ?? '127.0.0.1');
	const echo = config.verbose ? (thing: string, line: string) => console.log(`    ${thing} | ${line}`) : undefined;
	const target: Target =
		config.target === 'sim' ? simTarget({ credentials: credentialsDir, dataDir: path.join(work, 'robots'), ...(echo ? { echo } : {}) }) : boardTarget({ path: b!.path, baudRate: b!.baudRate, thing: config.thing, ...(echo ? { echo } : {}) });
	progress(`target ${target.name}, cloud ${config.cloud}, app over ${app.protocol}, proxy on ${b?.proxyHost ?? '127.0.0.1'}:${proxy.port}`);

	return {
		config,
		cloud,
		app,
		target,
		iot,
		s3,
		registrationUrl,
		reports,
		faults: {
			cut: () => proxy.cut(),
			restore: () => proxy.restore(),
			latency: (ms) => proxy.latency(ms),
			async restartBroker(pauseMs) {
				if (!cloud) throw new Error('a broker restart needs HIL_CLOUD=local: AWS IoT cannot be restarted from here');
				await cloud.stopBroker();
				await new Promise((r) => setTimeout(r, pauseMs));
				await cloud.startBroker();
			},
			powerLoss: (robot) => robot.powerLoss(),
			async clockJump(robot, ms) {
				const r = await robot.command({ cmd: 'clock-jump', ms });
				if (!r.ok) throw new Error(`clock-jump refused: ${r.error.reason}`);
			},
		},
		boot: (thing, options = {}) => target.boot(thing, { ...options, host: '127.0.0.1', port: proxy.port, serverName: broker.serverName }),
		async unregisteredThing(thing) {
			if (!cloud) throw new Error('a new thing needs HIL_CLOUD=local (on AWS: provision it with npm run provision)');
			const id = await issueDevice(cloud.pki, thing);
			const dir = path.join(work, 'new-things', thing);
			fs.mkdirSync(dir, { recursive: true });
			fs.writeFileSync(path.join(dir, 'ca.der'), id.caDer);
			fs.writeFileSync(path.join(dir, 'cert.der'), id.certDer);
			fs.writeFileSync(path.join(dir, 'key.der'), id.keyDer);
			extraThings.set(thing, dir);
		},
		async missions(thing) {
			if (!missionsTable) throw new Error('HIL_MISSIONS_TABLE is needed to read mission reports on AWS');
			const r = await ddb.send(new QueryCommand({ TableName: missionsTable, KeyConditionExpression: 'thing = :t', ExpressionAttributeValues: { ':t': thing }, ConsistentRead: true }));
			return (r.Items ?? []) as MissionRow[];
		},
		async close() {
			await target.close();
			await app.close();
			await proxy.close();
			ddb.destroy();
			iot.destroy();
			s3.destroy();
			await cloud?.close();
			fs.rmSync(work, { recursive: true, force: true });
		},
	};
}
