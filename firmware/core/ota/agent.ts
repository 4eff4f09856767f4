/*
 * The OTA agent: runs the machine (machine.ts) against the ports. It owns no
 * policy: every decision is in `step`; here are the effects.
 *
 * - Download: one GET with `Range: bytes=<from>-`, each chunk written to the slot as
 *   it arrives (memory is one chunk, whatever the image size). After a power loss the
 *   slot says how much it holds and the download resumes there.
 * - Cancel: HttpPort has no abort, so the next chunk's onData throws, which makes the
 *   adapter drop the connection; a generation counter discards the late outcome.
 * - Verify: the image is read back from the slot in small blocks and hashed, then the
 *   digest is checked against the job's SHA-256 and the signature against the
 *   code-signing certificate.
 * - Self-test: after booting a new image, `selfTest.check()` is polled until it holds
 *   (the composition passes "link up and shadow synced") or the deadline passes.
 *
 * The composition calls `boot()` once, `online()` whenever the link comes up, and
 * reports `version` in its status shadow.
 */
import type { CodeSigningPort, FirmwareSlotPort, HttpPort, LogPort, StoragePort, TimerHandle, TimerPort } from '../../ports';
import { base64Decode, base64Encode } from '../util/base64';
import { utf8Decode, utf8Encode } from '../util/utf8';
import type { JobsClient } from './jobs';
import { IDLE, step, type ActiveJob, type OtaEffect, type OtaEvent, type OtaRecord, type OtaState } from './machine';

export const STORAGE_KEY = 'ota.job';
const VERIFY_BLOCK = 4096;

export interface OtaPorts {
	readonly slot: FirmwareSlotPort;
	readonly signing: CodeSigningPort;
	readonly http: HttpPort;
	readonly storage: StoragePort;
	readonly timers: TimerPort;
	readonly log: LogPort;
}

export interface OtaOptions {
	/** DER X.509 code-signing certificate (EC P-256) built into the firmware. */
	readonly certificate: Uint8Array;
	readonly selfTest: { readonly deadlineMs: number; readonly check: () => boolean; readonly pollMs?: number };
	/** Delay before resuming a failed download, per attempt. */
	readonly retryMs?: (attempt: number) => number;
	readonly downloadTimeoutMs?: number;
}

function encodeRecord(r: OtaRecord): Uint8Array {
	return utf8Encode(
		JSON.stringify(r, (_k, v) => (v instanceof Uint8Array ? { b64: base64Encode(v) } : v)),
	);
}

function decodeRecord(bytes: Uint8Array | undefined): OtaRecord | undefined {
	const text = bytes && utf8Decode(bytes);
	if (!text) return undefined;
	try {
		return JSON.parse(text, (_k, v) => (v && typeof v === 'object' && typeof v.b64 === 'string' && Object.keys(v).length === 1 ? base64Decode(v.b64) : v)) as OtaRecord;
	} catch {
		return undefined;
	}
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export class OtaAgent {
	readonly #jobs: JobsClient;
	readonly #ports: OtaPorts;
	readonly #options: OtaOptions;
	#state: OtaState = IDLE;
	#generation = 0;
	#timer: TimerHandle | undefined;
	#listeners: ((s: OtaState) => void)[] = [];

	constructor(jobs: JobsClient, ports: OtaPorts, options: OtaOptions) {
		this.#jobs = jobs;
		this.#ports = ports;
		this.#options = options;
		jobs.onNotifyNext((jobId) => this.#dispatch({ type: 'notified', jobId }));
	}

	get state(): OtaState {
		return this.#state;
	}

	/** The firmware version running, for the status shadow. */
	get version(): string {
		return this.#ports.slot.running().version;
	}

	onState(listener: (s: OtaState) => void): void {
		this.#listeners.push(listener);
	}

	/** Once after power-up: resumes whatever the last life left unfinished. */
	boot(): void {
		const record = decodeRecord(this.#ports.storage.read(STORAGE_KEY));
		const running = this.#ports.slot.running();
		let resumable = 0;
		if (record?.phase === 'download') {
			const w = this.#ports.slot.written();
			if (w && w.version === record.job.firmware.version && w.size === record.job.firmware.size) resumable = w.bytes;
		}
		this.#dispatch({ type: 'boot', record, running, resumable });
	}

	/** The link is up: ask for work, or resend a report. */
	online(): void {
		this.#dispatch({ type: 'online' });
	}

	#dispatch(e: OtaEvent): void {
		const next = step(this.#state, e);
		if (!next) return;
		this.#state = next.state;
		for (const effect of next.effects) this.#run(effect);
		for (const l of this.#listeners) l(this.#state);
	}

	#run(f: OtaEffect): void {
		const { log, storage, slot, timers } = this.#ports;
		switch (f.type) {
			case 'log':
				return log.log(f.level, f.event, { detail: f.detail });
			case 'persist':
				if (f.record) storage.write(STORAGE_KEY, encodeRecord(f.record));
				else storage.remove(STORAGE_KEY);
				return;
			case 'startNext':
				void this.#jobs.startNext(f.details).then((r) => {
					if (r.ok) this.#dispatch({ type: 'started', execution: r.value, running: slot.running().version });
					else this.#dispatch({ type: 'startFailed', reason: r.error.code === 'rejected' ? r.error.rejection : r.error.code });
				});
				return;
			case 'update':
				void this.#jobs.update(f.jobId, f.status, f.details, f.expectedVersion).then((r) => {
					const final = f.final;
					if (r.ok) this.#dispatch({ type: 'updated', versionNumber: r.value, final });
					else if (r.error.code === 'rejected') this.#dispatch({ type: 'updateFailed', code: r.error.rejection, final, ...(r.error.versionNumber !== undefined ? { versionNumber: r.error.versionNumber } : {}) });
					else this.#dispatch({ type: 'updateFailed', code: r.error.code, final });
				});
				return;
			case 'download':
				return this.#download(f.job, f.from);
			case 'abort':
				this.#generation++;
				return;
			case 'wait':
				if (this.#timer !== undefined) timers.clear(this.#timer);
				this.#timer = timers.set(() => {
					this.#timer = undefined;
					this.#dispatch({ type: 'retry' });
				}, this.#options.retryMs?.(f.attempt) ?? Math.min(60_000, 2_000 * 2 ** (f.attempt - 1)));
				return;
			case 'verify':
				return this.#dispatch(this.#verify(f.job));
			case 'install': {
				const r = slot.activate();
				if (!r.ok) return this.#dispatch({ type: 'invalid', reason: 'cannot activate: ' + r.error });
				return slot.reboot();
			}
			case 'selfTest':
				return this.#selfTest();
			case 'markValid':
				return slot.markValid();
			case 'rollback': {
				const r = slot.rollback();
				if (!r.ok) log.log('error', 'ota.rollback_failed', { error: r.error });
				return slot.reboot();
			}
			default: {
				const never: never = f;
				throw new TypeError('unexpected effect ' + JSON.stringify(never));
			}
		}
	}

	#download(job: ActiveJob, from: number): void {
		const { slot, http } = this.#ports;
		const gen = ++this.#generation;
		const size = job.firmware.size;
		if (from === 0) {
			const r = slot.begin(job.firmware.version, size);
			if (!r.ok) return this.#dispatch({ type: 'downloadFailed', reason: 'slot: ' + r.error, retryable: false, bytes: 0 });
		}
		if (from >= size) return this.#dispatch({ type: 'downloaded' });
		let at = from;
		let error: string | undefined;
		void http
			.request({
				method: 'GET',
				url: job.firmware.url,
				headers: from > 0 ? { range: 'bytes=' + from + '-' } : {},
				...(this.#options.downloadTimeoutMs !== undefined ? { timeoutMs: this.#options.downloadTimeoutMs } : {}),
				onData: (chunk) => {
					if (gen !== this.#generation) throw new Error('cancelled');
					const c = chunk;
					if (c.length === 0) return;
					if (at + c.length > size) {
						error = 'image larger than ' + size + ' bytes';
						throw new Error(error);
					}
					const w = slot.write(at, c);
					if (!w.ok) {
						error = 'slot: ' + w.error;
						throw new Error(error);
					}
					at += c.length;
					this.#dispatch({ type: 'progress', bytes: at });
				},
			})
			.then((r) => {
				if (gen !== this.#generation) return; // cancelled or superseded
				// a 200 to a Range request is the whole image, written at the wrong offset: start over
				if (from > 0 && r.ok && r.value.status === 200) return this.#dispatch({ type: 'downloadFailed', reason: 'server ignored Range', retryable: true, bytes: 0 });
				if (error !== undefined) return this.#dispatch({ type: 'downloadFailed', reason: error, retryable: false, bytes: at });
				if (!r.ok) return this.#dispatch({ type: 'downloadFailed', reason: r.error, retryable: true, bytes: at });
				const status = r.value.status;
				if (status !== 200 && status !== 206) return this.#dispatch({ type: 'downloadFailed', reason: 'HTTP ' + status, retryable: status >= 500 || status === 408, bytes: at });
				if (at < size) return this.#dispatch({ type: 'downloadFailed', reason: 'short image: ' + at + ' of ' + size + ' bytes', retryable: true, bytes: at });
				this.#dispatch({ type: 'downloaded' });
			});
	}

	#verify(job: ActiveJob): OtaEvent {
		const { slot, signing } = this.#ports;
		const w = slot.written();
		const size = job.firmware.size;
		if (!w || w.bytes !== size) return { type: 'invalid', reason: 'image incomplete' };
		const h = signing.sha256();
		for (let at = 0; at < size; at += VERIFY_BLOCK) h.update(slot.read(at, Math.min(VERIFY_BLOCK, size - at)));
		const digest = h.digest();
		if (!equalBytes(digest, job.firmware.sha256)) return { type: 'invalid', reason: 'SHA-256 mismatch' };
		if (!signing.verifyP256Sha256(this.#options.certificate, digest, job.firmware.signature)) return { type: 'invalid', reason: 'bad signature' };
		return { type: 'verified' };
	}

	#selfTest(): void {
		const { timers } = this.#ports;
		const { deadlineMs, check, pollMs = 250 } = this.#options.selfTest;
		let waited = 0;
		const poll = (): void => {
			if (check()) return this.#dispatch({ type: 'selfTest', passed: true });
			if (waited >= deadlineMs) return this.#dispatch({ type: 'selfTest', passed: false, reason: 'link and shadow not synced within ' + deadlineMs + ' ms' });
			waited += pollMs;
			timers.set(poll, pollMs);
		};
		timers.set(poll, 0);
	}
}
