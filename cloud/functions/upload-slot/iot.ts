/*
 * What the upload-slot handler needs from AWS IoT, as two small interfaces injected at
 * construction, each with its AWS implementation here:
 * - a certificate directory: the PEM of the certificate a robot connected with, by
 *   certificate id (the rule's principal()): IoT DescribeCertificate;
 * - an MQTT publisher for the reply: the IoT data plane's Publish.
 * The local cloud implements both over what its broker knows (cloud/local/certificates.ts
 * and the bus): no `if (local)` in the handler.
 */
import { DescribeCertificateCommand, IoTClient, ResourceNotFoundException } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';

export interface CertificateDirectory {
	/** The PEM of an ACTIVE certificate, or undefined when there is none with this id. Throws on a service fault. */
	get(certificateId: string): Promise<string | undefined>;
}

export interface MqttPublisher {
	publish(topic: string, payload: string, qos: 0 | 1): Promise<void>;
}

/** IoT certificate ids are the 64 hex digits of the SHA-256 of the DER. */
export const CERTIFICATE_ID = /^[0-9a-f]{64}$/;

export function iotCertificateDirectory(iot: IoTClient): CertificateDirectory {
	return {
		async get(certificateId) {
			if (!CERTIFICATE_ID.test(certificateId)) return undefined;
			try {
				const out = await iot.send(new DescribeCertificateCommand({ certificateId }));
				const d = out.certificateDescription;
				// a revoked or deactivated certificate no longer speaks for the robot
				return d?.status === 'ACTIVE' && d.certificatePem ? d.certificatePem : undefined;
			} catch (e) {
				if (e instanceof ResourceNotFoundException || (e as Error)?.name === 'ResourceNotFoundException') return undefined;
				throw e;
			}
		},
	};
}

export function iotDataPublisher(client: IoTDataPlaneClient): MqttPublisher {
	return {
		async publish(topic, payload, qos) {
			await client.send(new PublishCommand({ topic, qos, payload: new TextEncoder().encode(payload) }));
		},
	};
}
