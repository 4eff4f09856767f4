/*
 * CertRenewFunction: a robot asks for a new certificate for its EXISTING key before its current
 * one expires (firmware/core/renew). It publishes `{ clientToken, csr }` (csr: base64 PKCS#10
 * DER signed with the device key) on `robots/{thing}/cert/renew`; the rule (RENEW_SQL) hands the
 * request's bytes with the topic's thing, the client id and principal() (the certificate it
 * connected with). Checked before anything is signed:
 * - the topic's thing is the client id, and the connection's certificate is registered, ACTIVE,
 *   has CN = thing and is attached to the thing (a robot renews only itself);
 * - the CSR passes the factory's rules (tools/provision checkCsrFor: signature, RSA-2048,
 *   e = 65537, subject exactly CN = thing, no CA or SAN asked for);
 * - its public key is the current certificate's (the key never changes: it never left the robot).
 * Then the company CA issues (tools/provision issueCertificate: the HSM on AWS as at the
 * factory), IoT registers the certificate ACTIVE, with the robot policy and attached to the
 * thing, the robots table records the change (certificateHistory, as tools/certs), and the
 * answer goes to `robots/{thing}/cert/renew/accepted` `{ clientToken, certificate, certificateId,
 * notAfter }`, or `/rejected` `{ clientToken, error: { code, message } }` for every refusal
 * (`unavailable` for a cloud fault, which the robot retries). The old certificate stays ACTIVE:
 * the robot keeps it until a connect with the new one succeeded; then cert-retire (cloud/functions/cert-retire)
 * sets it INACTIVE.
 */
import { X509Certificate } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { checkCsrFor, CsrRefused, issueCertificate, type CertificateIssuer } from '../../lib/robot-certificate';
import type { IotRegistry } from '../register-worker/registry';
import { errorFields, invocationLogger, type InvocationContext, type Logger } from '../../lib/logger';
import { functionLogger, lambdaEntry, requireEnv, tableFromEnv, type Env } from '../../lib/lambda-env';
import { DescribeCACertificateCommand, IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { KMSClient } from '@aws-sdk/client-kms';
import { clientConfig, createDocumentClient } from '../../lib/aws';
import { kmsIssuer } from '../../lib/kms-ca-signer';
import { renewTopics, RENEW_REQUEST_FILTER } from '../../../firmware/core/renew/contract';
import { awsRenewRegistry } from './registry';

export const FUNCTION_NAME = 'CertRenewFunction';
export const RULE_NAME = 'cert_renew';
export const RENEW_SQL = `SELECT encode(*, 'base64') AS request, topic(2) AS thing, clientid() AS clientId, principal() AS principal FROM '${RENEW_REQUEST_FILTER}'`;
/** A renewed certificate's lifetime (default): a year; the robot renews inside its window before notAfter. */
export const RENEWED_LIFETIME_MS = 365 * 24 * 3600_000;
const MAX_REQUEST_BYTES = 4096;

/** What renewal needs of IoT beyond registration's calls (DescribeCertificate, ListThingPrincipals). */
export interface RenewRegistry extends Pick<IotRegistry, 'registerCertificate' | 'attachPolicy' | 'attachThingPrincipal'> {
	describeCertificate(certificateId: string): Promise<{ readonly status: string; readonly pem: string; readonly arn: string } | undefined>;
	thingPrincipals(thing: string): Promise<readonly string[]>;
}

export interface CertRenewDeps {
	readonly registry: RenewRegistry;
	readonly issuer: CertificateIssuer;
	readonly publisher: { publish(topic: string, payload: string, qos: 0 | 1): Promise<void> | void };
	readonly policyName: string;
	readonly logger: Logger;
	/** The robots table, for the certificate history. */
	readonly robots?: { readonly ddb: DynamoDBDocumentClient; readonly table: string };
	readonly lifetimeMs?: number;
	readonly now?: () => number;
}

export type RenewCode = 'invalid_request' | 'thing_mismatch' | 'certificate_not_active' | 'bad_csr' | 'key_mismatch' | 'unavailable';

class Refusal extends Error {
	constructor(
		readonly code: RenewCode,
		message: string,
	) {
		super(message);
	}
}

export function createCertRenewHandler(deps: CertRenewDeps) {
	const { registry, issuer, publisher, logger } = deps;
	const now = deps.now ?? Date.now;
	if (typeof registry?.describeCertificate !== 'function') throw new TypeError('"registry" expected a RenewRegistry');
	if (!issuer?.caKey || !issuer.caCert) throw new TypeError('"issuer" expected the CA certificate and its key');
	if (typeof publisher?.publish !== 'function') throw new TypeError('"publisher" expected an MQTT publisher');
	if (typeof deps.policyName !== 'string' || !deps.policyName) throw new TypeError('"policyName" expected the robot policy name');
	return async (event: Record<string, unknown>, context: InvocationContext) => {
		const thing = typeof event.thing === 'string' ? event.thing : '';
		const clientId = typeof event.clientId === 'string' ? event.clientId : '';
		const principal = typeof event.principal === 'string' ? event.principal : '';
		const raw = typeof event.request === 'string' ? Buffer.from(event.request, 'base64') : Buffer.alloc(0);
		let token: string | undefined;
		let log = invocationLogger(logger, context).child({ thing, clientId, principal });
		const topics = renewTopics(thing);
		try {
			if (raw.length > MAX_REQUEST_BYTES) throw new Refusal('invalid_request', `request of ${raw.length} bytes, at most ${MAX_REQUEST_BYTES}`);
			let body: { clientToken?: unknown; csr?: unknown };
			try {
				body = JSON.parse(raw.toString('utf8')) as typeof body;
			} catch {
				throw new Refusal('invalid_request', 'the request is not JSON');
			}
			if (typeof body.clientToken === 'string' && body.clientToken.length <= 64) token = body.clientToken;
			log = log.child({ clientToken: token });
			if (typeof body.csr !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(body.csr)) throw new Refusal('invalid_request', '"csr" expected the CSR DER in base64');
			if (thing === '' || thing !== clientId) throw new Refusal('thing_mismatch', `topic names ${JSON.stringify(thing)}, client is ${JSON.stringify(clientId)}`);
			const current = await lookup(principal);
			if (current.status !== 'ACTIVE') throw new Refusal('certificate_not_active', `certificate ${principal} is ${current.status}`);
			const currentCert = new X509Certificate(current.pem);
			const cn = currentCert.subject
				.split('\n')
				.find((l) => l.startsWith('CN='))
				?.slice(3);
			if (cn !== thing) throw new Refusal('thing_mismatch', `the connection's certificate CN is ${JSON.stringify(cn)}, the topic names ${thing}`);
			if (!(await registry.thingPrincipals(thing)).includes(current.arn)) throw new Refusal('thing_mismatch', `certificate ${principal} is not attached to ${thing}`);
			let csr: x509.Pkcs10CertificateRequest;
			try {
				csr = await checkCsrFor(new Uint8Array(Buffer.from(body.csr, 'base64')), thing, thing);
			} catch (e) {
				if (e instanceof CsrRefused) throw new Refusal('bad_csr', e.message);
				throw e;
			}
			const oldSpki = currentCert.publicKey.export({ type: 'spki', format: 'der' });
			if (!oldSpki.equals(Buffer.from(csr.publicKey.rawData))) throw new Refusal('key_mismatch', "the CSR key is not the current certificate's: renewal keeps the robot's key");

			const cert = await issueCertificate(issuer, thing, csr.publicKey, undefined, deps.lifetimeMs ?? RENEWED_LIFETIME_MS, now());
			const pem = cert.toString('pem');
			const registered = await registry.registerCertificate(pem, issuer.caCert.toString('pem'));
			await registry.attachPolicy(deps.policyName, registered.certificateArn);
			await registry.attachThingPrincipal(thing, registered.certificateArn);
			await record(thing, principal, registered.certificateId);
			const notAfter = cert.notAfter.getTime();
			await publisher.publish(
				topics.accepted,
				JSON.stringify({
					...(token !== undefined ? { clientToken: token } : {}),
					certificate: Buffer.from(cert.rawData).toString('base64'),
					certificateId: registered.certificateId,
					notAfter,
				}),
				1,
			);
			log.info('cert_renew.issued', { certificateId: registered.certificateId, replaces: principal, notAfter });
			return { status: 'issued', certificateId: registered.certificateId };
		} catch (e) {
			const r = e instanceof Refusal ? e : new Refusal('unavailable', 'the certificate could not be issued now, try again later');
			if (!(e instanceof Refusal)) log.error('cert_renew.failed', errorFields(e));
			else log.warn('cert_renew.refused', { code: r.code, reason: r.message });
			await publisher.publish(topics.rejected, JSON.stringify({ ...(token !== undefined ? { clientToken: token } : {}), error: { code: r.code, message: r.message } }), 1);
			return { status: 'refused', code: r.code, message: r.message };
		}
	};

	async function lookup(principal: string) {
		if (!/^[0-9a-f]{64}$/.test(principal)) throw new Refusal('certificate_not_active', 'no certificate id for the connection');
		const c = await registry.describeCertificate(principal);
		if (!c) throw new Refusal('certificate_not_active', 'certificate ' + principal + ' is not registered');
		return c;
	}

	/** The robots table's certificate history: the new certificate ACTIVE, by renewal, replacing the one it connected with. */
	async function record(thing: string, replaces: string, certificateId: string) {
		if (!deps.robots) return;
		const entry = { at: now(), certificateId, from: 'NONE', to: 'ACTIVE', by: 'renewal', reason: 'renewed before expiry, replaces ' + replaces };
		await deps.robots.ddb.send(
			new UpdateCommand({
				TableName: deps.robots.table,
				Key: { thing },
				// retiring: the certificate cert-retire sets INACTIVE once the robot connected with the new one
				UpdateExpression: 'SET #id = :id, #status = :to, #retiring = :old, #history = list_append(if_not_exists(#history, :empty), :entry)',
				ExpressionAttributeNames: { '#id': 'certificateId', '#status': 'certificateStatus', '#retiring': 'retiring', '#history': 'certificateHistory' },
				ExpressionAttributeValues: { ':id': certificateId, ':to': 'ACTIVE', ':old': replaces, ':empty': [], ':entry': [entry] },
			}),
		);
	}
}

export type CertRenewHandler = ReturnType<typeof createCertRenewHandler>;

/**
 * The Lambda entry's wiring: CA_CERTIFICATE_ID (the IoT id of the CA that issues renewals),
 * CA_SIGNING_KEY_ARN (its key in KMS: RSA_2048, SIGN_VERIFY), ROBOTS_TABLE, ROBOT_POLICY_NAME,
 * IOT_DATA_ENDPOINT. The CA certificate is read from IoT (DescribeCACertificate) and checked
 * against the KMS key on the first request, then kept for the warm function's life.
 */
export function fromEnv(env: Env): CertRenewHandler {
	const caId = env.CA_CERTIFICATE_ID ?? '';
	if (!/^[0-9a-f]{64}$/.test(caId)) throw new Error('CA_CERTIFICATE_ID is not set: the IoT id (64 hex) of the CA that issues renewals');
	const keyArn = requireEnv(env, 'CA_SIGNING_KEY_ARN', 'the CA key in KMS');
	const table = tableFromEnv(env, 'robots');
	const policyName = requireEnv(env, 'ROBOT_POLICY_NAME', 'the robots IoT policy');
	const dataEndpoint = requireEnv(env, 'IOT_DATA_ENDPOINT', 'https://<prefix>-ats.iot.<region>.amazonaws.com');
	const logger = functionLogger(env, 'cert-renew');
	const iot = new IoTClient(clientConfig({}));
	const iotData = new IoTDataPlaneClient(clientConfig({ endpoint: dataEndpoint }));
	let built: Promise<CertRenewHandler> | undefined;
	const build = async () => {
		const d = (await iot.send(new DescribeCACertificateCommand({ certificateId: caId }))).certificateDescription;
		if (!d?.certificatePem) throw new Error('DescribeCACertificate ' + caId + ' answered without a PEM');
		const issuer = await kmsIssuer(new KMSClient(clientConfig({})), keyArn, new x509.X509Certificate(d.certificatePem));
		return createCertRenewHandler({
			registry: awsRenewRegistry(iot),
			issuer,
			publisher: { publish: async (topic, payload, qos) => void (await iotData.send(new PublishCommand({ topic, qos, payload: new TextEncoder().encode(payload) }))) },
			policyName,
			logger,
			robots: { ddb: createDocumentClient(), table },
		});
	};
	return async (event, context) => {
		// a failed start is retried on the next request, not kept
		built ??= build().catch((e: unknown) => {
			built = undefined;
			throw e;
		});
		return (await built)(event, context);
	};
}

/** The Lambda entry (SAM `Handler: handler.handler`). */
export const handler: CertRenewHandler = lambdaEntry(fromEnv);
