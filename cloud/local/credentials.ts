/*
 * The local cloud's identity: one account, one region, one access key. Clients
 * reach the local services through ordinary endpoint overrides with these
 * credentials; the services check request signatures against them (SigV4).
 */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_CREDENTIALS: Readonly<{ accessKeyId: string; secretAccessKey: string }> = Object.freeze({
	accessKeyId: 'AKIALOCALCLOUD000001',
	secretAccessKey: 'local-cloud-secret-key-not-for-aws-000000',
});
