/*
 * The local Device Shadow service: one store served over MQTT (through the bus) and over
 * the HTTP data plane (for `@aws-sdk/client-iot-data-plane` with `endpoint` set to
 * `endpoint`). A change made on either transport is published on MQTT as AWS does.
 */
import type { Bus } from '../bus';
import { silentLog, type LogFn } from '../log';
import { startShadowHttp } from './http';
import { bindShadowMqtt } from './mqtt';
import { createShadowOperations, type ShadowClock, type ShadowOperations } from './service';
import { createShadowStore, type ShadowStore } from './store';

export interface ShadowServiceOptions {
	readonly bus: Bus;
	readonly log?: LogFn;
	/** HTTP port; 0 (default) picks a free one. */
	readonly port?: number;
	readonly host?: string;
	/** Where shadows persist, one JSON file each; undefined keeps them in memory. */
	readonly dataDir?: string;
	readonly clock?: ShadowClock;
	/** Refuse HTTP requests without a valid SigV4 signature for `iotdata` (default true). */
	readonly verifySignatures?: boolean;
}

export interface ShadowService {
	/** Base URL of the HTTP data plane, e.g. `http://127.0.0.1:40123`. */
	readonly endpoint: string;
	readonly store: ShadowStore;
	readonly operations: ShadowOperations;
	/** Stops both transports and waits for the files to be written. */
	close(): Promise<void>;
}

const systemClock: ShadowClock = Object.freeze({ now: () => Date.now() });

export async function startShadowService(options: ShadowServiceOptions): Promise<ShadowService> {
	const log = options.log ?? silentLog;
	const clock = options.clock ?? systemClock;
	const store = createShadowStore(options.dataDir !== undefined ? { dataDir: options.dataDir } : {});
	const operations = createShadowOperations(store, clock);
	const http = await startShadowHttp(operations, {
		clock,
		log,
		publish: (topic, payload, qos) => options.bus.publish(topic, payload, qos),
		...(options.port !== undefined ? { port: options.port } : {}),
		...(options.host !== undefined ? { host: options.host } : {}),
		...(options.verifySignatures !== undefined ? { verifySignatures: options.verifySignatures } : {}),
	});
	const unbind = bindShadowMqtt(options.bus, operations, log);
	log({ level: 'info', event: 'shadow.started', endpoint: http.url, dataDir: options.dataDir ?? null });
	return {
		endpoint: http.url,
		store,
		operations,
		async close() {
			unbind();
			await http.close();
			await store.flush();
		},
	};
}

export type { ShadowClock, ShadowOperations, ShadowChange, Reply, ListReply } from './service';
export type { ShadowStore, ShadowEntry } from './store';
export type { Shadow, UpdateAccepted, DeltaReply, DocumentsReply, GetReply, DeleteReply, ErrorReply } from './document';
