/*
 * (c) The broker restarts while we are connected. On the first CONNACK we trace
 * `step online` and the runner restarts the broker; the link must notice, back off,
 * reconnect, and then deliver a QoS 1 message (PASS on its PUBACK).
 */
import { reconnectThenDeliver } from './reconnect';

export default reconnectThenDeliver('after-restart', () => undefined, 'lost');
