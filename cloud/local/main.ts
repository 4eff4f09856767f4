/*
 * `npx tsx cloud/local/main.ts [--data DIR] [--port N] [--things a,b]`: runs the
 * local cloud until SIGINT/SIGTERM, printing its endpoints and the dev CA path.
 */
import { parseArgs } from 'node:util';
import { startLocalCloud } from './index';
import { jsonLineLog } from './log';

const { values } = parseArgs({
	options: {
		data: { type: 'string', default: '.data/local-cloud' },
		port: { type: 'string', default: '8883' },
		things: { type: 'string', default: 'robot-1' },
	},
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
	console.error('--port expected 0..65535, got ' + values.port);
	process.exit(2);
}
const cloud = await startLocalCloud({ dataDir: values.data!, mqttPort: port, things: values.things!.split(',').filter(Boolean), log: jsonLineLog() });
console.log(`local cloud up\n  mqtt    ${cloud.endpoints.mqtt}\n  dev CA  ${cloud.endpoints.caPath}\n  things  ${cloud.pki.paths.thing('x').dir.replace(/x$/, '')}<thing>/\nCtrl-C stops it.`);
let closing = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const)
	process.on(sig, () => {
		if (closing) return;
		closing = true;
		void cloud.close().then(() => process.exit(0));
	});
