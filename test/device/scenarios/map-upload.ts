/*
 * Map upload on the device (issue #6), with the real link, the local cloud's slot rule,
 * its S3 and its ingest: the MapUploader of the core over the Moddable adapters, i.e.
 * the data key unwrapped with the native RSA (platform/moddable/crypto.ts), the map
 * encrypted frame by frame with native AES-GCM into an AWS Encryption SDK message, and
 * that message PUT to the presigned URL through the Moddable `http` client
 * (platform/moddable/http.ts), plain http to 127.0.0.1.
 *
 *   map-upload-64k, map-upload-2m   one map of that size (fixtures.MAP_UPLOADS), generated
 *                  piece by piece (fixtures.mapGenerator: the Node runner makes the same bytes
 *                  to compare with the decoded object), never whole in memory.
 *
 * Before the upload: the ESDK writer alone (no network) over 256 KB with the native crypto,
 * for the encryption throughput. During it: XS slot and chunk heap use sampled at every
 * frame (Instrumentation), so the peak is the upload's, for the 64 KB / 2 MB comparison.
 * PASS when the PUT got a 2xx; the runner then checks the table and the decoded object.
 */
/// <reference path="../../../firmware/platform/moddable/moddable-crypto.d.ts" />
import Instrumentation from 'instrumentation';
import Time from 'time';
import { MapUploader, type MapSource } from '../../../firmware/core/upload/uploader';
import { createMessageWriter, messageBody } from '../../../firmware/core/upload/esdk';
import { createModdableDeviceKey, moddableCrypto } from '../../../firmware/platform/moddable/crypto';
import { createModdableHttpPort } from '../../../firmware/platform/moddable/http';
import { loadCredentials, moddableRandom, moddableTimers } from '../../../firmware/platform/moddable/platform';
import type { Context, Scenario } from './index';
import { MAP_UPLOADS, mapGenerator, mapSeed } from './fixtures';

export interface Heap {
	slot: number;
	chunk: number;
}

export function heapNow(ids: { slot: number; chunk: number }): Heap {
	return { slot: Instrumentation.get(ids.slot) ?? 0, chunk: Instrumentation.get(ids.chunk) ?? 0 };
}

/** The map of `missionId` as a MapSource: generated into one reused buffer, piece by piece. */
export function generatedMap(missionId: string, length: number, onPiece: () => void): MapSource {
	return {
		length,
		open() {
			const gen = mapGenerator(mapSeed(missionId));
			const buffer = new Uint8Array(4096);
			let left = length;
			return (max: number) => {
				if (left === 0) return undefined;
				onPiece();
				const n = Math.min(max, left, buffer.length);
				const piece = buffer.subarray(0, n);
				gen.next(piece);
				left -= n;
				return piece;
			};
		},
	};
}

/** The ESDK writer over `bytes` of plaintext with the native crypto and no network: ms. */
function encryptOnly(bytes: number): number {
	const writer = createMessageWriter({
		crypto: moddableCrypto,
		dataKey: moddableCrypto.random(32),
		encryptionContext: { thing: 'bench', mission: 'm-bench', purpose: 'map' },
		edk: { providerId: 'aws-kms', providerInfo: 'arn:aws:kms:local:000000000000:key/bench', ciphertext: new Uint8Array(64) },
		frameLength: 4096,
	});
	const plain = new Uint8Array(4096);
	let left = bytes;
	const body = messageBody(writer, bytes, (max) => {
		if (left === 0) return undefined;
		const n = Math.min(max, left, plain.length);
		left -= n;
		return plain.subarray(0, n);
	}, new Uint8Array(4096 + 40));
	const t = Time.ticks;
	while (body.next() !== undefined);
	return Time.ticks - t;
}

function mapUpload(name: string): Scenario {
	return {
		timeoutMs: 40_000,
		run(c: Context) {
			const spec = MAP_UPLOADS[name];
			if (!spec) return c.fail('no MAP_UPLOADS entry for ' + name);
			const credentials = loadCredentials();
			if (typeof credentials === 'string') return c.fail(credentials);
			const ids = { slot: Instrumentation.map('XS Slot Heap Used') ?? -1, chunk: Instrumentation.map('XS Chunk Heap Used') ?? -1 };
			if (ids.slot < 0 || ids.chunk < 0) return c.fail('no XS heap instruments (a debug build is needed)');

			const benchBytes = 256 * 1024;
			const encMs = Math.max(1, encryptOnly(benchBytes));
			c.metric({ name: 'map.encrypt_native', bytes: benchBytes, ms: encMs, kBps: Math.round(benchBytes / encMs) });

			const deviceKey = createModdableDeviceKey(credentials.key);
			const http = createModdableHttpPort();
			const uploader = new MapUploader(c.link, { crypto: moddableCrypto, deviceKey, http, timers: moddableTimers, random: moddableRandom, log: c.ports.log }, c.thing, { slotTimeoutMs: 8_000, maxAttempts: 2 });
			const slotTopic = 'robots/' + c.thing + '/maps/upload-slot';
			let started = false;
			const base = heapNow(ids);
			const peak: Heap = { ...base };
			let samples = 0;
			const sample = () => {
				const h = heapNow(ids);
				if (h.slot > peak.slot) peak.slot = h.slot;
				if (h.chunk > peak.chunk) peak.chunk = h.chunk;
				samples++;
			};
			const start = () => {
				if (started) return;
				started = true;
				c.step('uploading', { mission: spec.missionId, bytes: spec.bytes });
				const t0 = Time.ticks;
				let lastProgress = 0;
				uploader
					.upload(spec.missionId, generatedMap(spec.missionId, spec.bytes, sample), (sent, total) => {
						sample();
						if (sent === total || sent - lastProgress >= 512 * 1024) {
							lastProgress = sent;
							trace('upload progress ' + sent + '/' + total + '\n');
						}
					})
					.then((r) => {
						const ms = Math.max(1, Time.ticks - t0);
						if (!r.ok) return c.fail('upload failed: ' + JSON.stringify(r.error));
						c.metric({
							name: 'map.upload',
							mapBytes: spec.bytes,
							messageBytes: r.value.bytes,
							attempts: r.value.attempts,
							ms,
							kBps: Math.round(r.value.bytes / ms),
							heapSamples: samples,
							slotBaseline: base.slot,
							chunkBaseline: base.chunk,
							slotPeak: peak.slot,
							chunkPeak: peak.chunk,
						});
						c.step('uploaded', { mission: spec.missionId, bytes: r.value.bytes, ms, slotPeak: peak.slot, chunkPeak: peak.chunk });
						c.pass();
					}, (e: unknown) => c.fail('upload threw: ' + String(e)));
			};
			c.link.listen({
				subscription(filter, granted) {
					if (filter !== slotTopic) return;
					if (granted === 0x80) return c.fail('SUBSCRIBE ' + slotTopic + ' refused');
					start();
				},
			});
			c.link.start();
		},
	};
}

export const mapUpload64k = mapUpload('map-upload-64k');
export const mapUpload2m = mapUpload('map-upload-2m');
