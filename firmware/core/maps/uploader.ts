/*
 * Uploads a mission's map: asks the cloud for an upload slot over MQTT, unwraps
 * the data key the cloud wrapped to this robot's certificate key (RSA-OAEP), writes
 * the map as an AWS Encryption SDK message frame by frame straight into an HTTP PUT
 * to the presigned S3 URL, and wipes the key. Memory: one frame, whatever the size.
 *
 * A refused or expired URL (HTTP 403) asks for a new slot; a network failure, a slot
 * request that timed out and the cloud's own "try again later" (`unavailable`: KMS or IoT
 * briefly failing) try again with backoff; after `maxAttempts` the upload fails with the
 * last reason, which the queue retries later (queue.ts). Only a refusal the cloud means
 * (any other error code) is final: `slot-refused` with `retryable: false`. Those decisions are
 * the upload machine's (machine.ts), run here on the core's runner.
 *
 * The reply topic is subscribed at QoS 0 (as the shadow replies): a slot is only
 * useful to the request waiting for it, so nothing is queued for an absent robot;
 * the request itself goes at QoS 1 through the outbox, not durable.
 */
import type { CryptoPort, DeviceKeyPort, HttpPort, LogPort, RandomPort, TimerPort } from '../../ports';
import { backoffDelay, type BackoffPolicy } from '../link/backoff';
import type { Message } from '../link/link';
import { jsonObject, Requests, type Messenger } from '../link/requests';
import { mapUploadRequestTopic, mapUploadSlotTopic } from '../contracts/topics';
import { parseUploadSlot, RETRYABLE_SLOT_ERROR, UPLOAD_CONTENT_TYPE, type ReceivedSlot } from '../contracts/upload-slot';
import { oaepDecrypt } from '../crypto/oaep';
import { err, ok, type Result } from '../util/result';
import { createMessageWriter, messageBody, type PlaintextSource } from './esdk';
import { IDLE, step, type UploadEffect, type UploadEvent, type UploadState } from './machine';
import { Runner } from '../util/runner';

export interface MapSource {
	readonly length: number;
	/** A fresh reader from the first byte (an upload may start over). */
	open(): PlaintextSource;
}

export interface UploaderPorts {
	readonly crypto: CryptoPort;
	readonly deviceKey: DeviceKeyPort;
	readonly http: HttpPort;
	readonly timers: TimerPort;
	readonly random: RandomPort;
	readonly log: LogPort;
}

export interface UploaderOptions {
	readonly slotTimeoutMs?: number;
	readonly maxAttempts?: number;
	readonly backoff?: BackoffPolicy;
	/** Largest frame length a slot may ask for: the one buffer this costs. */
	readonly maxFrameLength?: number;
}

export type UploadError =
	| { readonly code: 'slot-timeout' }
	/** The cloud answered an error: `retryable` for `unavailable` (its "try again later"), final otherwise. */
	| { readonly code: 'slot-refused'; readonly reason: string; readonly retryable: boolean }
	| { readonly code: 'bad-slot'; readonly reason: string }
	| { readonly code: 'unwrap' }
	| { readonly code: 'http'; readonly status: number }
	| { readonly code: 'network'; readonly reason: string }
	| { readonly code: 'source'; readonly reason: string }
	| { readonly code: 'offline' };

const RETRY: BackoffPolicy = Object.freeze({ baseMs: 1000, capMs: 30_000 });

export class MapUploader {
	readonly #ports: UploaderPorts;
	readonly #thing: string;
	readonly #opts: Required<UploaderOptions>;
	readonly #requests: Requests;

	constructor(link: Messenger, ports: UploaderPorts, thing: string, options: UploaderOptions = {}) {
		this.#ports = ports;
		this.#thing = thing;
		this.#opts = { slotTimeoutMs: 10_000, maxAttempts: 4, backoff: RETRY, maxFrameLength: 16_384, ...options };
		// 'u': the slot topic is the robot's own, but its tokens stay distinct from the shadow's in logs
		this.#requests = new Requests(link, ports, { name: 'map', timeoutMs: this.#opts.slotTimeoutMs, tokenPrefix: 'u' });
		const r = link.subscribe(mapUploadSlotTopic(thing), (m) => this.#reply(m), 0);
		if (!r.ok) throw new Error('uploader: cannot subscribe: ' + JSON.stringify(r.error));
	}

	/** Uploads `map` for `missionId`; resolves to the attempts it took or why it failed (never rejects). */
	upload(missionId: string, map: MapSource, onProgress?: (sent: number, total: number) => void): Promise<Result<{ attempts: number; bytes: number }, UploadError>> {
		return new Promise((resolve) => {
			// one machine per upload (machine.ts); each async effect's outcome comes back as an event
			const runner: Runner<UploadState, UploadEvent, UploadEffect> = new Runner<UploadState, UploadEvent, UploadEffect>(IDLE, {
				step: (st, e) => step(st, e, this.#opts.maxAttempts),
				perform: (fx) => {
					switch (fx.type) {
						case 'log':
							return this.#ports.log.log(fx.level, fx.event, { mission: missionId, ...fx.fields });
						case 'requestSlot':
							return void this.#requestSlot(missionId, map.length).then((r) => runner.dispatch(r.ok ? { type: 'slot', slot: r.value } : { type: 'slotFailed', error: r.error }));
						case 'put':
							return void this.#put(fx.slot, map, onProgress).then(
								(r) => runner.dispatch(r.ok ? { type: 'put', bytes: r.value } : { type: 'putFailed', error: r.error }),
								// a reader or writer that throws is a map that cannot be read: final, and never an unhandled rejection
								(e: unknown) => runner.dispatch({ type: 'putFailed', error: { code: 'source', reason: String(e) } }),
							);
						case 'sleep':
							this.#ports.timers.set(() => runner.dispatch({ type: 'wake' }), backoffDelay(this.#opts.backoff, fx.attempt, this.#ports.random.random()));
							return;
					}
				},
				settled: (st) => {
					if (st.value === 'uploaded') resolve(ok({ attempts: st.attempts, bytes: st.bytes }));
					else if (st.value === 'failed') resolve(err(st.error));
				},
			});
			runner.dispatch({ type: 'start' });
		});
	}

	async #requestSlot(missionId: string, bytes: number): Promise<Result<ReceivedSlot, UploadError>> {
		// `bytes` is announced for the cloud's size check, which takes 1 and up: an empty map says nothing
		const r = await this.#requests.send(mapUploadRequestTopic(this.#thing), { missionId, ...(bytes > 0 ? { bytes } : {}) }, 'upload-request');
		if (!r.ok) return err(r.error.code === 'timeout' ? { code: 'slot-timeout' } : { code: 'offline' });
		const body = r.value.body;
		const e = body.error as { code?: unknown; message?: unknown } | undefined;
		if (e) return err({ code: 'slot-refused', reason: String(e.code) + ': ' + String(e.message), retryable: e.code === RETRYABLE_SLOT_ERROR });
		const slot = parseUploadSlot(body, this.#opts.maxFrameLength);
		return typeof slot === 'string' ? err({ code: 'bad-slot', reason: slot }) : ok(slot);
	}

	#reply(m: Message): void {
		const body = jsonObject(m.payload);
		if (!body) return this.#ports.log.log('error', 'map.bad_slot_message', { bytes: m.payload.length });
		// a late reply for a request already given up on finds nobody
		this.#requests.answer(body, body.error === undefined);
	}

	async #put(slot: ReceivedSlot, map: MapSource, onProgress?: (sent: number, total: number) => void): Promise<Result<number, UploadError>> {
		const key = oaepDecrypt(this.#ports.crypto, this.#ports.deviceKey, slot.wrappedKey);
		if (!key.ok || key.value.length !== 32) {
			if (key.ok) key.value.fill(0);
			return err({ code: 'unwrap' });
		}
		// the writer derives its keys and wipes the data key at once
		const writer = createMessageWriter({
			crypto: this.#ports.crypto,
			dataKey: key.value,
			encryptionContext: slot.context,
			edk: { providerId: 'aws-kms', providerInfo: slot.keyArn, ciphertext: slot.blob },
			frameLength: slot.frameLength,
		});
		try {
			const body = messageBody(writer, map.length, map.open());
			const total = body.length;
			const r = await this.#ports.http.request({
				method: 'PUT',
				url: slot.url,
				headers: { ...slot.headers, 'content-type': UPLOAD_CONTENT_TYPE },
				body,
				...(onProgress ? { onProgress: (sent: number) => onProgress(sent, total) } : {}),
			});
			if (body.failure) return err({ code: 'source', reason: body.failure });
			if (!r.ok) return err({ code: 'network', reason: r.error });
			if (r.value.status < 200 || r.value.status > 299) return err({ code: 'http', status: r.value.status });
			return ok(total);
		} finally {
			writer.dispose();
		}
	}
}
