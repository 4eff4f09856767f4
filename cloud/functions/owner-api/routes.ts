/*
 * The owner's API (the app's backend): HTTP API routes behind a JWT authorizer (Cognito on AWS,
 * the local issuer in cloud/local). The authorizer has checked the token; the owner is its
 * `sub` claim, and every route that names a robot first checks that the robot is bound to that
 * owner (robots table, `owner`). Another owner's robot and no token are refused alike on every
 * route; nothing about another owner's robot is returned.
 *
 *   GET    /robots                                  the owner's robots
 *   POST   /robots/claim            {thing, code}   bind a robot with the code it shows (once)
 *   DELETE /robots/{thing}                          unbind: access gone, owner data cleared
 *   GET    /robots/{thing}                          state: the rooms it knows, status and schedule shadows (reported, desired)
 *   PUT    /robots/{thing}/schedule {schedule}      edit the schedule (desired, robot's own validator)
 *   POST   /robots/{thing}/commands {action, ...}   start a command (AWS IoT commands)
 *   GET    /robots/{thing}/commands/{executionId}   follow it to its terminal status
 *   GET    /robots/{thing}/missions                 the stored mission reports
 *   GET    /robots/{thing}/missions/{missionId}/map a short-lived presigned GET of the decoded map
 *
 * Pairing: at setup the robot shows a code and reports only its digest in its `pairing` named
 * shadow (firmware/core/pairing): SHA-256 over `<thing>:<code>`, hex, and an expiry. A claim
 * must present the code before the expiry; the binding is a conditional write (a robot has one
 * owner), and the pairing shadow is deleted so the code cannot be used twice.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommandExecutionCommand, type IoTClient } from '@aws-sdk/client-iot';
import { DeleteThingShadowCommand, GetThingShadowCommand, ResourceNotFoundException, UpdateThingShadowCommand, type IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { StartCommandExecutionCommand, type IoTJobsDataPlaneClient } from '@aws-sdk/client-iot-jobs-data-plane';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { isThingName, THING_NAME_RULE } from '../../../firmware/core/contracts/thing';
import { EMPTY_SCHEDULE, SCHEDULE_SHADOW } from '../../../firmware/core/schedule/shadow';
import { validateSchedule } from '../../../firmware/core/schedule/model';
import { checkRooms } from '../../../firmware/core/commands/rooms';
import { checkRequest, startInput, type CommandRequest } from '../../lib/robot-commands';
import type { Logger } from '../../lib/logger';
import { decodedKey } from '../upload-slot/contract';

export const PAIRING_SHADOW = 'pairing';
const EXECUTION_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const MISSION_ID = /^[A-Za-z0-9:_-]{1,64}$/;
/** Lifetime of a map URL, seconds: the page fetches it at once. */
export const MAP_URL_S = 60;

export interface OwnerApiDeps {
	readonly ddb: DynamoDBDocumentClient;
	readonly tables: { readonly robots: string; readonly owners: string; readonly missions: string };
	readonly iotData: IoTDataPlaneClient;
	readonly iot: IoTClient;
	readonly jobsData: IoTJobsDataPlaneClient;
	readonly s3: S3Client;
	readonly mapsBucket: string;
	readonly region: string;
	readonly account: string;
	readonly logger: Logger;
	readonly now?: () => number;
}

/** The part of an API Gateway HTTP API (payload 2.0) event the routes read. */
export interface HttpEvent {
	readonly routeKey: string;
	readonly pathParameters?: Readonly<Record<string, string | undefined>>;
	readonly body?: string;
	readonly isBase64Encoded?: boolean;
	readonly requestContext?: { readonly authorizer?: { readonly jwt?: { readonly claims?: Readonly<Record<string, unknown>> } } };
}

export interface HttpResult {
	readonly statusCode: number;
	readonly headers: Record<string, string>;
	readonly body: string;
}

export const ROUTES = Object.freeze([
	'GET /robots',
	'POST /robots/claim',
	'DELETE /robots/{thing}',
	'GET /robots/{thing}',
	'PUT /robots/{thing}/schedule',
	'POST /robots/{thing}/commands',
	'GET /robots/{thing}/commands/{executionId}',
	'GET /robots/{thing}/missions',
	'GET /robots/{thing}/missions/{missionId}/map',
] as const);
export type RouteKey = (typeof ROUTES)[number];

class ApiError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string,
	) {
		super(message);
	}
}

/** The rooms the robot reported (firmware/core/commands/rooms.ts), checked by the robot's own rule; null until it has. */
function roomsOf(logger: Logger, thing: string, v: unknown): readonly string[] | null {
	if (v === undefined || v === null) return null;
	try {
		return checkRooms(v);
	} catch (e) {
		logger.warn('owner_api.bad_rooms', { thing, error: String(e) });
		return null;
	}
}

/** The digest a robot reports for its pairing code. */
export function pairingDigest(thing: string, code: string): string {
	return createHash('sha256')
		.update(thing + ':' + code)
		.digest('hex');
}

const json = (statusCode: number, body: unknown): HttpResult => ({
	statusCode,
	headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
	body: JSON.stringify(body),
});

function ownerOf(e: HttpEvent): string {
	const sub = e.requestContext?.authorizer?.jwt?.claims?.sub;
	if (typeof sub !== 'string' || sub.length === 0) throw new ApiError(401, 'Unauthorized', 'sign in first');
	return sub;
}
function thingOf(e: HttpEvent): string {
	const t = e.pathParameters?.thing;
	if (!isThingName(t)) throw new ApiError(400, 'BadRequest', 'thing expected ' + THING_NAME_RULE);
	return t;
}
function body(e: HttpEvent): Record<string, unknown> {
	let v: unknown;
	try {
		v = JSON.parse(e.isBase64Encoded ? Buffer.from(e.body ?? '', 'base64').toString('utf8') : (e.body ?? ''));
	} catch {
		throw new ApiError(400, 'BadRequest', 'the body is not JSON');
	}
	if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError(400, 'BadRequest', 'the body expected a JSON object');
	return v as Record<string, unknown>;
}

type RouteHandler = (e: HttpEvent, owner: string) => Promise<HttpResult>;

/** What the route handlers share: the clients, the clock, the ownership check and the shadow read. */
interface RouteContext {
	readonly deps: OwnerApiDeps;
	readonly now: () => number;
	/** The robot, when it is this owner's; refused the same way whether it exists or not. */
	readonly mine: (owner: string, thing: string) => Promise<void>;
	readonly shadow: (thing: string, name: string) => Promise<Record<string, any> | undefined>;
}

function routeContext(deps: OwnerApiDeps): RouteContext {
	const now = deps.now ?? Date.now;
	const mine = async (owner: string, thing: string): Promise<void> => {
		const r = await deps.ddb.send(new GetCommand({ TableName: deps.tables.robots, Key: { thing }, ConsistentRead: true }));
		if (r.Item?.owner !== owner) throw new ApiError(403, 'NotYourRobot', `${thing} is not one of your robots`);
	};
	const shadow = async (thing: string, name: string): Promise<Record<string, any> | undefined> => {
		try {
			const r = await deps.iotData.send(new GetThingShadowCommand({ thingName: thing, shadowName: name }));
			return JSON.parse(new TextDecoder().decode(r.payload)) as Record<string, any>;
		} catch (e) {
			if (e instanceof ResourceNotFoundException) return undefined;
			throw e;
		}
	};

	return { deps, now, mine, shadow };
}

/** Binding: the owner's robots, claim with the pairing code, unbind. */
function bindingRoutes({ deps, now, mine, shadow }: RouteContext): Record<'GET /robots' | 'POST /robots/claim' | 'DELETE /robots/{thing}', RouteHandler> {
	return {
		'GET /robots': async (_e, owner) => {
			const r = await deps.ddb.send(
				new QueryCommand({
					TableName: deps.tables.owners,
					KeyConditionExpression: '#o = :o',
					ExpressionAttributeNames: { '#o': 'owner' },
					ExpressionAttributeValues: { ':o': owner },
				}),
			);
			return json(200, { robots: (r.Items ?? []).map((i) => ({ thing: i.thing, claimedAt: i.claimedAt })) });
		},
		'POST /robots/claim': async (e, owner) => {
			const b = body(e);
			const thing = isThingName(b.thing) ? b.thing : undefined;
			if (!thing) throw new ApiError(400, 'BadRequest', 'thing expected the robot name shown with the code');
			if (typeof b.code !== 'string' || !/^[A-Z0-9]{4,16}$/.test(b.code)) throw new ApiError(400, 'BadRequest', 'code expected the letters and digits the robot shows');
			const pairing = (await shadow(thing, PAIRING_SHADOW))?.state?.reported?.pairing as { digest?: unknown; expiresAt?: unknown } | undefined;
			if (!pairing || typeof pairing.digest !== 'string' || typeof pairing.expiresAt !== 'number') throw new ApiError(400, 'NoPairingCode', `${thing} is not showing a pairing code: start pairing on the robot`);
			const given = Buffer.from(pairingDigest(thing, b.code), 'hex');
			const expected = Buffer.from(pairing.digest, 'hex');
			if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new ApiError(400, 'WrongPairingCode', 'that is not the code the robot shows');
			if (now() > pairing.expiresAt * 1000) throw new ApiError(400, 'PairingCodeExpired', 'the code has expired: start pairing on the robot again');
			const claimedAt = new Date(now()).toISOString();
			try {
				await deps.ddb.send(
					new UpdateCommand({
						TableName: deps.tables.robots,
						Key: { thing },
						UpdateExpression: 'SET #o = :o, claimedAt = :at',
						ConditionExpression: 'attribute_not_exists(#o)',
						ExpressionAttributeNames: { '#o': 'owner' },
						ExpressionAttributeValues: { ':o': owner, ':at': claimedAt },
					}),
				);
			} catch (err) {
				if (!(err instanceof ConditionalCheckFailedException)) throw err;
				const cur = await deps.ddb.send(new GetCommand({ TableName: deps.tables.robots, Key: { thing }, ConsistentRead: true }));
				if (cur.Item?.owner === owner) throw new ApiError(409, 'AlreadyYours', `${thing} is already yours`);
				throw new ApiError(409, 'RobotOwned', `${thing} belongs to someone else: they must unbind it first`);
			}
			await deps.ddb.send(new PutCommand({ TableName: deps.tables.owners, Item: { owner, thing, claimedAt } }));
			// the code is used up
			await deps.iotData.send(new DeleteThingShadowCommand({ thingName: thing, shadowName: PAIRING_SHADOW })).catch((err: unknown) => {
				if (!(err instanceof ResourceNotFoundException)) throw err;
			});
			deps.logger.info('owner.claimed', { thing, owner });
			return json(200, { thing, claimedAt });
		},
		'DELETE /robots/{thing}': async (e, owner) => {
			const thing = thingOf(e);
			await mine(owner, thing);
			try {
				await deps.ddb.send(
					new UpdateCommand({
						TableName: deps.tables.robots,
						Key: { thing },
						UpdateExpression: 'REMOVE #o, claimedAt',
						ConditionExpression: '#o = :o',
						ExpressionAttributeNames: { '#o': 'owner' },
						ExpressionAttributeValues: { ':o': owner },
					}),
				);
			} catch (err) {
				if (err instanceof ConditionalCheckFailedException) throw new ApiError(403, 'NotYourRobot', `${thing} is not one of your robots`);
				throw err;
			}
			await deps.ddb.send(new DeleteCommand({ TableName: deps.tables.owners, Key: { owner, thing } }));
			// the owner's data on the robot: its schedule goes back to none (the robot applies the
			// empty one and reports it), and a pairing left over is dropped
			await deps.iotData.send(
				new UpdateThingShadowCommand({
					thingName: thing,
					shadowName: SCHEDULE_SHADOW,
					payload: new TextEncoder().encode(JSON.stringify({ state: { desired: { schedule: EMPTY_SCHEDULE } } })),
				}),
			);
			await deps.iotData.send(new DeleteThingShadowCommand({ thingName: thing, shadowName: PAIRING_SHADOW })).catch((err: unknown) => {
				if (!(err instanceof ResourceNotFoundException)) throw err;
			});
			deps.logger.info('owner.unbound', { thing, owner });
			return json(200, { thing, unbound: true });
		},
	};
}

/** One robot: its state, its schedule, its commands. */
function robotRoutes({ deps, now, mine, shadow }: RouteContext): Record<'GET /robots/{thing}' | 'PUT /robots/{thing}/schedule' | 'POST /robots/{thing}/commands' | 'GET /robots/{thing}/commands/{executionId}', RouteHandler> {
	return {
		'GET /robots/{thing}': async (e, owner) => {
			const thing = thingOf(e);
			await mine(owner, thing);
			const [status, schedule] = await Promise.all([shadow(thing, 'status'), shadow(thing, SCHEDULE_SHADOW)]);
			return json(200, {
				thing,
				rooms: roomsOf(deps.logger, thing, status?.state?.reported?.rooms),
				status: status?.state?.reported ?? null,
				schedule: {
					reported: schedule?.state?.reported?.schedule ?? null,
					desired: schedule?.state?.desired?.schedule ?? null,
					error: schedule?.state?.reported?.scheduleError ?? null,
				},
			});
		},
		'PUT /robots/{thing}/schedule': async (e, owner) => {
			const thing = thingOf(e);
			await mine(owner, thing);
			const v = validateSchedule(body(e).schedule);
			if (!v.ok) return json(400, { error: 'InvalidSchedule', message: 'the robot would refuse this schedule', fields: v.error });
			await deps.iotData.send(
				new UpdateThingShadowCommand({
					thingName: thing,
					shadowName: SCHEDULE_SHADOW,
					payload: new TextEncoder().encode(JSON.stringify({ state: { desired: { schedule: v.value } } })),
				}),
			);
			return json(200, { thing, schedule: v.value, applied: false });
		},
		'POST /robots/{thing}/commands': async (e, owner) => {
			const thing = thingOf(e);
			await mine(owner, thing);
			const b = body(e);
			const why = checkRequest(b);
			if (why) throw new ApiError(400, 'BadCommand', why);
			const r = await deps.jobsData.send(new StartCommandExecutionCommand(startInput(b as unknown as CommandRequest, { region: deps.region, account: deps.account, thing }, now())));
			return json(202, { executionId: r.executionId });
		},
		'GET /robots/{thing}/commands/{executionId}': async (e, owner) => {
			const thing = thingOf(e);
			await mine(owner, thing);
			const id = e.pathParameters?.executionId;
			if (!id || !EXECUTION_ID.test(id)) throw new ApiError(400, 'BadRequest', 'executionId expected 1-64 of [a-zA-Z0-9_-]');
			// the execution is looked up on this robot's ARN: another robot's execution id finds nothing
			const x = await deps.iot.send(new GetCommandExecutionCommand({ executionId: id, targetArn: `arn:aws:iot:${deps.region}:${deps.account}:thing/${thing}` })).catch((err: unknown) => {
				if ((err as { name?: string }).name === 'ResourceNotFoundException') throw new ApiError(404, 'NoSuchCommand', 'no such command for ' + thing);
				throw err;
			});
			return json(200, {
				executionId: id,
				command: x.commandArn?.split('/').pop(),
				status: x.status,
				reasonCode: x.statusReason?.reasonCode ?? null,
				reason: x.statusReason?.reasonDescription ?? null,
				missionId: x.result?.missionId?.S ?? null,
				createdAt: x.createdAt?.toISOString() ?? null,
				completedAt: x.completedAt?.toISOString() ?? null,
			});
		},
	};
}

/** One robot's mission reports and their maps. */
function missionRoutes({ deps, mine }: RouteContext): Record<'GET /robots/{thing}/missions' | 'GET /robots/{thing}/missions/{missionId}/map', RouteHandler> {
	return {
		'GET /robots/{thing}/missions': async (e, owner) => {
			const thing = thingOf(e);
			await mine(owner, thing);
			const r = await deps.ddb.send(new QueryCommand({ TableName: deps.tables.missions, KeyConditionExpression: 'thing = :t', ExpressionAttributeValues: { ':t': thing } }));
			const missions = (r.Items ?? []).map((i) => ({
				missionId: i.missionId,
				trigger: i.trigger ?? null,
				outcome: i.outcome ?? null,
				startedAt: i.startedAt ?? null,
				endedAt: i.endedAt ?? null,
				durationS: i.durationS ?? null,
				areaM2: i.areaM2 ?? null,
				errors: i.errors ?? [],
				mapReady: i.mapReady === true,
			}));
			missions.sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0));
			return json(200, { missions });
		},
		'GET /robots/{thing}/missions/{missionId}/map': async (e, owner) => {
			const thing = thingOf(e);
			await mine(owner, thing);
			const missionId = e.pathParameters?.missionId;
			if (!missionId || !MISSION_ID.test(missionId)) throw new ApiError(400, 'BadRequest', 'missionId expected a mission id');
			const m = await deps.ddb.send(new GetCommand({ TableName: deps.tables.missions, Key: { thing, missionId } }));
			if (m.Item?.mapReady !== true) throw new ApiError(404, 'NoMap', 'this mission has no map (yet)');
			const url = await getSignedUrl(deps.s3, new GetObjectCommand({ Bucket: deps.mapsBucket, Key: decodedKey(thing, missionId) }), { expiresIn: MAP_URL_S });
			return json(200, { url, expiresInS: MAP_URL_S });
		},
	};
}

/** One handler for the given routes (each function of the template serves its own subset). */
export function createOwnerApi(deps: OwnerApiDeps, routes: readonly RouteKey[] = ROUTES): (event: HttpEvent) => Promise<HttpResult> {
	const context = routeContext(deps);
	const handlers: Record<RouteKey, RouteHandler> = { ...bindingRoutes(context), ...robotRoutes(context), ...missionRoutes(context) };

	const allowed = new Set<string>(routes);
	return async (e) => {
		try {
			if (!allowed.has(e.routeKey)) throw new ApiError(404, 'NotFound', 'no route ' + e.routeKey);
			const owner = ownerOf(e);
			return await handlers[e.routeKey as RouteKey](e, owner);
		} catch (err) {
			if (err instanceof ApiError) {
				deps.logger.info('owner_api.refused', { route: e.routeKey, status: err.status, code: err.code });
				return json(err.status, { error: err.code, message: err.message });
			}
			deps.logger.error('owner_api.failed', { route: e.routeKey, error: String(err) });
			return json(500, { error: 'InternalError', message: 'something went wrong on our side' });
		}
	};
}
