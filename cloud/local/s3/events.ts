/*
 * S3 event notifications in the shape Lambda receives them (event version 2.1).
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
 */
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../credentials';

export interface S3EventRecord {
	readonly eventVersion: '2.1';
	readonly eventSource: 'aws:s3';
	readonly awsRegion: string;
	/** ISO-8601 time the object was created. */
	readonly eventTime: string;
	readonly eventName: 'ObjectCreated:Put';
	readonly userIdentity: { readonly principalId: string };
	readonly requestParameters: { readonly sourceIPAddress: string };
	readonly responseElements: { readonly 'x-amz-request-id': string; readonly 'x-amz-id-2': string };
	readonly s3: {
		readonly s3SchemaVersion: '1.0';
		readonly configurationId: string;
		readonly bucket: { readonly name: string; readonly ownerIdentity: { readonly principalId: string }; readonly arn: string };
		readonly object: {
			/** URL-encoded as AWS does: spaces as '+', '/' kept; decode with decodeURIComponent(k.replace(/\+/g, ' ')). */
			readonly key: string;
			readonly size: number;
			/** MD5 hex without quotes, as in real notifications. */
			readonly eTag: string;
			readonly sequencer: string;
		};
	};
}

export interface S3Event {
	readonly Records: readonly S3EventRecord[];
}

export type ObjectCreatedHandler = (event: S3Event) => void | Promise<void>;

/** The object key as notifications carry it: form-style URL encoding with '/' left alone. */
export function eventKey(key: string): string {
	return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

export function objectCreatedEvent(o: { bucket: string; key: string; size: number; etag: string; time: Date; sourceIp: string; requestId: string; sequencer: number }): S3Event {
	return {
		Records: [
			{
				eventVersion: '2.1',
				eventSource: 'aws:s3',
				awsRegion: LOCAL_REGION,
				eventTime: o.time.toISOString(),
				eventName: 'ObjectCreated:Put',
				userIdentity: { principalId: 'AWS:' + LOCAL_ACCOUNT },
				requestParameters: { sourceIPAddress: o.sourceIp },
				responseElements: { 'x-amz-request-id': o.requestId, 'x-amz-id-2': o.requestId },
				s3: {
					s3SchemaVersion: '1.0',
					configurationId: 'local',
					bucket: { name: o.bucket, ownerIdentity: { principalId: LOCAL_ACCOUNT }, arn: 'arn:aws:s3:::' + o.bucket },
					object: {
						key: eventKey(o.key),
						size: o.size,
						eTag: o.etag.replace(/"/g, ''),
						sequencer: o.sequencer.toString(16).toUpperCase().padStart(16, '0'),
					},
				},
			},
		],
	};
}
