/*
 * The rig's configuration, from the environment: which robot (HIL_TARGET) against which
 * cloud (HIL_CLOUD). Checked up front: a missing or malformed variable is named in the
 * error and nothing starts.
 *
 *   HIL_TARGET      sim (default) | board
 *   HIL_CLOUD       local (default) | aws
 *   HIL_THING       the robot's thing name (default robot-hil-1)
 *   HIL_VERBOSE=1   echo every robot line
 * aws:
 *   AWS_IOT_ENDPOINT    the account's ATS data endpoint (xxxx-ats.iot.<region>.amazonaws.com)
 *   AWS_REGION          its region; API credentials from the SDK's default chain (AWS_PROFILE, ...)
 *   HIL_CREDENTIALS_DIR provisioning's output: things/<thing>/{ca,cert,key}.der for the robot,
 *                       operator/{cert.pem,key.pem} for the rig's app side
 *   HIL_OPERATOR_ID     the operator certificate's thing name / client id (default hil-operator)
 *   HIL_MISSIONS_TABLE  the stack's missions table
 *   HIL_REGISTRATION_URL the stack's registration API (.../register), for the registration scenario
 *   HIL_FIRMWARE_BUCKET the stack's firmware bucket, for the OTA scenario
 * board:
 *   HIL_SERIAL_PORT     e.g. /dev/ttyUSB0
 *   HIL_BAUD            default 115200
 *   HIL_PROXY_HOST      address the rig's fault proxy listens on, reachable from the board
 *                       (default 0.0.0.0); HIL_PROXY_PORT its port (default 8884): the board's
 *                       test build connects there
 */

import { isThingName } from '../firmware/core/contracts/thing';

export interface AwsCloudConfig {
	readonly endpoint: string;
	readonly region: string;
	readonly credentialsDir: string;
	readonly operatorId: string;
	readonly missionsTable: string | undefined;
	readonly registrationUrl: string | undefined;
	readonly firmwareBucket: string | undefined;
}

export interface BoardConfig {
	readonly path: string;
	readonly baudRate: number;
	readonly proxyHost: string;
	readonly proxyPort: number;
}

export interface RigConfig {
	readonly target: 'sim' | 'board';
	readonly cloud: 'local' | 'aws';
	readonly thing: string;
	readonly verbose: boolean;
	readonly aws: AwsCloudConfig | undefined;
	readonly board: BoardConfig | undefined;
}

export function rigConfig(env: Readonly<Record<string, string | undefined>>): RigConfig {
	const one = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
		const v = env[name] ?? fallback;
		if (!(allowed as readonly string[]).includes(v)) throw new RangeError(`${name} expected ${allowed.join(' or ')}, got ${JSON.stringify(v)}`);
		return v as T;
	};
	const need = (name: string): string => {
		const v = env[name];
		if (v === undefined || v === '') throw new RangeError(`${name} is required for this target/cloud`);
		return v;
	};
	const port = (name: string, fallback: number): number => {
		const raw = env[name];
		if (raw === undefined || raw === '') return fallback;
		const n = Number(raw);
		if (!Number.isInteger(n) || n < 1 || n > 65535) throw new RangeError(`${name} expected a port 1-65535, got ${JSON.stringify(raw)}`);
		return n;
	};
	const target = one('HIL_TARGET', ['sim', 'board'] as const, 'sim');
	const cloud = one('HIL_CLOUD', ['local', 'aws'] as const, 'local');
	const thing = env.HIL_THING ?? 'robot-hil-1';
	if (!isThingName(thing)) throw new RangeError(`HIL_THING expected a thing name ([A-Za-z0-9:_-], 1-128), got ${JSON.stringify(thing)}`);
	let aws: AwsCloudConfig | undefined;
	if (cloud === 'aws') {
		const endpoint = need('AWS_IOT_ENDPOINT');
		if (!/^[a-z0-9-]+(-ats)?\.iot\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(endpoint)) throw new RangeError(`AWS_IOT_ENDPOINT expected a host name like xxxx-ats.iot.eu-west-1.amazonaws.com, got ${JSON.stringify(endpoint)}`);
		const operatorId = env.HIL_OPERATOR_ID ?? 'hil-operator';
		if (!isThingName(operatorId)) throw new RangeError(`HIL_OPERATOR_ID expected a thing name, got ${JSON.stringify(operatorId)}`);
		const registrationUrl = env.HIL_REGISTRATION_URL;
		if (registrationUrl !== undefined && !/^https:\/\/[^/]+\/.*register$/.test(registrationUrl)) throw new RangeError(`HIL_REGISTRATION_URL expected https://.../register, got ${JSON.stringify(registrationUrl)}`);
		aws = {
			endpoint,
			region: need('AWS_REGION'),
			credentialsDir: need('HIL_CREDENTIALS_DIR'),
			operatorId,
			missionsTable: env.HIL_MISSIONS_TABLE,
			registrationUrl,
			firmwareBucket: env.HIL_FIRMWARE_BUCKET,
		};
	}
	let board: BoardConfig | undefined;
	if (target === 'board') {
		const baud = Number(env.HIL_BAUD ?? '115200');
		if (![9600, 57600, 115200, 230400, 460800, 921600].includes(baud)) throw new RangeError(`HIL_BAUD expected a standard rate (9600 ... 921600), got ${JSON.stringify(env.HIL_BAUD)}`);
		board = { path: need('HIL_SERIAL_PORT'), baudRate: baud, proxyHost: env.HIL_PROXY_HOST ?? '0.0.0.0', proxyPort: port('HIL_PROXY_PORT', 8884) };
	}
	return { target, cloud, thing, verbose: env.HIL_VERBOSE === '1', aws, board };
}
