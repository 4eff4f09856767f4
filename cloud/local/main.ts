/*
 * `npx tsx cloud/local/main.ts [--data DIR] [--port N] [--things a,b] [--memory]`: runs
 * the local cloud until SIGINT/SIGTERM, printing its endpoints and the dev CA path.
 */
import { parseArgs } from 'node:util';
import { startLocalCloud } from './index';
import { jsonLineLog } from './log';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './credentials';

const { values } = parseArgs({
	options: {
		data: { type: 'string', default: '.data/local-cloud' },
		port: { type: 'string', default: '8883' },
		things: { type: 'string', default: 'robot-1' },
		memory: { type: 'boolean', default: false },
	},
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
	console.error('--port expected 0..65535, got ' + values.port);
	process.exit(2);
}
const cloud = await startLocalCloud({ dataDir: values.data!, mqttPort: port, things: values.things!.split(',').filter(Boolean), log: jsonLineLog(), inMemory: values.memory });
const e = cloud.endpoints;
console.log(`local cloud up (state in ${values.memory ? 'memory' : values.data})
  mqtt (AWS IoT Core)         ${e.mqtt}
  iot data plane (shadows)    ${e.iotData}
  iot control plane (jobs)    ${e.iot}
  s3                          ${e.s3}
  kms                         ${e.kms}
  dynamodb                    ${e.dynamodb}
  sqs                         ${e.sqs}
  dev CA                      ${e.caPath}
  region ${LOCAL_REGION}, access key ${LOCAL_CREDENTIALS.accessKeyId} (see cloud/local/credentials.ts)
Ctrl-C stops it.`);
let closing = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const)
	process.on(sig, () => {
		if (closing) return;
		closing = true;
		void cloud.close().then(() => {
			console.log('local cloud stopped');
			process.exit(0);
		});
	});
