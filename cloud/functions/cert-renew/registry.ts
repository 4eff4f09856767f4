/*
 * What renewal asks of AWS IoT's registry (RenewRegistry): registration's calls
 * (RegisterCertificate, AttachPolicy, AttachThingPrincipal: register-worker's awsIotRegistry)
 * plus DescribeCertificate (status, PEM and ARN of the certificate the robot connected with) and
 * ListThingPrincipals (is that certificate attached to the thing it names). The local cloud's
 * counterpart is cloud/local/renewal.ts localRenewRegistry.
 */
import { DescribeCertificateCommand, ListThingPrincipalsCommand, type IoTClient } from '@aws-sdk/client-iot';
import { awsIotRegistry } from '../register-worker/registry';
import type { RenewRegistry } from './handler';

export function awsRenewRegistry(iot: IoTClient): RenewRegistry {
	const base = awsIotRegistry(iot);
	return {
		registerCertificate: (pem, caPem) => base.registerCertificate(pem, caPem),
		attachPolicy: (name, arn) => base.attachPolicy(name, arn),
		attachThingPrincipal: (thing, arn) => base.attachThingPrincipal(thing, arn),
		async describeCertificate(certificateId) {
			try {
				const d = (await iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription;
				if (!d?.certificatePem || !d.certificateArn) throw new Error('DescribeCertificate answered without a PEM or ARN for ' + certificateId);
				return { status: d.status ?? 'UNKNOWN', pem: d.certificatePem, arn: d.certificateArn };
			} catch (e) {
				// an unknown certificate is a refusal (certificate_not_active), not a fault
				if ((e as Error)?.name === 'ResourceNotFoundException') return undefined;
				throw e;
			}
		},
		async thingPrincipals(thingName) {
			const out: string[] = [];
			let nextToken: string | undefined;
			do {
				const page = await iot.send(new ListThingPrincipalsCommand({ thingName, ...(nextToken ? { nextToken } : {}) }));
				out.push(...(page.principals ?? []));
				nextToken = page.nextToken;
			} while (nextToken);
			return out;
		},
	};
}
