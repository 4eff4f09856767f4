/*
 * The owner's API as three Lambda functions, each with the least privilege its routes need
 * (cloud/template.yaml): OwnerRobotsFunction (list, claim, unbind, state, schedule: tables and
 * shadows), OwnerCommandsFunction (start and follow commands), OwnerMissionsFunction (missions,
 * map URLs). One bundle; SAM names the export (`handler.robots`, ...).
 */
import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { IoTJobsDataPlaneClient } from '@aws-sdk/client-iot-jobs-data-plane';
import { S3Client } from '@aws-sdk/client-s3';
import { clientConfig, createDocumentClient } from '../../lib/aws';
import { functionLogger, lambdaEntry, requireEnv, tableFromEnv, type Env } from '../../lib/lambda-env';
import { MAPS_BUCKET } from '../upload-slot/contract';
import { createOwnerApi, type HttpEvent, type HttpResult, type RouteKey } from './routes';

export const FUNCTION_ROUTES = Object.freeze({
	OwnerRobotsFunction: ['GET /robots', 'POST /robots/claim', 'DELETE /robots/{thing}', 'GET /robots/{thing}', 'PUT /robots/{thing}/schedule'],
	OwnerCommandsFunction: ['POST /robots/{thing}/commands', 'GET /robots/{thing}/commands/{executionId}'],
	OwnerMissionsFunction: ['GET /robots/{thing}/missions', 'GET /robots/{thing}/missions/{missionId}/map'],
} as const satisfies Record<string, readonly RouteKey[]>);

/** The wiring from the environment: table names, IOT_DATA_ENDPOINT, IOT_JOBS_DATA_ENDPOINT, MAPS_BUCKET, AWS_REGION, ACCOUNT_ID. */
export function fromEnv(env: Env, routes: readonly RouteKey[]): (e: HttpEvent) => Promise<HttpResult> {
	return createOwnerApi(
		{
			ddb: createDocumentClient(),
			tables: { robots: tableFromEnv(env, 'robots'), owners: tableFromEnv(env, 'owners'), missions: tableFromEnv(env, 'missions') },
			iotData: new IoTDataPlaneClient(clientConfig({ endpoint: requireEnv(env, 'IOT_DATA_ENDPOINT') })),
			iot: new IoTClient(clientConfig({})),
			jobsData: new IoTJobsDataPlaneClient(clientConfig(env.IOT_JOBS_DATA_ENDPOINT ? { endpoint: env.IOT_JOBS_DATA_ENDPOINT } : {})),
			s3: new S3Client(clientConfig({})),
			mapsBucket: env.MAPS_BUCKET ?? MAPS_BUCKET,
			region: requireEnv(env, 'AWS_REGION'),
			account: requireEnv(env, 'ACCOUNT_ID'),
			logger: functionLogger(env, 'owner-api'),
		},
		routes,
	);
}

const entry = (name: keyof typeof FUNCTION_ROUTES) => lambdaEntry((env) => fromEnv(env, FUNCTION_ROUTES[name]));

export const robots = entry('OwnerRobotsFunction');
export const commands = entry('OwnerCommandsFunction');
export const missions = entry('OwnerMissionsFunction');
