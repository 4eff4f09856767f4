/*
 * Offline-first schedule, end to end on the local cloud: the robot (firmware core
 * on the host platform) goes offline, the app changes the schedule through the
 * shadow HTTP data plane (`@aws-sdk/client-iot-data-plane`, as the mobile app's
 * backend would), the robot comes back and both sides converge. An invalid
 * desired schedule is refused without stopping the one that runs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { createRobot, type Robot } from '../firmware/core/robot/robot';
import { createMemoryStorage, hostPorts, memoryLog, readCredentials } from '../firmware/platform/host/index';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startProxy, type Proxy } from './support/proxy';
import type { Schedule } from '../firmware/core/schedule/model';

const weekdays: Schedule = {
	tz: 'CET-1CEST,M3.5.0,M10.5.0/3',
	entries: [{ id: 'weekday', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:30', enabled: true, mode: 'vacuum', rooms: ['kitchen', 'hall'] }],
};
const weekend: Schedule = { tz: 'CET-1CEST,M3.5.0,M10.5.0/3', entries: [{ id: 'weekend', days: ['sat', 'sun'], start: '11:00', enabled: true }] };

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
	const t0 = Date.now();
	while (!(await cond())) {
		if (Date.now() - t0 > ms) throw new Error('timed out waiting for ' + what);
		await new Promise((r) => setTimeout(r, 20));
	}
}

describe('schedule shadow end to end on the local cloud', function () {
	this.timeout(30_000);
	let dir: string;
	let cloud: LocalCloud;
	let proxy: Proxy;
	let robot: Robot;
	let app: IoTDataPlaneClient;
	const log = memoryLog();

	const shadow = async () => {
		const r = await app.send(new GetThingShadowCommand({ thingName: 'robot-1', shadowName: 'schedule' }));
		return JSON.parse(new TextDecoder().decode(r.payload)) as { state: { desired?: Record<string, unknown>; reported?: Record<string, unknown> }; version: number };
	};
	const appSets = (schedule: unknown) => app.send(new UpdateThingShadowCommand({ thingName: 'robot-1', shadowName: 'schedule', payload: new TextEncoder().encode(JSON.stringify({ state: { desired: { schedule } } })) }));

	before(async () => {
		dir = mkdtempSync(path.join(tmpdir(), 'schedule-e2e-'));
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1'], inMemory: true });
		proxy = await startProxy({ host: '127.0.0.1', port: cloud.broker.port });
		app = new IoTDataPlaneClient({ endpoint: cloud.endpoints.iotData, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
		robot = createRobot(hostPorts(createMemoryStorage(), log), {
			thing: 'robot-1',
			endpoint: { host: '127.0.0.1', port: proxy.port, tls: { ...readCredentials(cloud.pki.paths.thing('robot-1').dir), serverName: 'localhost' } },
			link: { backoff: { baseMs: 50, capMs: 300 } },
			shadowTimeoutMs: 3000,
		});
		robot.start();
	});
	after(async () => {
		robot?.stop();
		app?.destroy();
		await proxy?.close();
		await cloud?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	it('reports the schedule it runs when the shadow has none', async () => {
		await until('synced', () => robot.schedule.state.value === 'synced');
		const s = await shadow();
		assert.deepEqual(s.state.reported?.schedule, { tz: 'UTC0', entries: [] });
	});

	it('applies an edit made while it was offline when it comes back, and reports it', async () => {
		proxy.cut();
		await until('offline', () => robot.link.state.value !== 'connected');
		await appSets(weekdays);
		assert.deepEqual((await shadow()).state.desired?.schedule, weekdays, 'the edit waits in desired');
		assert.deepEqual(robot.schedule.value, { tz: 'UTC0', entries: [] }, 'the robot has not seen it');
		proxy.restore();
		await until('converged', async () => {
			const s = await shadow();
			return robot.schedule.state.value === 'synced' && s.state.desired?.schedule === undefined && isDeepStrictEqual(s.state.reported?.schedule, weekdays);
		});
		assert.deepEqual(robot.schedule.value, weekdays);
		assert.ok(log.lines.some((l) => l.event === 'sync.desired_applied'));
	});

	it('takes an edit made while online through the delta', async () => {
		await appSets(weekend);
		await until('applied', () => isDeepStrictEqual(robot.schedule.value, weekend));
		await until('desired cleared', async () => (await shadow()).state.desired?.schedule === undefined);
	});

	it('refuses an invalid desired schedule with the reason in reported, and keeps cleaning on the old one', async () => {
		await appSets({ tz: 'CET-1CEST,M3.5.0,M10.5.0/3', entries: [{ id: 'x', days: ['mon'], start: '25:00', enabled: true }] });
		await until('rejected', async () => Boolean((await shadow()).state.reported?.scheduleError));
		const s = await shadow();
		assert.match(JSON.stringify(s.state.reported?.scheduleError), /entries\[0\]\.start/);
		assert.equal(s.state.desired?.schedule, undefined, 'the refused edit is cleared from desired (an emptied desired stays as {}, as on AWS)');
		assert.deepEqual(s.state.reported?.schedule, weekend);
		assert.deepEqual(robot.schedule.value, weekend, 'the robot still runs the schedule it had');
	});

	it('a local edit made offline that is newer than the app edit wins, and both sides end equal', async () => {
		proxy.cut();
		await until('offline', () => robot.link.state.value !== 'connected');
		await appSets(weekdays);
		await new Promise((r) => setTimeout(r, 1100)); // a later second: AWS metadata has second resolution
		const local: Schedule = { tz: 'UTC0', entries: [{ id: 'button', days: ['wed'], start: '07:00', enabled: true }] };
		assert.deepEqual(robot.schedule.edit(local), { ok: true });
		proxy.restore();
		await until('converged on the robot edit', async () => {
			const s = await shadow();
			return robot.schedule.state.value === 'synced' && s.state.desired?.schedule === undefined && isDeepStrictEqual(s.state.reported?.schedule, local);
		});
		assert.deepEqual(robot.schedule.value, local);
	});
});
