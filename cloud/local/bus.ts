/*
 * How the local cloud's services (shadow, jobs, rules) talk MQTT: in-process, with
 * no policy, through whichever broker is running. Subscriptions outlive a broker
 * restart (a fault tests inject): they are applied again to the next broker, as
 * AWS IoT's own services never lose theirs.
 */
import type { Broker, BrokerMessage, DevicePublish, MessageHandler, QoS } from './broker';
import type { LogFn } from './log';

export interface Bus {
	/** Publishes as the cloud; while the broker is down the message is dropped and logged (as a QoS 0 would be). */
	publish(topic: string, payload: Uint8Array | string, qos?: QoS): Promise<void>;
	subscribe(filter: string, handler: MessageHandler): () => void;
	onDevicePublish(handler: (m: DevicePublish) => void): () => void;
}

export interface BusControl extends Bus {
	attach(broker: Broker): Promise<void>;
	detach(): void;
}

export function createBus(log: LogFn): BusControl {
	const subs = new Set<{ filter: string; handler: MessageHandler; off?: () => Promise<void> }>();
	const taps = new Set<{ handler: (m: DevicePublish) => void; off?: () => void }>();
	let broker: Broker | undefined;
	return {
		async publish(topic, payload, qos = 1) {
			if (!broker) {
				log({ level: 'warn', event: 'bus.dropped', topic, reason: 'broker down' });
				return;
			}
			await broker.publish(topic, payload, qos);
		},
		subscribe(filter, handler) {
			const sub: { filter: string; handler: MessageHandler; off?: () => Promise<void> } = { filter, handler };
			subs.add(sub);
			if (broker) void broker.subscribe(filter, handler).then((off) => (subs.has(sub) ? (sub.off = off) : void off()));
			return () => {
				subs.delete(sub);
				void sub.off?.();
			};
		},
		onDevicePublish(handler) {
			const tap: { handler: (m: DevicePublish) => void; off?: () => void } = { handler };
			taps.add(tap);
			if (broker) tap.off = broker.onDevicePublish(handler);
			return () => {
				taps.delete(tap);
				tap.off?.();
			};
		},
		async attach(b) {
			broker = b;
			for (const t of taps) t.off = b.onDevicePublish(t.handler);
			await Promise.all([...subs].map(async (s) => (s.off = await b.subscribe(s.filter, s.handler))));
		},
		detach() {
			broker = undefined;
			for (const s of subs) s.off = undefined;
			for (const t of taps) t.off = undefined;
		},
	};
}

export type { BrokerMessage, DevicePublish };
