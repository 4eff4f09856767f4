/*
 * Ships the robot's log ring (core/log/ring.ts) when an operator asks for it over MQTT.
 *
 *   request  robots/{thing}/logs/request   {"id":"<1-64 of [A-Za-z0-9_-]>","since":<seq, default 0>}
 *   reply    robots/{thing}/logs           {"id":..,"batch":1,"more":true,"lost":0,"last":57,"lines":[{..},..]}
 *
 * - Both at QoS 0: the request is worth nothing once the operator gave up waiting, and the
 *   lines stay in the ring, so a reply lost is asked for again (`since` = the last `last`
 *   seen); nothing is queued in the outbox or billed while the robot is away.
 * - In batches of at most `batchBytes` of payload (default 4,000: one 5 KB unit of AWS IoT
 *   messaging), all sent at once; the ring is bounded, so one request costs at most
 *   ceil(ring bytes / batch) + 1 messages. `more` false marks the last batch.
 * - At most `bucket` requests (default 3 at once, one more per minute): a flood of requests
 *   cannot make the robot bill a flood of replies. A request over the rate or malformed is
 *   logged and not answered.
 * - The topics are the robot's own (`robots/<thing>/...`, cloud/local/thing-policy.ts).
 */
import type { ClockPort, LogPort } from '../../ports';
import type { LinkError, Message } from '../link/link';
import { fullBucket, take, type Bucket, type BucketPolicy } from '../mission/bucket';
import type { Result } from '../util/result';
import { utf8Decode, utf8Encode, utf8Length } from '../util/utf8';
import type { LogRing } from './ring';
import { pattern } from '../util/pattern';

export const logsRequestTopic = (thing: string): string => 'robots/' + thing + '/logs/request';
export const logsTopic = (thing: string): string => 'robots/' + thing + '/logs';

export interface ShipperLink {
	subscribe(filter: string, handler: (m: Message) => void, qos?: 0 | 1): Result<void, LinkError>;
	publish(topic: string, payload: Uint8Array, qos: 0 | 1): Result<number, LinkError>;
}

export interface ShipperOptions {
	readonly batchBytes?: number;
	readonly bucket?: BucketPolicy;
}

export const DEFAULT_SHIPPING: Required<ShipperOptions> = Object.freeze({
	batchBytes: 4000,
	bucket: Object.freeze({ capacity: 3, refillMs: 60_000 }),
});

const REQUEST_ID = pattern(() => /^[A-Za-z0-9_-]{1,64}$/);

export interface LogsRequest {
	readonly id: string;
	readonly since: number;
}

/** Checks a request payload; a string says why it is refused. */
export function parseLogsRequest(payload: Uint8Array): LogsRequest | string {
	let v: unknown;
	try {
		v = JSON.parse(utf8Decode(payload) ?? '');
	} catch {
		return 'not JSON';
	}
	if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'expected a JSON object';
	const o = v as Record<string, unknown>;
	if (typeof o.id !== 'string' || !REQUEST_ID.test(o.id)) return '"id" expected 1-64 of [A-Za-z0-9_-]';
	const since = o.since ?? 0;
	if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0) return '"since" expected a non-negative integer';
	const extra = Object.keys(o).find((k) => k !== 'id' && k !== 'since');
	if (extra) return 'unknown field "' + extra + '"';
	return { id: o.id, since };
}

/** The reply batches for one request, each a JSON payload of at most `batchBytes` (a single line longer than that goes alone). */
export function logBatches(ring: LogRing, request: LogsRequest, batchBytes: number): string[] {
	const out: string[] = [];
	let since = request.since;
	for (let batch = 1; ; batch++) {
		// room for the envelope: id, counters and brackets (under 160 bytes)
		const slice = ring.read(since, batchBytes - 160 - request.id.length);
		const more = slice.more;
		out.push('{"id":' + JSON.stringify(request.id) + ',"batch":' + batch + ',"more":' + more + ',"lost":' + (batch === 1 ? slice.lost : 0) + ',"last":' + slice.last + ',"lines":[' + slice.lines.join(',') + ']}');
		if (!more) return out;
		since = slice.last;
	}
}

export class LogShipper {
	readonly #thing: string;
	readonly #link: ShipperLink;
	readonly #ring: LogRing;
	readonly #ports: { clock: ClockPort; log: LogPort };
	readonly #opts: Required<ShipperOptions>;
	#bucket: Bucket;

	constructor(thing: string, link: ShipperLink, ring: LogRing, ports: { clock: ClockPort; log: LogPort }, options: ShipperOptions = {}) {
		this.#opts = { ...DEFAULT_SHIPPING, ...options };
		if (!Number.isInteger(this.#opts.batchBytes) || this.#opts.batchBytes < 512) throw new RangeError('"batchBytes" expected an integer >= 512, got ' + this.#opts.batchBytes);
		this.#thing = thing;
		this.#link = link;
		this.#ring = ring;
		this.#ports = ports;
		this.#bucket = fullBucket(this.#opts.bucket, ports.clock.monotonic());
		const sub = link.subscribe(logsRequestTopic(thing), (m) => this.#request(m.payload), 0);
		if (!sub.ok) throw new Error('logs: cannot subscribe: ' + sub.error.code);
	}

	#request(payload: Uint8Array): void {
		const r = parseLogsRequest(payload);
		if (typeof r === 'string') return this.#ports.log.log('warn', 'logs.request_invalid', { reason: r, bytes: payload.length });
		const t = take(this.#opts.bucket, this.#bucket, this.#ports.clock.monotonic());
		this.#bucket = t.bucket;
		if (!t.ok) return this.#ports.log.log('warn', 'logs.request_refused', { id: r.id, reason: 'rate' });
		const batches = logBatches(this.#ring, r, this.#opts.batchBytes);
		let sent = 0;
		let bytes = 0;
		for (const b of batches) {
			const p = this.#link.publish(logsTopic(this.#thing), utf8Encode(b), 0);
			if (!p.ok) {
				this.#ports.log.log('warn', 'logs.ship_failed', { id: r.id, batch: sent + 1, code: p.error.code });
				return;
			}
			sent++;
			bytes += utf8Length(b);
		}
		this.#ports.log.log('info', 'logs.shipped', { id: r.id, since: r.since, batches: sent, bytes });
	}
}
