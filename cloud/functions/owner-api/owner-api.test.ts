/*
 * The owners' API on the local cloud: sign-in through the local user pool's InitiateAuth, the
 * JWT authorizer (no token, a forged, expired or foreign-key token: 401), every route tried with
 * another owner's token and refused, the claim flows (wrong, expired, used code; a robot already
 * owned; the same owner twice) and unbinding (access gone, the schedule reset on the robot's shadow).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetThingShadowCommand, IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../lib/aws';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/credentials';
import { startLocalCloud, type LocalCloud } from '../../local/index';
import { decodedKey } from '../upload-slot/contract';
import { pairingDigest, PAIRING_SHADOW, ROUTES } from './routes';

type Json = Record<string, any>;

describe('owner API (local HTTP API with JWT authorizer, the owner-api Lambdas)', function () {
	this.timeout(30_000);
	let dir: string;
	let cloud: LocalCloud;
	let iotData: IoTDataPlaneClient;
	let alice: string;
	let bob: string;

	const call = async (method: string, p: string, token?: string, body?: unknown): Promise<{ status: number; body: Json }> => {
		const r = await fetch(cloud.endpoints.ownerApi + p, {
			method,
			headers: { ...(token ? { authorization: 'Bearer ' + token } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
			...(body !== undefined ? { body: JSON.stringify(body) } : {}),
		});
		return { status: r.status, body: (await r.json()) as Json };
	};
	const showCode = async (thing: string, code: string, expiresAt = Math.floor(Date.now() / 1000) + 600) => {
		await iotData.send(
			new UpdateThingShadowCommand({
				thingName: thing,
				shadowName: PAIRING_SHADOW,
				payload: new TextEncoder().encode(JSON.stringify({ state: { reported: { pairing: { digest: pairingDigest(thing, code), expiresAt } } } })),
			}),
		);
	};
	const signIn = async (email: string, password: string): Promise<{ status: number; body: Json }> => {
		const r = await fetch(cloud.endpoints.ownerAuth, {
			method: 'POST',
			headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityProviderService.InitiateAuth' },
			body: JSON.stringify({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: cloud.owners.auth.clientId, AuthParameters: { USERNAME: email, PASSWORD: password } }),
		});
		return { status: r.status, body: (await r.json()) as Json };
	};

	before(async () => {
		dir = await mkdtemp(path.join(tmpdir(), 'owner-api-'));
		cloud = await startLocalCloud({ dataDir: dir, things: ['robot-1', 'robot-2'], inMemory: true });
		iotData = new IoTDataPlaneClient({ endpoint: cloud.endpoints.iotData, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } });
		cloud.owners.auth.createOwner('alice@example.com', 'alice-password');
		cloud.owners.auth.createOwner('bob@example.com', 'bob-password');
		const a = await signIn('alice@example.com', 'alice-password');
		assert.equal(a.status, 200);
		alice = a.body.AuthenticationResult.IdToken;
		bob = cloud.owners.auth.issue('bob@example.com');
	});
	after(async () => {
		iotData?.destroy();
		await cloud?.close();
		await rm(dir, { recursive: true, force: true });
	});

	it('sign-in: a wrong password is NotAuthorizedException; a token is an RS256 JWT for the app client', async () => {
		const r = await signIn('alice@example.com', 'nope-nope-nope');
		assert.equal(r.status, 400);
		assert.equal(r.body.__type, 'NotAuthorizedException');
		const claims = JSON.parse(Buffer.from(alice.split('.')[1]!, 'base64url').toString()) as Json;
		assert.equal(claims.aud, cloud.owners.auth.clientId);
		assert.equal(claims.iss, cloud.owners.auth.issuer);
		assert.equal(JSON.parse(Buffer.from(alice.split('.')[0]!, 'base64url').toString()).alg, 'RS256');
	});

	it('every route refuses no token, a forged one, an expired one, alg none and a foreign key: 401', async () => {
		const [h, b] = alice.split('.') as [string, string, string];
		const claims = JSON.parse(Buffer.from(b, 'base64url').toString()) as Json;
		const forgedBody = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
		const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url') + '.' + b + '.';
		const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
		const foreign = h + '.' + b + '.' + sign('RSA-SHA256', Buffer.from(h + '.' + b), privateKey).toString('base64url');
		const expired = cloud.owners.auth.issue('alice@example.com', -10);
		const bad = [undefined, h + '.' + forgedBody + '.' + alice.split('.')[2], none, foreign, expired, 'not-a-jwt'];
		for (const route of ROUTES) {
			const [method, template] = route.split(' ') as [string, string];
			const p = template.replace('{thing}', 'robot-1').replace('{executionId}', 'e1').replace('{missionId}', 'm-1');
			for (const token of bad) {
				const r = await call(method, p, token, method === 'GET' || method === 'DELETE' ? undefined : {});
				assert.equal(r.status, 401, route + ' with ' + String(token).slice(0, 20));
				assert.deepEqual(r.body, { message: 'Unauthorized' });
			}
		}
	});

	it('claim: no code shown, a wrong code and an expired code are refused with the reason; the right one binds once', async () => {
		assert.equal((await call('POST', '/robots/claim', alice, { thing: 'robot-1', code: 'ABCD2345' })).body.error, 'NoPairingCode');
		await showCode('robot-1', 'ABCD2345', Math.floor(Date.now() / 1000) - 1);
		assert.equal((await call('POST', '/robots/claim', alice, { thing: 'robot-1', code: 'ABCD2345' })).body.error, 'PairingCodeExpired');
		await showCode('robot-1', 'ABCD2345');
		const wrong = await call('POST', '/robots/claim', alice, { thing: 'robot-1', code: 'WXYZ6789' });
		assert.deepEqual([wrong.status, wrong.body.error], [400, 'WrongPairingCode']);
		assert.equal((await call('POST', '/robots/claim', alice, { thing: 'robot-1', code: 'lower' })).status, 400);
		const ok = await call('POST', '/robots/claim', alice, { thing: 'robot-1', code: 'ABCD2345' });
		assert.equal(ok.status, 200);
		// the code is used up: the same claim again finds none
		assert.equal((await call('POST', '/robots/claim', alice, { thing: 'robot-1', code: 'ABCD2345' })).body.error, 'NoPairingCode');
		// a new code on the robot: its owner is told it is already hers; another owner is refused
		await showCode('robot-1', 'QRST2345');
		const again = await call('POST', '/robots/claim', alice, { thing: 'robot-1', code: 'QRST2345' });
		assert.deepEqual([again.status, again.body.error], [409, 'AlreadyYours']);
		const taken = await call('POST', '/robots/claim', bob, { thing: 'robot-1', code: 'QRST2345' });
		assert.deepEqual([taken.status, taken.body.error], [409, 'RobotOwned']);
		assert.deepEqual(
			(await call('GET', '/robots', alice)).body.robots.map((r: Json) => r.thing),
			['robot-1'],
		);
		assert.deepEqual((await call('GET', '/robots', bob)).body.robots, []);
	});

	it("another owner's token is refused on every route of alice's robot; hers works on each", async () => {
		// a map for a mission of robot-1
		const ddb = createDocumentClient({ region: LOCAL_REGION, endpoint: cloud.endpoints.dynamodb, credentials: { ...LOCAL_CREDENTIALS } });
		const s3 = new S3Client({ region: LOCAL_REGION, endpoint: cloud.endpoints.s3, credentials: { ...LOCAL_CREDENTIALS }, forcePathStyle: true });
		try {
			await ddb.send(
				new PutCommand({
					TableName: cloud.tables.missions,
					Item: { thing: 'robot-1', missionId: 'm-1', outcome: 'finished', areaM2: 42, durationS: 3600, startedAt: 1, mapReady: true },
				}),
			);
			await s3.send(new PutObjectCommand({ Bucket: 'maps', Key: decodedKey('robot-1', 'm-1'), Body: new Uint8Array([82, 77, 65, 80]) }));
		} finally {
			ddb.destroy();
			s3.destroy();
		}
		const schedule = { tz: 'UTC0', entries: [{ id: 'morning', days: ['mon'], start: '09:00', enabled: true, mode: 'vacuum', rooms: ['kitchen'] }] };
		const started = await call('POST', '/robots/robot-1/commands', alice, { action: 'locate' });
		assert.equal(started.status, 202);
		const cases: [string, string, unknown?][] = [
			['GET', '/robots/robot-1'],
			['PUT', '/robots/robot-1/schedule', { schedule }],
			['POST', '/robots/robot-1/commands', { action: 'clean', rooms: ['kitchen'] }],
			['GET', '/robots/robot-1/commands/' + started.body.executionId],
			['GET', '/robots/robot-1/missions'],
			['GET', '/robots/robot-1/missions/m-1/map'],
			['DELETE', '/robots/robot-1'],
		];
		for (const [method, p, body] of cases) {
			const r = await call(method, p, bob, body);
			assert.deepEqual([r.status, r.body.error], [403, 'NotYourRobot'], method + ' ' + p);
		}
		// hers (all but DELETE, which is the next case)
		const state = await call('GET', '/robots/robot-1', alice);
		assert.equal(state.status, 200);
		assert.equal(state.body.rooms, null, 'no rooms until the robot reports them');
		// the robot reports the rooms it knows on its status shadow (firmware/core/commands/rooms.ts)
		const reportStatus = (reported: unknown) => iotData.send(new UpdateThingShadowCommand({ thingName: 'robot-1', shadowName: 'status', payload: new TextEncoder().encode(JSON.stringify({ state: { reported } })) }));
		await reportStatus({ rooms: ['kitchen', 'den'] });
		const withRooms = await call('GET', '/robots/robot-1', alice);
		assert.deepEqual(withRooms.body.rooms, ['kitchen', 'den']);
		assert.deepEqual(withRooms.body.status.rooms, ['kitchen', 'den']);
		// what the robot's own rule would refuse is not offered
		await reportStatus({ rooms: ['Kitchen!'] });
		assert.equal((await call('GET', '/robots/robot-1', alice)).body.rooms, null);
		assert.equal((await call('PUT', '/robots/robot-1/schedule', alice, { schedule })).status, 200);
		const invalid = await call('PUT', '/robots/robot-1/schedule', alice, { schedule: { tz: 'UTC0', entries: [{ id: 'x', days: ['someday'], start: '25:00' }] } });
		assert.deepEqual([invalid.status, invalid.body.error], [400, 'InvalidSchedule']);
		const watched = await call('GET', '/robots/robot-1/commands/' + started.body.executionId, alice);
		assert.equal(watched.body.status, 'CREATED');
		assert.equal(watched.body.command, 'robot-locate');
		const badCommand = await call('POST', '/robots/robot-1/commands', alice, { action: 'fly' });
		assert.deepEqual([badCommand.status, badCommand.body.error], [400, 'BadCommand']);
		const missions = await call('GET', '/robots/robot-1/missions', alice);
		assert.deepEqual(
			missions.body.missions.map((m: Json) => [m.missionId, m.outcome, m.areaM2, m.mapReady]),
			[['m-1', 'finished', 42, true]],
		);
		const map = await call('GET', '/robots/robot-1/missions/m-1/map', alice);
		assert.equal(map.status, 200);
		const bytes = new Uint8Array(await (await fetch(map.body.url)).arrayBuffer());
		assert.deepEqual([...bytes], [82, 77, 65, 80]);
		// an execution of robot-2 is not found through robot-1
		const other = await call('GET', '/robots/robot-1/commands/not-an-execution', alice);
		assert.equal(other.status, 404);
	});

	it('unbind: access gone, the schedule reset on the robot; the robot can then be claimed by someone else', async () => {
		const r = await call('DELETE', '/robots/robot-1', alice);
		assert.equal(r.status, 200);
		assert.deepEqual((await call('GET', '/robots', alice)).body.robots, []);
		assert.equal((await call('GET', '/robots/robot-1', alice)).body.error, 'NotYourRobot');
		const doc = JSON.parse(new TextDecoder().decode((await iotData.send(new GetThingShadowCommand({ thingName: 'robot-1', shadowName: 'schedule' }))).payload)) as Json;
		assert.deepEqual(doc.state.desired.schedule, { tz: 'UTC0', entries: [] });
		await showCode('robot-1', 'BOBS2345');
		assert.equal((await call('POST', '/robots/claim', bob, { thing: 'robot-1', code: 'BOBS2345' })).status, 200);
		assert.deepEqual(
			(await call('GET', '/robots', bob)).body.robots.map((x: Json) => x.thing),
			['robot-1'],
		);
	});
});
