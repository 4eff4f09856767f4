/*
 * Certificate renewal before expiry, on the robot. The key never changes (it never leaves the
 * device-key port); the certificate does:
 * 1. due: once connected (`afterConnectMs` after each connect, then every `checkMs`), when the
 *    certificate in use ends within `windowMs`, the robot sends a
 *    CSR for its key (csr.ts) on robots/<thing>/cert/renew and waits for /accepted or /rejected
 *    (cloud/functions/cert-renew). A refusal is logged with its code; the next try is `retryMs`
 *    later, as after a timeout or an offline link;
 * 2. trying: an accepted certificate is checked (CN = thing, the same key, ends later than the
 *    one in use), stored two-phase under NEXT_KEY (util/record.ts) and the link reconnects with it;
 * 3. a connect with it succeeds: it is stored under CURRENT_KEY (what every boot uses from then
 *    on, over the factory's) and NEXT_KEY dropped; `switchTries` failed attempts in a row with it
 *    (the broker refuses it, its TLS fails): the robot goes back to the certificate it had, drops
 *    NEXT_KEY, and asks again at the next check. Until the switch, the old certificate stays on
 *    storage and in the cloud (ACTIVE): a power loss anywhere leaves a robot that can connect.
 * The link reads its endpoint's `tls` at every connect; this module swaps that object's value.
 * A robot may start without a certificate (credentials read later, platform/moddable/start.ts):
 * the renewer takes the one the endpoint holds when it is started or asked to check, so a robot
 * given its credentials while running renews without waiting for its next power-on.
 */
import type { ClockPort, DeviceKeyPort, LogPort, RandomPort, StoragePort, TimerPort, TlsCredentials } from '../../ports';
import { parseCertificate, type ParsedCertificate } from '../identity/identity';
import { Requests, jsonObject, type Messenger } from '../link/requests';
import { base64Decode, base64Encode } from '../util/base64';
import { Periodic, Timeout } from '../util/timers';
import { readRecord, removeRecord, writeRecord, writeError } from '../util/record';
import { buildCsr } from './csr';
import { renewTopics } from './contract';

/** Storage keys (at most 11 characters: NVS keys are 15 with the record's scratch suffix). */
export const CURRENT_KEY = 'crt.current';
export const NEXT_KEY = 'crt.next';

export interface RenewPolicy {
	/** Renew when the certificate in use ends within this (default 30 days). */
	readonly windowMs: number;
	/** How often it looks (default 6 h). */
	readonly checkMs: number;
	/** Once started, it also looks this long after every connect (default 10 s: off the burst at link.online), so a robot up for less than `checkMs` at a time still renews. */
	readonly afterConnectMs: number;
	/** After a refusal, a timeout, an offline link, a bad or unstored answer or a fallback, the next request waits this long (default 1 h). */
	readonly retryMs: number;
	/** How long a request waits for /accepted or /rejected (default 30 s). */
	readonly timeoutMs: number;
	/** Failed connects in a row with the new certificate before going back (default 3). */
	readonly switchTries: number;
}

export const DEFAULT_RENEW: RenewPolicy = Object.freeze({ windowMs: 30 * 86_400_000, checkMs: 6 * 3_600_000, afterConnectMs: 10_000, retryMs: 3_600_000, timeoutMs: 30_000, switchTries: 3 });

export interface RenewerPorts {
	readonly clock: ClockPort;
	readonly timers: TimerPort;
	readonly random: RandomPort;
	readonly storage: StoragePort;
	readonly log: LogPort;
	readonly deviceKey: DeviceKeyPort;
}

export type RenewState = { readonly value: 'idle' } | { readonly value: 'requesting' } | { readonly value: 'trying'; readonly failures: number };

/** The link as renewal needs it: request/reply, and a reconnect with the new certificate. */
export interface RenewLink extends Messenger {
	stop(): void;
	start(): void;
}

export class Renewer {
	readonly #link: RenewLink;
	readonly #ports: RenewerPorts;
	readonly #endpoint: { tls: TlsCredentials };
	readonly #thing: string;
	readonly #policy: RenewPolicy;
	readonly #requests: Requests;
	/** The certificate the robot falls back to, and the one in use; undefined until the endpoint holds one. */
	#kept: { der: Uint8Array; cert: ParsedCertificate } | undefined;
	#state: RenewState = { value: 'idle' };
	/** The checks every `checkMs`; running between start() and stop(). */
	readonly #checks: Periodic;
	/** The check after a connect, while started. */
	readonly #afterConnect: Timeout;
	#next = 0;

	constructor(link: RenewLink, ports: RenewerPorts, o: { thing: string; endpoint: { tls: TlsCredentials }; policy?: Partial<RenewPolicy> }) {
		this.#link = link;
		this.#ports = ports;
		this.#endpoint = o.endpoint;
		this.#thing = o.thing;
		this.#policy = { ...DEFAULT_RENEW, ...o.policy };
		for (const k of ['windowMs', 'checkMs', 'afterConnectMs', 'retryMs', 'timeoutMs', 'switchTries'] as const) if (!(this.#policy[k] > 0)) throw new RangeError('"policy.' + k + '" expected > 0, got ' + String(this.#policy[k]));
		this.#requests = new Requests(link, ports, { name: 'renew', timeoutMs: this.#policy.timeoutMs });
		this.#checks = new Periodic(ports.timers);
		this.#afterConnect = new Timeout(ports.timers);
		const topics = renewTopics(o.thing);
		link.subscribe(topics.accepted, (m) => void this.#reply(m.payload, true), 1);
		link.subscribe(topics.rejected, (m) => void this.#reply(m.payload, false), 1);
		const bad = this.#adopt();
		if (bad) throw new TypeError('"endpoint.tls" expected a parsable leaf certificate: ' + bad);
		link.listen({ state: (s) => this.#onLink(s.value) });
	}

	/**
	 * Takes the endpoint's certificate as the one in use, once there is one (the factory's, or a
	 * renewed one from storage instead); undefined when taken or none yet, else why it cannot be.
	 */
	#adopt(): string | undefined {
		if (this.#kept) return undefined;
		const factory = this.#endpoint.tls.certificates?.[0];
		if (!factory) return undefined;
		const parsed = parseCertificate(factory);
		if (!parsed.ok) return parsed.error.reason;
		this.#kept = { der: factory, cert: parsed.value };
		// a renewed certificate confirmed earlier replaces the factory's; one not yet confirmed is tried
		const current = this.#stored(CURRENT_KEY);
		if (current) this.#use(current, 'renew.using_renewed');
		const next = this.#stored(NEXT_KEY);
		if (next) this.#try(next);
		return undefined;
	}

	get state(): RenewState {
		return this.#state;
	}

	/** The certificate the link uses now (undefined while the robot has none). */
	get certificate(): ParsedCertificate | undefined {
		return this.#state.value === 'trying' ? (parseCertificate(this.#endpoint.tls.certificates[0]!) as { ok: true; value: ParsedCertificate }).value : this.#kept?.cert;
	}

	start(): void {
		this.stop();
		// credentials that arrived since the robot was made (start.ts starts the robot once it has them)
		const bad = this.#adopt();
		if (bad) this.#ports.log.log('error', 'renew.unusable_certificate', { reason: bad });
		this.#checks.start(() => void this.check(), this.#policy.checkMs);
	}

	stop(): void {
		this.#checks.stop();
		this.#afterConnect.clear();
	}

	/** Asks for a certificate when one is due; resolves true when a new one is being tried. */
	async check(): Promise<boolean> {
		const now = this.#ports.clock.now();
		if (this.#state.value !== 'idle' || this.#link.state.value !== 'connected' || now === undefined) return false;
		// credentials that arrived since (an unusable certificate is said by start())
		if (!this.#kept) this.#adopt();
		const kept = this.#kept;
		if (!kept || this.#state.value !== 'idle') return false;
		if (now < kept.cert.notAfter - this.#policy.windowMs || now < this.#next) return false;
		this.#state = { value: 'requesting' };
		const log = this.#ports.log;
		const { n, e } = kept.cert;
		const csr = buildCsr({ thing: this.#thing, n, e }, this.#ports.deviceKey);
		log.log('info', 'renew.requested', { notAfter: new Date(kept.cert.notAfter).toISOString() });
		const r = await this.#requests.send(renewTopics(this.#thing).request, { csr: base64Encode(csr) }, 'renew');
		this.#state = { value: 'idle' };
		if (!r.ok || !r.value.accepted) {
			this.#next = now + this.#policy.retryMs;
			const error = r.ok ? (r.value.body.error as { code?: string; message?: string } | undefined) : undefined;
			log.log(r.ok ? 'error' : 'warn', 'renew.refused', r.ok ? { code: String(error?.code), reason: String(error?.message) } : { code: r.error.code });
			return false;
		}
		const der = typeof r.value.body.certificate === 'string' ? base64Decode(r.value.body.certificate) : undefined;
		const bad = der ? this.#check(der) : 'no certificate in the answer';
		if (bad !== undefined || !der) {
			this.#next = now + this.#policy.retryMs;
			log.log('error', 'renew.bad_certificate', { reason: bad ?? 'unreadable' });
			return false;
		}
		const w = writeRecord(this.#ports.storage, NEXT_KEY, der);
		if (!w.ok) {
			this.#next = now + this.#policy.retryMs;
			log.log('error', 'renew.not_stored', { reason: writeError(w) });
			return false;
		}
		this.#try(der);
		return true;
	}

	#reply(payload: Uint8Array, accepted: boolean): void {
		const body = jsonObject(payload);
		if (body) this.#requests.answer(body, accepted);
	}

	/** Why `der` cannot be this robot's next certificate, or undefined. */
	#check(der: Uint8Array): string | undefined {
		const p = parseCertificate(der);
		if (!p.ok) return p.error.reason;
		if (p.value.thing !== this.#thing) return 'CN ' + p.value.thing + ', expected ' + this.#thing;
		const kept = this.#kept;
		if (!kept) return 'no certificate in use to compare with';
		if (p.value.n !== kept.cert.n || p.value.e !== kept.cert.e) return "not the robot's key";
		if (p.value.notAfter <= kept.cert.notAfter) return 'ends no later than the certificate in use';
		return undefined;
	}

	#stored(key: string): Uint8Array | undefined {
		const der = readRecord(this.#ports.storage, key);
		if (!der) return undefined;
		const bad = this.#check(der);
		if (bad === undefined) return der;
		this.#ports.log.log('error', 'renew.stored_refused', { key, reason: bad });
		removeRecord(this.#ports.storage, key);
		return undefined;
	}

	#use(der: Uint8Array, event: string): void {
		const p = parseCertificate(der) as { ok: true; value: ParsedCertificate };
		this.#kept = { der, cert: p.value };
		this.#endpoint.tls = { ...this.#endpoint.tls, certificates: [der] };
		this.#ports.log.log('info', event, { serial: p.value.serial, notAfter: new Date(p.value.notAfter).toISOString() });
	}

	#try(der: Uint8Array): void {
		this.#state = { value: 'trying', failures: 0 };
		this.#endpoint.tls = { ...this.#endpoint.tls, certificates: [der] };
		this.#ports.log.log('info', 'renew.trying', { serial: (parseCertificate(der) as { ok: true; value: ParsedCertificate }).value.serial });
		// a live connection is the old certificate's: reconnect with the new one
		if (this.#link.state.value === 'connected' || this.#link.state.value === 'connecting') {
			this.#link.stop();
			this.#link.start();
		}
	}

	#onLink(value: string): void {
		const s = this.#state;
		if (value === 'connected' && s.value === 'idle' && this.#checks.running) {
			this.#afterConnect.set(() => void this.check(), this.#policy.afterConnectMs);
		}
		if (s.value !== 'trying') return;
		if (value === 'connected') {
			const der = this.#endpoint.tls.certificates[0]!;
			const w = writeRecord(this.#ports.storage, CURRENT_KEY, der);
			if (!w.ok) {
				// still usable this time; the next boot starts from the old one and renews again
				this.#ports.log.log('error', 'renew.not_stored', { reason: writeError(w) });
			} else removeRecord(this.#ports.storage, NEXT_KEY);
			this.#state = { value: 'idle' };
			this.#use(der, 'renew.switched');
			return;
		}
		if (value !== 'waiting') return;
		const failures = s.failures + 1;
		if (failures < this.#policy.switchTries) {
			this.#state = { value: 'trying', failures };
			return;
		}
		// the new certificate does not connect: back to the one that did
		removeRecord(this.#ports.storage, NEXT_KEY);
		this.#state = { value: 'idle' };
		// a certificate is tried only once one was taken (#adopt)
		this.#endpoint.tls = { ...this.#endpoint.tls, certificates: [this.#kept!.der] };
		this.#next = (this.#ports.clock.now() ?? 0) + this.#policy.retryMs;
		this.#ports.log.log('error', 'renew.fallback', { failures });
	}
}
