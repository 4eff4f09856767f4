/*
 * First-boot registration, device side: the robot POSTs its certificate and a proof of
 * possession (its key's signature over a fresh timestamp and its thing name, contract.ts)
 * to the registration API over HTTPS, until the cloud answers `registered`; then it writes
 * that down and never asks again for this certificate.
 *
 * Policy, here once for every platform:
 * - every attempt signs a new proof (the cloud refuses a timestamp it has seen: `replayed`);
 * - `pending` (queued in the cloud), `stale_timestamp`, `replayed`, `unavailable`, 429, 5xx,
 *   a network failure and a clock not yet set are tried again after full-jitter backoff;
 * - any other refusal is final for this certificate and returned with the cloud's reason;
 * - after `maxAttempts` it gives up with the last reason; the caller may start it again.
 * What is stored (key `registered`): the thing and the SHA-256 of the certificate, so a
 * robot given a new certificate registers again.
 */
import type { ClockPort, CryptoPort, DeviceKeyPort, HttpPort, LogPort, RandomPort, StoragePort, TimerPort } from '../../ports';
import { backoffDelay, checkBackoff, type BackoffPolicy } from '../link/backoff';
import { base64Encode } from '../util/base64';
import { err, ok, type Result } from '../util/result';
import { utf8Decode, utf8Encode } from '../util/utf8';
import { checkThingName } from '../contracts/thing';
import { jsonObject } from '../link/requests';
import { Runner } from '../util/runner';
import { classify, IDLE, step, type Attempt, type RegistrationEffect, type RegistrationEvent, type RegistrationState } from './machine';
import { REGISTRATION_VERSION, proofMessage, type RegistrationErrorCode, type RegistrationRequest } from './contract';

export const REGISTERED_KEY = 'registered';

export interface RegistrationPorts {
	readonly http: HttpPort;
	readonly deviceKey: DeviceKeyPort;
	readonly crypto: CryptoPort;
	readonly clock: ClockPort;
	readonly timers: TimerPort;
	readonly random: RandomPort;
	readonly storage: StoragePort;
	readonly log: LogPort;
}

export interface RegistrationConfig {
	/** The registration API, e.g. `https://<api>.execute-api.<region>.amazonaws.com/prod/register`. */
	readonly url: string;
	readonly thing: string;
	/** The device certificate, DER. */
	readonly certificate: Uint8Array;
	readonly maxAttempts?: number;
	readonly backoff?: BackoffPolicy;
	/** Bound of one POST, connect to last byte. */
	readonly timeoutMs?: number;
}

export type RegistrationFailure =
	/** The cloud refused this certificate for good; `reason` is its code. */
	| { readonly code: 'refused'; readonly reason: RegistrationErrorCode | string; readonly message: string }
	/** Every attempt failed for a reason worth retrying; `last` is the last one. */
	| { readonly code: 'gave-up'; readonly attempts: number; readonly last: string };

export interface Registered {
	readonly attempts: number;
	/** True when storage already said so and nothing was sent. */
	readonly already: boolean;
	readonly certificateId: string;
}

const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 2000, capMs: 120_000 });

function hex(b: Uint8Array): string {
	let s = '';
	for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
	return s;
}

/** The certificate id AWS IoT gives a certificate: SHA-256 of the DER, hex. */
export function certificateId(crypto: CryptoPort, certificate: Uint8Array): string {
	return hex(crypto.sha256(certificate));
}

/** Whether storage says this thing registered this certificate. */
export function isRegistered(ports: Pick<RegistrationPorts, 'storage' | 'crypto'>, thing: string, certificate: Uint8Array): boolean {
	const raw = ports.storage.read(REGISTERED_KEY);
	if (!raw) return false;
	let v: unknown;
	try {
		v = JSON.parse(utf8Decode(raw) ?? '');
	} catch {
		return false;
	}
	const r = v as { v?: unknown; thing?: unknown; cert?: unknown };
	return r?.v === 1 && r.thing === thing && r.cert === certificateId(ports.crypto, certificate);
}

export async function register(ports: RegistrationPorts, config: RegistrationConfig): Promise<Result<Registered, RegistrationFailure>> {
	const { thing, certificate, url } = config;
	checkThingName(thing);
	if (!(certificate instanceof Uint8Array) || certificate.length === 0) throw new TypeError('"certificate" expected the DER certificate');
	if (!/^https?:\/\//.test(url)) throw new TypeError('"url" expected an http(s) URL, got ' + JSON.stringify(url));
	const maxAttempts = config.maxAttempts ?? 12;
	if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError('"maxAttempts" expected an integer >= 1, got ' + maxAttempts);
	const backoff = checkBackoff(config.backoff ?? DEFAULT_BACKOFF);
	const id = certificateId(ports.crypto, certificate);
	if (isRegistered(ports, thing, certificate)) return ok({ attempts: 0, already: true, certificateId: id });

	const certB64 = base64Encode(certificate);
	return new Promise((resolve) => {
		// the machine (machine.ts) decides; each attempt's outcome comes back as an event
		const runner: Runner<RegistrationState, RegistrationEvent, RegistrationEffect> = new Runner<RegistrationState, RegistrationEvent, RegistrationEffect>(IDLE, {
			step: (st, e) => step(st, e, maxAttempts),
			perform: (fx) => {
				switch (fx.type) {
					case 'log':
						return ports.log.log(fx.level, fx.event, { thing, ...fx.fields });
					case 'ask':
						return void once(fx.attempt).then(
							(attempt) => runner.dispatch({ type: 'answered', attempt }),
							// an HTTP port that throws is a failed attempt like a network error, never an unhandled rejection
							(e: unknown) => runner.dispatch({ type: 'answered', attempt: { kind: 'retry', reason: 'network: ' + String(e) } }),
						);
					case 'sleep':
						ports.timers.set(() => runner.dispatch({ type: 'wake' }), backoffDelay(backoff, fx.attempt, ports.random.random()));
						return;
					case 'mark': {
						const w = ports.storage.write(REGISTERED_KEY, utf8Encode(JSON.stringify({ v: 1, thing, cert: id, at: ports.clock.now() ?? 0 })));
						if (!w.ok) ports.log.log('warn', 'registration.mark_unsaved', { thing, result: w.error, message: w.message });
						return;
					}
				}
			},
			settled: (st) => {
				if (st.value === 'registered') resolve(ok({ attempts: st.attempts, already: false, certificateId: st.certificateId }));
				else if (st.value === 'refused') resolve(err({ code: 'refused', reason: st.reason, message: st.message }));
				else if (st.value === 'gaveUp') resolve(err({ code: 'gave-up', attempts: st.attempts, last: st.last }));
			},
		});
		runner.dispatch({ type: 'start' });
	});

	async function once(attempt: number): Promise<Attempt> {
		const now = ports.clock.now();
		// a proof needs wall time: before SNTP the cloud would refuse it as stale
		if (now === undefined) return { kind: 'retry', reason: 'no-clock' };
		const timestamp = Math.floor(now);
		const signature = ports.deviceKey.signSha256(utf8Encode(proofMessage(thing, timestamp)));
		const request: RegistrationRequest = { v: REGISTRATION_VERSION, thing, certificate: certB64, timestamp, signature: base64Encode(signature) };
		const body = utf8Encode(JSON.stringify(request));
		let sent = false;
		const res = await ports.http.request({
			method: 'POST',
			url,
			headers: { 'content-type': 'application/json', 'x-registration-attempt': String(attempt) },
			body: {
				length: body.length,
				next: () => (sent ? undefined : ((sent = true), body)),
			},
			timeoutMs: config.timeoutMs ?? 15_000,
		});
		if (!res.ok) return { kind: 'retry', reason: 'network: ' + res.error };
		return classify(res.value.status, jsonObject(res.value.body), thing);
	}
}
