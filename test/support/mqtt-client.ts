// MQTT.js as the reference client of the broker tests: connect a device identity over mutual TLS.
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import type { DeviceIdentity } from '../../cloud/local/dev-pki';

export interface ConnectOptions {
	port: number;
	identity: DeviceIdentity;
	/** Defaults to the thing name. */
	clientId?: string;
	/** PEM of the CA the client trusts for the broker; defaults to the identity's issuer. */
	ca?: string;
	clean?: boolean;
	/** Restrict the client as the device is: TLS 1.2 with one cipher suite. */
	tls12Cipher?: string;
}

/** Resolves once CONNACK 0 arrived; rejects with the first error (TLS alert, CONNACK code) or close. */
export function connectThing(o: ConnectOptions): Promise<MqttClient> {
	const options: IClientOptions = {
		protocol: 'mqtts',
		host: '127.0.0.1',
		servername: 'localhost',
		port: o.port,
		ca: o.ca ?? o.identity.caPem,
		cert: o.identity.certPem,
		key: o.identity.keyPem,
		clientId: o.clientId ?? o.identity.thing,
		protocolVersion: 4,
		clean: o.clean ?? true,
		reconnectPeriod: 0,
		connectTimeout: 5000,
		...(o.tls12Cipher ? { maxVersion: 'TLSv1.2' as const, ciphers: o.tls12Cipher } : {}),
	};
	return new Promise((resolve, reject) => {
		const client = mqtt.connect(options);
		const fail = (err: Error): void => {
			client.removeAllListeners('connect');
			client.on('error', () => {});
			client.end(true);
			reject(err);
		};
		client.once('error', fail);
		client.once('close', () => fail(new Error('closed before CONNACK')));
		client.once('connect', () => {
			client.removeListener('error', fail);
			client.removeAllListeners('close');
			client.on('error', () => {});
			resolve(client);
		});
	});
}

/** Resolves when the client's connection closes (or has closed). */
export function closed(client: MqttClient): Promise<void> {
	if (!client.connected && client.disconnected) return Promise.resolve();
	return new Promise((resolve) => client.once('close', () => resolve()));
}

/** The next message on `topic`, or a rejection after `ms`. */
export function nextMessage(client: MqttClient, topic: string, ms = 5000): Promise<{ topic: string; payload: Buffer; qos: number }> {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			client.removeListener('message', on);
			reject(new Error(`no message on ${topic} within ${ms} ms`));
		}, ms);
		const on = (t: string, payload: Buffer, packet: { qos: number }): void => {
			if (t !== topic) return;
			clearTimeout(timer);
			client.removeListener('message', on);
			resolve({ topic: t, payload, qos: packet.qos });
		};
		client.on('message', on);
	});
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
