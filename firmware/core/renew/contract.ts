/*
 * The renewal request/reply topics, one definition for the robot (core/renew) and the cloud
 * (cloud/functions/cert-renew). All under the robot's own `robots/<thing>/` prefix, which the
 * robot policy (cloud/local/thing-policy.ts ROBOT_POLICY) already grants for publish, subscribe
 * and receive: no new policy row is needed, and no robot can reach another's.
 */
export const RENEW_REQUEST_FILTER = 'robots/+/cert/renew';

export function renewTopics(thing: string): { readonly request: string; readonly accepted: string; readonly rejected: string } {
	const base = 'robots/' + thing + '/cert/renew';
	return { request: base, accepted: base + '/accepted', rejected: base + '/rejected' };
}
