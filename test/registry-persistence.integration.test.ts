/*
 * The local IoT registry survives a restart of a local cloud that keeps its data dir
 * (cloud/local/iot-registry-store.ts): a robot registered through the registration API
 * connects after the restart, a revoked certificate (registered or dev PKI) stays refused,
 * each certificate's status history and the robots table are still there. A bad registry
 * file stops the start with an error naming it, and is not written over.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IoTClient } from '@aws-sdk/client-iot';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { certificateId, register } from '../firmware/core/registration/registration';
import { createHostDeviceKey, hostCrypto } from '../firmware/platform/host/crypto';
import { createHttpPort } from '../firmware/platform/host/http';
import { createMemoryStorage, hostClock, hostRandom, hostTimers, memoryLog } from '../firmware/platform/host/index';
import { createDocumentClient } from '../cloud/lib/aws';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../cloud/local/credentials';
import { startLocalCloud, type LocalCloud } from '../cloud/local/index';
import { REGISTRY_FILE } from '../cloud/local/iot-registry-store';
import { issueDevice, type DeviceIdentity } from '../cloud/local/dev-pki';
import { changeCertificate, certificateHistory } from '../tools/certs/lifecycle';
import { connectThing } from './support/mqtt-client';

const refusedWith5 = (err: Error & { code?: number }) => {
	assert.equal(err.code, 5);
	return true;
};

describe('the local IoT registry across a restart', function () {
	this.timeout(90_000);
	let dir: string;
	let cloud: LocalCloud | undefined;
	const start = () => startLocalCloud({ dataDir: dir, things: ['robot-dev'], registrationVisibilityS: 1 });

	before(async () => {
		dir = await mkdtemp(path.join(tmpdir(), 'registry-persist-'));
	});
	after(async () => {
		await cloud?.close();
		await rm(dir, { recursive: true, force: true });
	});

	async function registerRobot(c: LocalCloud, identity: DeviceIdentity): Promise<string> {
		const ports = {
			http: createHttpPort({ ca: c.pki.ca.certDer, serverName: 'localhost' }),
			deviceKey: createHostDeviceKey(identity.keyDer),
			crypto: hostCrypto,
			clock: hostClock,
			timers: hostTimers,
			random: hostRandom,
			storage: createMemoryStorage(),
			log: memoryLog(),
		};
		const r = await register(ports, { url: c.endpoints.registration, thing: identity.thing, certificate: identity.certDer, maxAttempts: 40, backoff: { baseMs: 100, capMs: 400 } });
		assert.ok(r.ok, JSON.stringify(r));
		return r.value.certificateId;
	}
	async function withClients<T>(c: LocalCloud, f: (iot: IoTClient, ddb: ReturnType<typeof createDocumentClient>) => Promise<T>): Promise<T> {
		const aws = { region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
		const iot = new IoTClient({ ...aws, endpoint: c.endpoints.iot });
		const ddb = createDocumentClient({ ...aws, endpoint: c.endpoints.dynamodb });
		try {
			return await f(iot, ddb);
		} finally {
			iot.destroy();
			ddb.destroy();
		}
	}
	const connect = async (c: LocalCloud, identity: DeviceIdentity) => {
		const client = await connectThing({ port: c.broker.port, identity, ca: c.pki.ca.certPem });
		client.end(true);
	};

	it('a registered robot connects after the restart; revocations and status histories are kept', async () => {
		cloud = await start();
		const robot = await issueDevice(cloud.pki, 'robot-reg');
		const gone = await issueDevice(cloud.pki, 'robot-gone');
		const robotId = await registerRobot(cloud, robot);
		const goneId = await registerRobot(cloud, gone);
		assert.equal(robotId, certificateId(hostCrypto, robot.certDer));
		await connect(cloud, robot);
		await connect(cloud, gone);
		// revoked by the operators' tool: UpdateCertificate over the IoT endpoint, recorded in the robots table
		const revoked = await withClients(cloud, (iot, ddb) => changeCertificate({ iot, ddb, table: cloud!.tables.robots, thing: 'robot-gone', action: 'revoke', by: 'ops@example.com', reason: 'stolen' }));
		const devId = certificateId(hostCrypto, cloud.pki.things.get('robot-dev')!.certDer);
		cloud.registration.registry.setCertificateStatus(devId, 'INACTIVE');
		const before = cloud.registration.registry.certificate(goneId)!;
		const beforeHistory = before.history.map((h) => ({ ...h }));
		const thingId = cloud.registration.registry.thing('robot-reg')!.id;
		await cloud.close();
		cloud = undefined;

		cloud = await start();
		const registry = cloud.registration.registry;
		// the registered robot: ACTIVE, attached, with its policy; it connects
		assert.equal(registry.certificate(robotId)!.status, 'ACTIVE');
		assert.equal(registry.thing('robot-reg')!.id, thingId);
		assert.equal(registry.certificate(robotId)!.policies.size, 1);
		await connect(cloud, robot);
		// the revoked one and the deactivated dev-PKI robot stay refused (the start re-enters the dev PKI without reviving it)
		await assert.rejects(connect(cloud, gone), refusedWith5);
		await assert.rejects(connect(cloud, cloud.pki.things.get('robot-dev')!), refusedWith5);
		assert.equal(registry.certificate(devId)!.status, 'INACTIVE');
		// the status histories
		assert.deepEqual(registry.certificate(goneId)!.history, beforeHistory);
		assert.deepEqual(
			registry.certificate(goneId)!.history.map((h) => h.status),
			['ACTIVE', 'REVOKED'],
		);
		assert.deepEqual(
			registry.certificate(devId)!.history.map((h) => h.status),
			['ACTIVE', 'INACTIVE'],
		);
		assert.equal(registry.certificate(goneId)!.modifiedAt, before.modifiedAt);
		// the robots table kept the registration and the recorded change; the tool still knows the certificate is REVOKED
		await withClients(cloud, async (iot, ddb) => {
			const item = (await ddb.send(new GetCommand({ TableName: cloud!.tables.robots, Key: { thing: 'robot-reg' }, ConsistentRead: true }))).Item!;
			assert.equal(item.status, 'registered');
			assert.equal(item.certificateId, robotId);
			assert.deepEqual(await certificateHistory(ddb, cloud!.tables.robots, 'robot-gone'), [revoked]);
			await assert.rejects(changeCertificate({ iot, ddb, table: cloud!.tables.robots, thing: 'robot-gone', action: 'reinstate', by: 'ops@example.com', reason: 'found' }), /is REVOKED/);
		});
		// a change after the restart is kept too: reactivating the dev robot lets it in again
		registry.setCertificateStatus(devId, 'ACTIVE');
		await connect(cloud, cloud.pki.things.get('robot-dev')!);
		await cloud.close();
		cloud = undefined;
	});

	for (const [what, text] of [
		['not JSON', '{"version":1,"cas":['],
		['the wrong shape', JSON.stringify({ version: 1, cas: [], certificates: [{ id: 'x' }], things: [] })],
		['an unknown version', JSON.stringify({ version: 2, cas: [], certificates: [], things: [] })],
	] as const) {
		it(`a registry file that is ${what} stops the start with an error naming it, and is left as it was`, async () => {
			const file = path.join(dir, 'iot', REGISTRY_FILE);
			const good = await readFile(file, 'utf8');
			await writeFile(file, text);
			await assert.rejects(start(), (e: Error) => {
				assert.ok(e.message.includes(file), e.message);
				assert.match(e.message, /left as it is/);
				return true;
			});
			assert.equal(await readFile(file, 'utf8'), text);
			await writeFile(file, good);
		});
	}
});
