/*
 * The OTA agent: runs the machine (machine.ts) against the ports. It owns no
 * policy: every decision is in `step`; here are the effects.
 *
 * - Download: one GET with `Range: bytes=<from>-`, each chunk written to the slot as
 *   it arrives (memory is one chunk, whatever the image size). After a power loss the
 *   slot says how much it holds and the download resumes there.
 * - Cancel: HttpPort has no abort, so the next chunk's onData throws, which makes the
 *   adapter drop the connection; a generation counter discards the late outcome.
 * - Start: the job document is checked before the machine sees it (checkJobDocument:
 *   the URL under a configured source, the manifest's signature against the code-signing
 *   certificate, the product); the machine compares the signed version and counter.
 * - Verify: the image is read back from the slot in small blocks and hashed, then the
 *   digest is checked against the signed manifest's SHA-256 (and so against the key).
 * - Security counter: the highest one installed is kept in storage (COUNTER_KEY), raised
 *   when a new image passes its self-test; `securityCounter` is the build's own.
 * - Self-test: after booting a new image, `selfTest.check()` is polled until it holds
 *   (the composition passes "link up and shadow synced") or the deadline passes.
 *
 * The composition calls `boot()` once, `online()` whenever the link comes up, and
 * reports `version` in its status shadow.
 */
import type { CodeSigningPort, FirmwareSlotPort, HttpPort, LogPort, StoragePort, TimerHandle, TimerPort } from '../../ports';
import { base64Decode, base64Encode } from '../util/base64';
import { Runner } from '../util/runner';
import { readRecord, removeRecord, writeError, writeRecord } from '../util/record';
import { utf8Decode, utf8Encode } from '../util/utf8';
import { checkJobDocument, PRODUCT, sourcesError } from './document';
import type { JobsClient } from './jobs';
import { IDLE, step, type ActiveJob, type OtaEffect, type OtaEvent, type OtaRecord, type OtaState } from './machine';

export const STORAGE_KEY = 'ota.job';
export const COUNTER_KEY = 'ota.counter';
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
	/** URL prefixes images may come from (document.ts sourcesError: https, or http on loopback only). */
	readonly sources: readonly string[];
	/** The product id a manifest must name; PRODUCT by default. */
	readonly product?: string;
	/** This build's own security counter: a manifest below it (or below one installed since) is refused. */
	readonly securityCounter?: number;
	readonly selfTest: { readonly deadlineMs: number; readonly check: () => boolean; readonly pollMs?: number };
	/** Delay before resuming a failed download, per attempt. */
	readonly retryMs?: (attempt: number) => number;
	readonly downloadTimeoutMs?: number;
}

function encodeRecord(r: OtaRecord): Uint8Array {
	return utf8Encode(JSON.stringify(r, (_k, v) => (v instanceof Uint8Array ? { b64: base64Encode(v) } : v)));
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
	// run to completion: an effect that fails at once (a refused save) dispatches into a queue
	readonly #runner = new Runner<OtaState, OtaEvent, OtaEffect>(IDLE, {
		step,
		perform: (f) => this.#run(f),
		settled: (s) => {
			for (const l of this.#listeners) l(s);
		},
	});
	#generation = 0;
	#timer: TimerHandle | undefined;
	#listeners: ((s: OtaState) => void)[] = [];
	/** The record the store has not taken yet (undefined: one to drop); null when storage is current. */
	#unsaved: OtaRecord | undefined | null = null;

	constructor(jobs: JobsClient, ports: OtaPorts, options: OtaOptions) {
		this.#jobs = jobs;
		this.#ports = ports;
		this.#options = options;
		const why = sourcesError(options.sources);
		if (why) throw new RangeError('"sources" ' + why);
		jobs.onNotifyNext((jobId) => this.#dispatch({ type: 'notified', jobId }));
	}

	get state(): OtaState {
		return this.#runner.state;
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
		const record = decodeRecord(readRecord(this.#ports.storage, STORAGE_KEY));
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
		this.#runner.dispatch(e);
	}

	#run(f: OtaEffect): void {
		const { log, storage, slot, timers } = this.#ports;
		switch (f.type) {
			case 'log':
				return log.log(f.level, f.event, { detail: f.detail });
			case 'persist':
				this.#unsaved = f.record;
				return void this.#persist();
			case 'startNext':
				void this.#jobs.startNext(f.details).then((r) => {
					if (r.ok) {
						const x = r.value;
						const checked = x
							? checkJobDocument(x.document, {
									certificate: this.#options.certificate,
									signing: this.#ports.signing,
									product: this.#options.product ?? PRODUCT,
									sources: this.#options.sources,
								})
							: undefined;
						this.#dispatch({ type: 'started', execution: x, running: slot.running().version, counter: this.#counter(), ...(checked ? { checked } : {}) });
					} else this.#dispatch({ type: 'startFailed', reason: r.error.code === 'rejected' ? r.error.rejection : r.error.code });
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
				// a job the store cannot record is not started: a reboot would forget it mid-download
				if (!this.#persist()) return this.#dispatch({ type: 'downloadFailed', reason: 'storage: the job record could not be saved', retryable: true, bytes: f.from });
				return this.#download(f.job, f.from);
			case 'abort':
				this.#generation++;
				return;
			case 'wait':
				if (this.#timer !== undefined) timers.clear(this.#timer);
				this.#timer = timers.set(
					() => {
						this.#timer = undefined;
						this.#dispatch({ type: 'retry' });
					},
					this.#options.retryMs?.(f.attempt) ?? Math.min(60_000, 2_000 * 2 ** (f.attempt - 1)),
				);
				return;
			case 'verify':
				return this.#dispatch(this.#verify(f.job));
			case 'install': {
				// the new image must find its record (activated: run the self-test) when it boots
				if (!this.#persist()) return this.#dispatch({ type: 'invalid', reason: 'storage: the install could not be recorded' });
				const r = slot.activate();
				if (!r.ok) return this.#dispatch({ type: 'invalid', reason: 'cannot activate: ' + r.error });
				return slot.reboot();
			}
			case 'selfTest':
				return this.#selfTest();
			case 'markValid':
				slot.markValid();
				if (f.counter > this.#counter()) {
					const w = writeRecord(storage, COUNTER_KEY, utf8Encode(String(f.counter)));
					// the image is valid either way; until the counter is saved an older image is not refused by it
					if (!w.ok) log.log('error', 'ota.counter_unsaved', { counter: f.counter, result: writeError(w) });
				}
				return;
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
		// the manifest's SHA-256 was signed: a match is the signature's word for the image
		if (!equalBytes(digest, job.firmware.sha256)) return { type: 'invalid', reason: 'SHA-256 mismatch with the signed manifest' };
		return { type: 'verified' };
	}

	/**
	 * Saves the record the machine asked for last (two-phase, core/util/record.ts), or drops
	 * it. False while the store refuses it: the previous record stays, and the steps that
	 * need the new one (download, install) retry or refuse.
	 */
	#persist(): boolean {
		const r = this.#unsaved;
		if (r === null) return true;
		if (r === undefined) removeRecord(this.#ports.storage, STORAGE_KEY);
		else {
			const w = writeRecord(this.#ports.storage, STORAGE_KEY, encodeRecord(r));
			if (!w.ok) {
				this.#ports.log.log('error', 'ota.record_unsaved', { phase: r.phase, result: writeError(w) });
				return false;
			}
		}
		this.#unsaved = null;
		return true;
	}

	/** The highest security counter installed: the build's own or a later image's. */
	#counter(): number {
		const stored = Number(utf8Decode(readRecord(this.#ports.storage, COUNTER_KEY) ?? new Uint8Array(0)) || 0);
		return Math.max(this.#options.securityCounter ?? 0, Number.isInteger(stored) && stored > 0 ? stored : 0);
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
