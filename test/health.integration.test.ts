/*
 * Health on the status shadow, end to end: a robot (createRobot with the host's health
 * port) against the local cloud reports firmware, uptime, reboot reason, reconnects, last
 * link error, heap and storage once it is connected; the app reads them from the shadow.
 * The OTA agent shares the status shadow: both its firmware record and health are there.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetThingShadowCommand, IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { createRobot } from '../firmware/core/robot/robot';
import { createFileStorage, hostPorts, memoryLog } from '../firmware/platform/host/index';
import { createHostHealth } from '../firmware/platform/host/health';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';

describe('health on the status shadow (local cloud)', function () {
	this.timeout(60_000);
	let cloud: LocalCloud;
	let dir: string;
	let data: IoTDataPlaneClient;

	before(async () => {
		dir = mkdtempSync(path.join(tmpdir(), 'health-'));
		cloud = await startLocalCloud({ dataDir: path.join(dir, 'cloud'), things: ['robot-1'], inMemory: true });
		data = new IoTDataPlaneClient({ region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS }, endpoint: cloud.endpoints.iotData });
	});
	after(async () => {
		data?.destroy();
		await cloud?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	it('reports its health once connected, with the figures the host has', async () => {
		const identity = cloud.pki.things.get('robot-1')!;
		const storageDir = path.join(dir, 'robot');
		const log = memoryLog();
		const robot = createRobot(hostPorts(createFileStorage(storageDir), log), {
			thing: 'robot-1',
			endpoint: { host: '127.0.0.1', port: cloud.broker.port, tls: { ca: identity.caDer, certificates: [identity.certDer], key: identity.keyDer, serverName: 'localhost' } },
			health: { port: createHostHealth({ resetReason: 'software', storage: { dir: storageDir, totalBytes: 24_576 } }), firmware: '3.1.4' },
		});
		robot.start();
		try {
			let health: Record<string, unknown> | undefined;
			for (let i = 0; i < 200 && !health; i++) {
				await new Promise((r) => setTimeout(r, 50));
				try {
					const doc = JSON.parse(new TextDecoder().decode((await data.send(new GetThingShadowCommand({ thingName: 'robot-1', shadowName: 'status' }))).payload)) as {
						state: { reported?: { health?: Record<string, unknown> } };
					};
					health = doc.state.reported?.health;
				} catch {
					// no status shadow yet
				}
			}
			assert.ok(health, 'no health on the status shadow: ' + JSON.stringify(log.lines.filter((l) => l.event.startsWith('health'))));
			assert.equal(health.firmware, '3.1.4');
			assert.equal(health.rebootReason, 'software');
			assert.equal(health.reconnects, 1);
			// null in a shadow update deletes the field (AWS's rule): no error, and an old one cleared
			assert.equal('lastLinkError' in health, false);
			assert.ok(typeof health.uptimeS === 'number' && health.uptimeS >= 0);
			assert.ok(typeof health.freeHeap === 'number' && health.freeHeap > 0);
			assert.ok(typeof health.largestFreeBlock === 'number');
			assert.equal(health.storageTotal, 24_576);
			assert.ok(typeof health.storageUsed === 'number');
			assert.equal('rssi' in health, false, 'a host has no Wi-Fi: no RSSI rather than a made-up one');
			assert.equal(robot.health?.sent, 1);
		} finally {
			robot.stop();
		}
	});
});
