/*
 * AWS clients built from plain config, so a handler never builds its own: the Lambda
 * entry makes them from the environment (region and credentials from the runtime), the
 * local cloud makes them with an endpoint override and its credentials. Same handler,
 * different clients: no `if (local)` anywhere (design.md, "Parts and where they live").
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface AwsCredentials {
	readonly accessKeyId: string;
	readonly secretAccessKey: string;
	readonly sessionToken?: string;
}

export interface AwsClientConfig {
	/** Defaults to the SDK's own resolution (AWS_REGION on Lambda). */
	readonly region?: string;
	/** An endpoint override, e.g. the local cloud's `http://127.0.0.1:port`. */
	readonly endpoint?: string;
	/** Defaults to the SDK's provider chain (the function's role on Lambda). */
	readonly credentials?: AwsCredentials;
	/** Attempts per call including the first, with the SDK's backoff; SDK default 3. */
	readonly maxAttempts?: number;
}

/** The SDK's config shape, copied: the SDK mutates the credentials object it is given. */
export function clientConfig(c: AwsClientConfig): { region?: string; endpoint?: string; credentials?: AwsCredentials; maxAttempts?: number } {
	if (c.endpoint !== undefined) {
		let url: URL;
		try {
			url = new URL(c.endpoint);
		} catch {
			throw new TypeError('"endpoint" expected an http(s) URL, got ' + JSON.stringify(c.endpoint));
		}
		if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('"endpoint" expected an http(s) URL, got ' + JSON.stringify(c.endpoint));
	}
	if (c.maxAttempts !== undefined && !(Number.isInteger(c.maxAttempts) && c.maxAttempts >= 1)) throw new RangeError('"maxAttempts" expected an integer >= 1, got ' + c.maxAttempts);
	return {
		...(c.region ? { region: c.region } : {}),
		...(c.endpoint ? { endpoint: c.endpoint } : {}),
		...(c.credentials ? { credentials: { ...c.credentials } } : {}),
		...(c.maxAttempts ? { maxAttempts: c.maxAttempts } : {}),
	};
}

/**
 * A DynamoDB document client: items in and out as plain JS values. Undefined members are
 * dropped rather than refused (an optional report field absent is not an error).
 */
export function createDocumentClient(c: AwsClientConfig = {}): DynamoDBDocumentClient {
	return DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig(c)), {
		marshallOptions: { removeUndefinedValues: true },
	});
}
