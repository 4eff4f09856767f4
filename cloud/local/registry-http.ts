/*
 * The IoT control plane's registry operations over HTTP, as @aws-sdk/client-iot and the AWS
 * CLI call them (REST paths of the IoT API), answered from the local cloud's one registry
 * (iot-registry.ts: the one the broker admits CONNECTs by and registration writes to). The
 * jobs control plane's server hands them over after its SigV4 check, so a user's tools point
 * at one endpoint for jobs, commands and the registry:
 *   POST   /things/{thingName}                 CreateThing (attributePayload.attributes)
 *   GET    /things/{thingName}                 DescribeThing
 *   DELETE /things/{thingName}                 DeleteThing
 *   GET    /things                             ListThings (maxResults, nextToken, attributeName/Value)
 *   PUT    /things/{thingName}/principals      AttachThingPrincipal (x-amzn-principal: certificate ARN)
 *   PUT    /certificates/{certificateId}       UpdateCertificate (?newStatus=)
 *   GET    /certificates/{certificateId}       DescribeCertificate
 * Errors are the AWS exceptions by name (x-amzn-errortype), with the status AWS gives them.
 */
import { X509Certificate } from 'node:crypto';
import { HttpError } from './http';
import { CERTIFICATE_STATUSES, type CertificateStatus, type LocalIotRegistry, type LocalThing } from './iot-registry';
import { LOCAL_ACCOUNT } from './credentials';
import { isJsonObject, parseJsonObject } from './json-object';

type Reply = { status: number; body: unknown };
export type RegistryRoutes = (method: string, path: string[], q: URLSearchParams, body: Uint8Array, headers?: Readonly<Record<string, string | string[] | undefined>>) => Promise<Reply> | Reply | undefined;

const MAX_RESULTS = 250;
/** AWS: attribute names and values are [a-zA-Z0-9_.,@/:#-]; names at most 128, values 800 characters. */
const ATTRIBUTE_NAME = /^[a-zA-Z0-9_.,@/:#-]{1,128}$/;
const ATTRIBUTE_VALUE = /^[a-zA-Z0-9_.,@/:#=\[\]-]{0,800}$/;

export function registryRoutes(registry: LocalIotRegistry): RegistryRoutes {
	return (method, path, q, body, headers = {}) => {
		if (path[0] === 'things' && path.length === 1 && method === 'GET') return { status: 200, body: listThings(registry, q) };
		if (path[0] === 'things' && path.length === 2) {
			const name = path[1]!;
			if (method === 'POST') return createThing(registry, name, body);
			if (method === 'GET') return { status: 200, body: describeThing(found(registry.thing(name), 'thing ' + name)) };
			if (method === 'DELETE') return call(() => registry.deleteThing(name));
		}
		if (path[0] === 'things' && path.length === 3 && path[2] === 'principals' && method === 'PUT') {
			const principal = headers['x-amzn-principal'];
			if (typeof principal !== 'string' || principal.length === 0) throw new HttpError(400, 'InvalidRequestException', 'the x-amzn-principal header (the certificate ARN) is required');
			return callAsync(() => registry.attachThingPrincipal(path[1]!, principal));
		}
		if (path[0] === 'certificates' && path.length === 2) {
			const id = path[1]!;
			if (method === 'GET') return { status: 200, body: { certificateDescription: describeCertificate(registry, id) } };
			if (method === 'PUT') {
				const status = q.get('newStatus');
				if (!status || !(CERTIFICATE_STATUSES as readonly string[]).includes(status)) throw new HttpError(400, 'InvalidRequestException', 'newStatus expected one of ' + CERTIFICATE_STATUSES.join(', ') + ', got ' + JSON.stringify(status));
				found(registry.certificate(id), 'certificate ' + id);
				return call(() => registry.setCertificateStatus(id, status as CertificateStatus));
			}
		}
		return undefined;
	};
}

async function createThing(registry: LocalIotRegistry, name: string, body: Uint8Array): Promise<Reply> {
	const b = parse(body);
	const payload = b.attributePayload;
	let attributes: Record<string, string> | undefined;
	if (payload !== undefined) {
		if (!isJsonObject(payload)) throw invalid('attributePayload expected an object');
		const a = payload.attributes ?? {};
		if (!isJsonObject(a)) throw invalid('attributePayload.attributes expected an object of strings');
		attributes = {};
		for (const [k, v] of Object.entries(a)) {
			if (!ATTRIBUTE_NAME.test(k)) throw invalid('attribute name ' + JSON.stringify(k) + ' expected 1-128 of [a-zA-Z0-9_.,@/:#-]');
			if (typeof v !== 'string' || !ATTRIBUTE_VALUE.test(v)) throw invalid('attribute ' + k + ' expected a string of at most 800 of [a-zA-Z0-9_.,@/:#=[]-]');
			attributes[k] = v;
		}
	}
	await callAsync(() => registry.createThing(name, attributes));
	const t = registry.thing(name)!;
	return { status: 200, body: { thingName: t.name, thingArn: t.arn, thingId: t.id } };
}

function describeThing(t: LocalThing): Record<string, unknown> {
	return { defaultClientId: t.name, thingName: t.name, thingId: t.id, thingArn: t.arn, attributes: { ...t.attributes }, version: t.version };
}

function listThings(registry: LocalIotRegistry, q: URLSearchParams): Record<string, unknown> {
	const max = q.has('maxResults') ? Number(q.get('maxResults')) : MAX_RESULTS;
	if (!Number.isInteger(max) || max < 1 || max > MAX_RESULTS) throw invalid('maxResults expected 1-' + MAX_RESULTS);
	const attributeName = q.get('attributeName');
	const attributeValue = q.get('attributeValue');
	const all = registry.things().filter((t) => attributeName === null || (attributeName in t.attributes && (attributeValue === null || t.attributes[attributeName] === attributeValue)));
	// the token is the last name of the previous page: names are unique and listed in order
	const after = q.get('nextToken');
	const from = after === null ? 0 : all.findIndex((t) => t.name > after);
	const page = from < 0 ? [] : all.slice(from, from + max);
	const more = from >= 0 && from + max < all.length;
	return {
		things: page.map((t) => ({ thingName: t.name, thingArn: t.arn, attributes: { ...t.attributes }, version: t.version })),
		...(more ? { nextToken: page[page.length - 1]!.name } : {}),
	};
}

function describeCertificate(registry: LocalIotRegistry, id: string): Record<string, unknown> {
	const c = found(registry.certificate(id), 'certificate ' + id);
	const x = new X509Certificate(c.pem);
	// seconds since the epoch, as the IoT API's timestamps arrive in JSON
	const s = (ms: number) => ms / 1000;
	return {
		certificateArn: c.arn,
		certificateId: c.id,
		status: c.status,
		certificatePem: c.pem,
		ownedBy: LOCAL_ACCOUNT,
		creationDate: s(c.createdAt),
		lastModifiedDate: s(c.modifiedAt),
		customerVersion: 1,
		validity: { notBefore: s(Date.parse(x.validFrom)), notAfter: s(Date.parse(x.validTo)) },
		certificateMode: 'DEFAULT',
	};
}

/** Registry errors carry the AWS exception as their name. */
const STATUS: Readonly<Record<string, number>> = Object.freeze({
	ResourceNotFoundException: 404,
	InvalidRequestException: 400,
	ResourceAlreadyExistsException: 409,
	ServiceUnavailableException: 503,
});

function rethrow(e: unknown): never {
	const name = (e as Error)?.name;
	if (typeof name === 'string' && name in STATUS) throw new HttpError(STATUS[name]!, name, (e as Error).message);
	if (e instanceof RangeError) throw new HttpError(400, 'InvalidRequestException', e.message);
	throw e;
}

function call(f: () => void): Reply {
	try {
		f();
	} catch (e) {
		rethrow(e);
	}
	return { status: 200, body: {} };
}

async function callAsync(f: () => Promise<unknown>): Promise<Reply> {
	try {
		await f();
	} catch (e) {
		rethrow(e);
	}
	return { status: 200, body: {} };
}

function found<T>(x: T | undefined, what: string): T {
	if (x === undefined) throw new HttpError(404, 'ResourceNotFoundException', what + ' does not exist');
	return x;
}

function parse(body: Uint8Array): Record<string, unknown> {
	const r = parseJsonObject(body, true);
	if (!r.ok) throw invalid(r.error === 'notJson' ? 'the body is not JSON' : 'the body expected a JSON object');
	return r.value;
}

function invalid(message: string): HttpError {
	return new HttpError(400, 'InvalidRequestException', message);
}
