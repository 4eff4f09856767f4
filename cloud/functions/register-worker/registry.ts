/*
 * What registration needs from the AWS IoT control plane, as one small interface injected
 * into the handlers, with its AWS implementation over `@aws-sdk/client-iot` here. The local
 * cloud implements it in process (cloud/local/iot-registry.ts): it has no IoT control plane
 * for things, certificates and policies. No `if (local)` in a handler.
 *
 * Every write is idempotent, as a queue worker's must be (a message is delivered at least
 * once): registering a certificate IoT already has answers that certificate, creating a thing
 * that exists answers it, attaching twice is attaching once.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { AttachPolicyCommand, AttachThingPrincipalCommand, CreateThingCommand, DescribeCACertificateCommand, DescribeCertificateCommand, DescribeThingCommand, type IoTClient, RegisterCertificateCommand } from '@aws-sdk/client-iot';

/** AWS IoT certificate statuses. Only ACTIVE speaks for a robot. */
export type CertificateStatus = 'ACTIVE' | 'INACTIVE' | 'REVOKED' | 'PENDING_TRANSFER' | 'REGISTER_INACTIVE' | 'PENDING_ACTIVATION';

export interface CaCertificate {
	readonly pem: string;
	readonly status: string;
}

export interface RegisteredCertificate {
	readonly certificateId: string;
	readonly certificateArn: string;
	readonly status: CertificateStatus | string;
	/** False when IoT had it already (a retry, or a robot registering again). */
	readonly created: boolean;
}

export interface IotRegistry {
	/** A CA registered with IoT, or undefined when there is none with this id. */
	describeCaCertificate(caCertificateId: string): Promise<CaCertificate | undefined>;
	/**
	 * Registers a device certificate signed by a registered CA, ACTIVE; answers the existing
	 * one, with its status unchanged, when IoT has it already. Throws CertificateRejected when
	 * IoT refuses the certificate itself (not signed by the CA, malformed, expired).
	 */
	registerCertificate(certificatePem: string, caCertificatePem: string): Promise<RegisteredCertificate>;
	/** Creates the thing, or answers the existing one. */
	createThing(thingName: string): Promise<{ readonly thingArn: string }>;
	attachPolicy(policyName: string, certificateArn: string): Promise<void>;
	attachThingPrincipal(thingName: string, certificateArn: string): Promise<void>;
}

/** IoT refused the certificate for what it is: retrying cannot help. */
export class CertificateRejected extends Error {
	override readonly name = 'CertificateRejected';
}

/** IoT certificate ids are the SHA-256 of the DER, hex. */
export function certificateIdOfPem(pem: string): string {
	return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

const named = (e: unknown, ...names: string[]) => names.includes((e as Error)?.name);

export function awsIotRegistry(iot: IoTClient): IotRegistry {
	return {
		async describeCaCertificate(certificateId) {
			try {
				const d = (await iot.send(new DescribeCACertificateCommand({ certificateId }))).certificateDescription;
				return d?.certificatePem ? { pem: d.certificatePem, status: d.status ?? 'UNKNOWN' } : undefined;
			} catch (e) {
				if (named(e, 'ResourceNotFoundException')) return undefined;
				throw e;
			}
		},
		async registerCertificate(certificatePem, caCertificatePem) {
			try {
				const out = await iot.send(new RegisterCertificateCommand({ certificatePem, caCertificatePem, status: 'ACTIVE' }));
				if (!out.certificateId || !out.certificateArn) throw new Error('RegisterCertificate answered without an id or ARN');
				return { certificateId: out.certificateId, certificateArn: out.certificateArn, status: 'ACTIVE', created: true };
			} catch (e) {
				if (named(e, 'CertificateValidationException', 'CertificateStateException')) throw new CertificateRejected((e as Error).message);
				if (!named(e, 'ResourceAlreadyExistsException')) throw e;
			}
			// already there: its status is what it is (a revoked certificate stays revoked)
			const d = (await iot.send(new DescribeCertificateCommand({ certificateId: certificateIdOfPem(certificatePem) }))).certificateDescription;
			if (!d?.certificateId || !d.certificateArn) throw new Error('DescribeCertificate answered without an id or ARN');
			return { certificateId: d.certificateId, certificateArn: d.certificateArn, status: d.status ?? 'UNKNOWN', created: false };
		},
		async createThing(thingName) {
			try {
				const out = await iot.send(new CreateThingCommand({ thingName }));
				if (!out.thingArn) throw new Error('CreateThing answered without an ARN');
				return { thingArn: out.thingArn };
			} catch (e) {
				// CreateThing is idempotent for the same attributes; an existing thing with others is still the thing
				if (!named(e, 'ResourceAlreadyExistsException')) throw e;
				const d = await iot.send(new DescribeThingCommand({ thingName }));
				if (!d.thingArn) throw new Error('DescribeThing answered without an ARN');
				return { thingArn: d.thingArn };
			}
		},
		async attachPolicy(policyName, certificateArn) {
			await iot.send(new AttachPolicyCommand({ policyName, target: certificateArn }));
		},
		async attachThingPrincipal(thingName, certificateArn) {
			await iot.send(new AttachThingPrincipalCommand({ thingName, principal: certificateArn }));
		},
	};
}
