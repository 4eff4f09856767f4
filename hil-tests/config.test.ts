/* The rig's configuration: what each target and cloud needs, refused with the variable's name. */
import assert from 'node:assert/strict';
import { rigConfig } from './config';

describe('hil config', () => {
	it('defaults to the sim target on the local cloud', () => {
		const c = rigConfig({});
		assert.equal(c.target, 'sim');
		assert.equal(c.cloud, 'local');
		assert.equal(c.thing, 'robot-hil-1');
		assert.equal(c.aws, undefined);
		assert.equal(c.board, undefined);
	});

	it('reads an AWS account and a board', () => {
		const c = rigConfig({
			HIL_TARGET: 'board',
			HIL_CLOUD: 'aws',
			HIL_THING: 'robot-42',
			AWS_IOT_ENDPOINT: 'abc123-ats.iot.eu-west-1.amazonaws.com',
			AWS_REGION: 'eu-west-1',
			HIL_CREDENTIALS_DIR: '/secure/fleet',
			HIL_MISSIONS_TABLE: 'robots-dev-missions',
			HIL_SERIAL_PORT: '/dev/ttyUSB0',
			HIL_PROXY_HOST: '192.168.1.20',
			HIL_PROXY_PORT: '9883',
		});
		assert.deepEqual(c.aws, {
			endpoint: 'abc123-ats.iot.eu-west-1.amazonaws.com',
			region: 'eu-west-1',
			credentialsDir: '/secure/fleet',
			operatorId: 'hil-operator',
			missionsTable: 'robots-dev-missions',
			registrationUrl: undefined,
			firmwareBucket: undefined,
		});
		assert.deepEqual(c.board, { path: '/dev/ttyUSB0', baudRate: 115200, proxyHost: '192.168.1.20', proxyPort: 9883 });
	});

	const bad: [Record<string, string>, RegExp][] = [
		[{ HIL_TARGET: 'qemu' }, /HIL_TARGET expected sim or board, got "qemu"/],
		[{ HIL_CLOUD: 'gcp' }, /HIL_CLOUD expected local or aws/],
		[{ HIL_THING: 'robots/+' }, /HIL_THING expected a thing name/],
		[{ HIL_CLOUD: 'aws' }, /AWS_IOT_ENDPOINT is required/],
		[{ HIL_CLOUD: 'aws', AWS_IOT_ENDPOINT: 'https://abc-ats.iot.eu-west-1.amazonaws.com' }, /AWS_IOT_ENDPOINT expected a host name/],
		[{ HIL_CLOUD: 'aws', AWS_IOT_ENDPOINT: 'abc-ats.iot.eu-west-1.amazonaws.com', AWS_REGION: 'eu-west-1' }, /HIL_CREDENTIALS_DIR is required/],
		[{ HIL_CLOUD: 'aws', AWS_IOT_ENDPOINT: 'abc-ats.iot.eu-west-1.amazonaws.com', AWS_REGION: 'eu-west-1', HIL_CREDENTIALS_DIR: '/x', HIL_REGISTRATION_URL: 'http://x/register' }, /HIL_REGISTRATION_URL expected https/],
		[{ HIL_TARGET: 'board' }, /HIL_SERIAL_PORT is required/],
		[{ HIL_TARGET: 'board', HIL_SERIAL_PORT: '/dev/ttyUSB0', HIL_BAUD: '100000' }, /HIL_BAUD expected a standard rate/],
		[{ HIL_TARGET: 'board', HIL_SERIAL_PORT: '/dev/ttyUSB0', HIL_PROXY_PORT: '70000' }, /HIL_PROXY_PORT expected a port/],
	];
	for (const [env, message] of bad) it(`refuses ${JSON.stringify(env)}`, () => assert.throws(() => rigConfig(env), message));
});
