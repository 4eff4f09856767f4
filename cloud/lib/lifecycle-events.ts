/*
 * AWS IoT lifecycle events ($aws/events/presence/connected|disconnected/<clientId>): the part of
 * their contract both the local broker (cloud/local/presence.ts, which publishes them) and the
 * presence function (cloud/functions/presence, which reads them) rely on.
 */

/** AWS's documented disconnect reasons (developer guide, "Lifecycle events"). */
export const DISCONNECT_REASONS = Object.freeze([
	'AUTH_ERROR',
	'CLIENT_INITIATED_DISCONNECT',
	'CLIENT_ERROR',
	'CONNECTION_LOST',
	'DUPLICATE_CLIENTID',
	'FORBIDDEN_ACCESS',
	'MQTT_KEEP_ALIVE_TIMEOUT',
	'SERVER_ERROR',
	'SERVER_INITIATED_DISCONNECT',
	'THROTTLED',
	'WEBSOCKET_TTL_EXPIRATION',
	'CUSTOMAUTH_TTL_EXPIRATION',
	'API_INITIATED_DISCONNECT',
] as const);

export type DisconnectReason = (typeof DISCONNECT_REASONS)[number];
