/*
 * Certificate renewal on the local cloud: the cert-renew handler (cloud/functions/cert-renew)
 * behind its topic rule, over the local IoT registry, publishing its answers on the bus, with
 * the robots table's history. The issuer is the caller's: the dev CA by default
 * (cloud/local/dev-pki.ts), or a CA whose key is in a PKCS#11 token (tools/provision, SoftHSM2),
 * signed by the same code as the factory's (issueCertificate).
 */
import { webcrypto } from 'node:crypto';
import { createCertRenewHandler, FUNCTION_NAME, RENEW_SQL, RULE_NAME, type RenewRegistry } from '../functions/cert-renew/handler';
import { createCertRetireHandler, RETIRE_FUNCTION_NAME, RETIRE_RULE_NAME, RETIRE_SQL } from '../functions/cert-retire/handler';
import type { CertificateIssuer } from '../lib/robot-certificate';
import type { Ca } from './dev-pki';
import { createLogger } from '../lib/logger';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { LocalIotRegistry } from './iot-registry';
import type { Rules } from './rules/index';
import type { LogFn } from './log';

/** DescribeCertificate and ListThingPrincipals over the local registry. */
export function localRenewRegistry(registry: LocalIotRegistry): RenewRegistry {
	return {
		registerCertificate: (pem, caPem) => registry.registerCertificate(pem, caPem),
		attachPolicy: (name, arn) => registry.attachPolicy(name, arn),
		attachThingPrincipal: (thing, arn) => registry.attachThingPrincipal(thing, arn),
		async describeCertificate(id) {
			const c = registry.certificate(id);
			return c && { status: c.status, pem: c.pem, arn: c.arn };
		},
		async thingPrincipals(thing) {
			return [...(registry.thing(thing)?.principals ?? [])];
		},
	};
}

/** The dev CA as an issuer (its key is a WebCrypto key in this process, not in a token). */
export function devCaIssuer(ca: Ca): CertificateIssuer {
	return { caCert: ca.cert, caKey: ca.signingKey, crypto: webcrypto };
}

export interface LocalRenewalOptions {
	readonly rules: Rules;
	readonly registry: LocalIotRegistry;
	readonly issuer: CertificateIssuer;
	readonly publish: (topic: string, payload: string, qos: 0 | 1) => void | Promise<void>;
	readonly policyName: string;
	readonly log: LogFn;
	readonly robots?: { readonly ddb: DynamoDBDocumentClient; readonly table: string };
	readonly lifetimeMs?: number;
}

/** Adds the renewal rule (replacing one there: a test may swap the issuer); the IoT registry must know the issuer's CA. */
export function addLocalRenewal(o: LocalRenewalOptions): void {
	o.registry.registerCa(o.issuer.caCert.toString('pem'));
	o.rules.remove(RULE_NAME);
	o.rules.add({
		name: RULE_NAME,
		sql: RENEW_SQL,
		functionName: FUNCTION_NAME,
		handler: createCertRenewHandler({
			registry: localRenewRegistry(o.registry),
			issuer: o.issuer,
			publisher: { publish: (topic, payload, qos) => o.publish(topic, payload, qos) },
			policyName: o.policyName,
			logger: createLogger({ sink: o.log, level: 'debug', keys: { service: 'cert-renew' } }),
			...(o.robots ? { robots: o.robots } : {}),
			...(o.lifetimeMs !== undefined ? { lifetimeMs: o.lifetimeMs } : {}),
		}),
	});
	// the replaced certificate goes INACTIVE once the robot connected with the new one (needs the robots table's record)
	o.rules.remove(RETIRE_RULE_NAME);
	if (!o.robots) return;
	o.rules.add({
		name: RETIRE_RULE_NAME,
		sql: RETIRE_SQL,
		functionName: RETIRE_FUNCTION_NAME,
		handler: createCertRetireHandler({
			registry: { deactivateCertificate: async (id) => o.registry.setCertificateStatus(id, 'INACTIVE') },
			ddb: o.robots.ddb,
			table: o.robots.table,
			logger: createLogger({ sink: o.log, level: 'debug', keys: { service: 'cert-retire' } }),
		}),
	});
}
