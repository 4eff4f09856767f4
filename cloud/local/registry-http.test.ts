/*
 * The IoT registry operations over HTTP with SigV4 (registry-http.ts), through @aws-sdk/client-iot
 * against a local cloud: the same registry the broker admits CONNECTs by, so a certificate revoked
 * over HTTP is refused at the next CONNECT.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttachThingPrincipalCommand, CreateThingCommand, DeleteThingCommand, DescribeCertificateCommand, DescribeThingCommand, IoTClient, ListThingsCommand, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './credentials';
import { startLocalCloud, type LocalCloud } from './index';
import { certificateId } from './rules/index';
import { connectThing } from '../../test/support/mqtt-client';

const rejectsAs = (name: string, status: number) => (e: { name: string; $metadata: { httpStatusCode: number } }) => {
	assert.equal(e.name, name);
	assert.equal(e.$metadata.httpStatusCode, status);
	return true;
};

describe('local IoT registry over HTTP + SigV4 (CreateThing, DescribeThing, DeleteThing, ListThings, AttachThingPrincipal, UpdateCertificate, DescribeCertificate)', function () {
	this.timeout(60_000);
	let dir: string;
	let cloud: LocalCloud;
	let iot: IoTClient;

	before(async () => {
		dir = mkdtempSync(join(tmpdir(), 'registry-http-'));
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1', 'robot-2'], inMemory: true });
		iot = new IoTClient({ endpoint: cloud.endpoints.iot, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
	});
	after(async () => {
		iot?.destroy();
		await cloud?.close();
		rmSync(dir, { recursive: true, force: true });
	});

	it('creates, describes, lists with attributes and pages, and deletes things', async () => {
		const made = await iot.send(new CreateThingCommand({ thingName: 'vac-a', attributePayload: { attributes: { model: 'x1' } } }));
		assert.match(made.thingArn!, /^arn:aws:iot:us-east-1:\d{12}:thing\/vac-a$/);
		// the same call again answers the same thing; other attributes are a conflict
		assert.equal((await iot.send(new CreateThingCommand({ thingName: 'vac-a', attributePayload: { attributes: { model: 'x1' } } }))).thingId, made.thingId);
		await assert.rejects(iot.send(new CreateThingCommand({ thingName: 'vac-a', attributePayload: { attributes: { model: 'x2' } } })), rejectsAs('ResourceAlreadyExistsException', 409));
		await iot.send(new CreateThingCommand({ thingName: 'vac-b' }));
		const d = await iot.send(new DescribeThingCommand({ thingName: 'vac-a' }));
		assert.deepEqual([d.thingName, d.thingArn, d.thingId, d.attributes, d.version, d.defaultClientId], ['vac-a', made.thingArn, made.thingId, { model: 'x1' }, 1, 'vac-a']);
		await assert.rejects(iot.send(new DescribeThingCommand({ thingName: 'nobody' })), rejectsAs('ResourceNotFoundException', 404));

		const all = await iot.send(new ListThingsCommand({}));
		assert.deepEqual(
			all.things!.map((t) => t.thingName),
			['robot-1', 'robot-2', 'vac-a', 'vac-b'],
		);
		const byModel = await iot.send(new ListThingsCommand({ attributeName: 'model', attributeValue: 'x1' }));
		assert.deepEqual(
			byModel.things!.map((t) => t.thingName),
			['vac-a'],
		);
		const seen: string[] = [];
		let nextToken: string | undefined;
		do {
			const p = await iot.send(new ListThingsCommand({ maxResults: 3, ...(nextToken ? { nextToken } : {}) }));
			seen.push(...p.things!.map((t) => t.thingName!));
			nextToken = p.nextToken;
		} while (nextToken);
		assert.deepEqual(seen, ['robot-1', 'robot-2', 'vac-a', 'vac-b']);

		await iot.send(new DeleteThingCommand({ thingName: 'vac-b' }));
		await iot.send(new DeleteThingCommand({ thingName: 'vac-b' })); // AWS: no error for a thing that does not exist
		await assert.rejects(iot.send(new DescribeThingCommand({ thingName: 'vac-b' })), rejectsAs('ResourceNotFoundException', 404));
		await assert.rejects(iot.send(new CreateThingCommand({ thingName: 'bad/name' })), (e: { $metadata: { httpStatusCode: number } }) => e.$metadata.httpStatusCode >= 400);
	});

	it('attaches a certificate to a thing; a thing with a principal cannot be deleted', async () => {
		const id = certificateId(cloud.pki.things.get('robot-2')!.certDer);
		const cert = await iot.send(new DescribeCertificateCommand({ certificateId: id }));
		const arn = cert.certificateDescription!.certificateArn!;
		await iot.send(new CreateThingCommand({ thingName: 'vac-c' }));
		await iot.send(new AttachThingPrincipalCommand({ thingName: 'vac-c', principal: arn }));
		assert.ok(cloud.registration.registry.thing('vac-c')!.principals.has(arn), 'the one registry holds the attachment');
		await assert.rejects(iot.send(new DeleteThingCommand({ thingName: 'vac-c' })), rejectsAs('InvalidRequestException', 400));
		await assert.rejects(iot.send(new AttachThingPrincipalCommand({ thingName: 'nobody', principal: arn })), rejectsAs('ResourceNotFoundException', 404));
	});

	it('describes a certificate, and a certificate revoked over HTTP is refused at the next CONNECT', async () => {
		const identity = cloud.pki.things.get('robot-1')!;
		const id = certificateId(identity.certDer);
		const d = (await iot.send(new DescribeCertificateCommand({ certificateId: id }))).certificateDescription!;
		assert.equal(d.certificateId, id);
		assert.equal(d.status, 'ACTIVE');
		assert.match(d.certificatePem!, /^-----BEGIN CERTIFICATE-----/);
		assert.ok(d.validity?.notAfter instanceof Date && d.validity.notAfter.getTime() > Date.now());
		assert.ok(d.creationDate instanceof Date);
		await assert.rejects(iot.send(new DescribeCertificateCommand({ certificateId: 'f'.repeat(64) })), rejectsAs('ResourceNotFoundException', 404));

		const c = await connectThing({ port: cloud.broker.port, identity });
		c.end(true);
		await assert.rejects(iot.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'BOGUS' as never })), rejectsAs('InvalidRequestException', 400));
		await iot.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'REVOKED' }));
		assert.equal((await iot.send(new DescribeCertificateCommand({ certificateId: id }))).certificateDescription!.status, 'REVOKED');
		await assert.rejects(connectThing({ port: cloud.broker.port, identity }));
	});
});
