/*
 * (e) A malformed frame from the broker (the runner's TLS relay injects one after
 * the first CONNACK): the link must close with a clear `mqtt.bad_frame` log line,
 * reconnect, and deliver a QoS 1 message afterwards (PASS on its PUBACK).
 */
import { reconnectThenDeliver } from './reconnect';

export default reconnectThenDeliver(
	'after-bad-frame',
	(reason) => (reason.indexOf('bad frame') === 0 ? undefined : 'closed for another reason: ' + reason),
	'bad-frame-closed',
);
