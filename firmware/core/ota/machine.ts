/*
 * The OTA agent as a pure state machine: `step` returns the next state and the
 * effects the runner (agent.ts) performs; `undefined` means the event does not
 * apply in this state. What must survive a reboot or a power loss is in the
 * `persist` effects (a `OtaRecord`); `boot` rebuilds the state from it.
 *
 * A job goes: start-next (IN_PROGRESS) -> download into the inactive slot, resuming
 * from what the slot holds -> verify SHA-256 and signature -> activate and reboot ->
 * self-test on probation -> mark valid and report SUCCEEDED, or roll back, reboot
 * and report FAILED. A document that cannot be used is REJECTED without touching
 * the slots: one the runner's check refused (shape, URL source, manifest signature,
 * product: document.ts), a signed version not newer than the running one, or a signed
 * security counter below the highest installed. Every final status is reported until
 * the service accepts it.
 */
import { assertNever } from '../util/result';
import { compareVersions, type FirmwareJob } from './document';

export type Status = 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'REJECTED';
export type Details = Readonly<Record<string, string>>;

/** A job execution as the Jobs service hands it out. */
export interface Execution {
	readonly jobId: string;
	readonly versionNumber: number;
	readonly document?: unknown;
}

export interface ActiveJob {
	readonly jobId: string;
	/** The execution's version, for `expectedVersion`. */
	readonly versionNumber: number;
	readonly firmware: FirmwareJob;
	/** The version running when the job started: the one a rollback returns to. */
	readonly from: string;
}

/** What the agent keeps in storage across reboots: the job while it downloads and once its image is activated, then the final status until reported. */
export type OtaRecord = { readonly phase: 'download' | 'activated'; readonly job: ActiveJob } | { readonly phase: 'report'; readonly jobId: string; readonly versionNumber: number; readonly status: Status; readonly details: Details };

/** Failed downloads are retried this many times (resuming each time) before the job FAILS. */
export const MAX_DOWNLOAD_ATTEMPTS = 5;

export type OtaState =
	| { readonly value: 'idle' }
	/** start-next sent. */
	| { readonly value: 'starting' }
	| { readonly value: 'downloading'; readonly job: ActiveJob; readonly bytes: number; readonly attempt: number; readonly reported: number; readonly updating: boolean }
	/** Waiting before resuming a failed download. */
	| { readonly value: 'stalled'; readonly job: ActiveJob; readonly bytes: number; readonly attempt: number; readonly reason: string }
	| { readonly value: 'verifying'; readonly job: ActiveJob }
	/** Activated; the reboot is under way. */
	| { readonly value: 'rebooting'; readonly job: ActiveJob }
	/** The new image runs on probation; the self-test decides. */
	| { readonly value: 'testing'; readonly job: ActiveJob }
	/** Rolled back; the reboot into the old image is under way. */
	| { readonly value: 'rollingBack'; readonly job: ActiveJob; readonly reason: string }
	| { readonly value: 'reporting'; readonly jobId: string; readonly versionNumber: number; readonly status: Status; readonly details: Details; readonly sending: boolean };

export type OtaEvent =
	/** Once, first: what storage and the slots say. `resumable` is the byte count the inactive slot holds for the recorded job. */
	| { readonly type: 'boot'; readonly record: OtaRecord | undefined; readonly running: { readonly version: string; readonly valid: boolean }; readonly resumable: number }
	| { readonly type: 'online' }
	/** notify-next: the next pending execution changed (none: undefined). */
	| { readonly type: 'notified'; readonly jobId: string | undefined }
	/**
	 * start-next accepted: the execution now IN_PROGRESS, or none pending. `checked` is the
	 * runner's checkJobDocument of its document (the signature needs the crypto port);
	 * `counter` the highest security counter installed.
	 */
	| {
			readonly type: 'started';
			readonly execution: Execution | undefined;
			readonly running: string;
			readonly counter: number;
			readonly checked?: { readonly ok: true; readonly value: FirmwareJob } | { readonly ok: false; readonly error: string };
	  }
	| { readonly type: 'startFailed'; readonly reason: string }
	| { readonly type: 'progress'; readonly bytes: number }
	| { readonly type: 'downloaded' }
	| { readonly type: 'downloadFailed'; readonly reason: string; readonly retryable: boolean; readonly bytes: number }
	| { readonly type: 'retry' }
	| { readonly type: 'verified' }
	| { readonly type: 'invalid'; readonly reason: string }
	| { readonly type: 'selfTest'; readonly passed: boolean; readonly reason?: string }
	/** The outcome of an `update` effect; `final` echoes the effect's (a progress update may land after the final one was sent). */
	| { readonly type: 'updated'; readonly versionNumber: number; readonly final: boolean }
	/** `code` is the Jobs rejection code, or 'timeout' / 'offline'; `versionNumber` the service's current one when it says. */
	| { readonly type: 'updateFailed'; readonly code: string; readonly versionNumber?: number; readonly final: boolean };

export type OtaEffect =
	| { readonly type: 'startNext'; readonly details: Details }
	/** `final`: the job's last word (SUCCEEDED, FAILED, REJECTED), kept until accepted. */
	| { readonly type: 'update'; readonly jobId: string; readonly status: Status; readonly details: Details; readonly expectedVersion: number; readonly final: boolean }
	/** Begin (bytes 0: empty the slot first) or resume the download at `from`. */
	| { readonly type: 'download'; readonly job: ActiveJob; readonly from: number }
	| { readonly type: 'abort' }
	| { readonly type: 'wait'; readonly attempt: number }
	| { readonly type: 'verify'; readonly job: ActiveJob }
	/** Activate the inactive slot and reboot into it. */
	| { readonly type: 'install' }
	| { readonly type: 'selfTest' }
	/** The new image passed: keep it, and raise the installed security counter to its manifest's. */
	| { readonly type: 'markValid'; readonly counter: number }
	/** Switch back to the previous slot and reboot into it. */
	| { readonly type: 'rollback' }
	| { readonly type: 'persist'; readonly record: OtaRecord | undefined }
	| { readonly type: 'log'; readonly level: 'info' | 'warn'; readonly event: string; readonly detail: string };

export type OtaStep = { readonly state: OtaState; readonly effects: readonly OtaEffect[] } | undefined;

export const IDLE: OtaState = Object.freeze({ value: 'idle' });

/** Report a final status: persist it first so a reboot cannot lose it. */
function report(jobId: string, versionNumber: number, status: Status, details: Details, extra: readonly OtaEffect[] = []): { state: OtaState; effects: OtaEffect[] } {
	const record: OtaRecord = { phase: 'report', jobId, versionNumber, status, details };
	return {
		state: { value: 'reporting', jobId, versionNumber, status, details, sending: true },
		effects: [
			...extra,
			{ type: 'persist', record },
			{ type: 'log', level: status === 'SUCCEEDED' ? 'info' : 'warn', event: 'ota.' + status.toLowerCase(), detail: jobId + ' ' + (details.reason ?? '') },
			{ type: 'update', jobId, status, details, expectedVersion: versionNumber, final: true },
		],
	};
}

function withVersion<S extends { job: ActiveJob }>(s: S, versionNumber: number): S {
	return { ...s, job: { ...s.job, versionNumber } };
}

function start(e: Extract<OtaEvent, { type: 'started' }>): OtaStep {
	const x = e.execution;
	if (!x) return { state: IDLE, effects: [] };
	const doc = e.checked ?? { ok: false, error: 'document not checked' };
	if (!doc.ok) return report(x.jobId, x.versionNumber, 'REJECTED', { reason: 'job document refused: ' + doc.error, version: e.running });
	const fw = doc.value;
	// the signed version decides, whatever the job document says around the manifest
	if (compareVersions(fw.version, e.running) <= 0) return report(x.jobId, x.versionNumber, 'REJECTED', { reason: 'signed version ' + fw.version + ' is not newer than running ' + e.running, version: e.running });
	if (fw.counter < e.counter) return report(x.jobId, x.versionNumber, 'REJECTED', { reason: 'security counter ' + fw.counter + ' is below the installed ' + e.counter, version: e.running });
	const job: ActiveJob = { jobId: x.jobId, versionNumber: x.versionNumber, firmware: fw, from: e.running };
	return {
		state: { value: 'downloading', job, bytes: 0, attempt: 0, reported: 0, updating: false },
		effects: [
			{ type: 'persist', record: { phase: 'download', job } },
			{ type: 'log', level: 'info', event: 'ota.start', detail: x.jobId + ' ' + e.running + ' -> ' + fw.version },
			{ type: 'download', job, from: 0 },
		],
	};
}

function percent(bytes: number, size: number): number {
	return Math.floor((bytes * 4) / size) * 25;
}

function boot(e: Extract<OtaEvent, { type: 'boot' }>): OtaStep {
	const r = e.record;
	if (!r) return { state: IDLE, effects: [] };
	switch (r.phase) {
		case 'download': {
			const bytes = Math.min(e.resumable, r.job.firmware.size);
			return {
				state: { value: 'downloading', job: r.job, bytes, attempt: 0, reported: percent(bytes, r.job.firmware.size), updating: false },
				effects: [
					{ type: 'log', level: 'info', event: 'ota.resume', detail: r.job.jobId + ' at ' + bytes },
					{ type: 'download', job: r.job, from: bytes },
				],
			};
		}
		case 'activated':
			if (e.running.version === r.job.firmware.version && !e.running.valid) return { state: { value: 'testing', job: r.job }, effects: [{ type: 'selfTest' }] };
			// the bootloader went back by itself (the new image crashed before its self-test)
			return report(r.job.jobId, r.job.versionNumber, 'FAILED', { reason: 'new image did not boot', version: e.running.version });
		case 'report':
			return {
				state: { value: 'reporting', jobId: r.jobId, versionNumber: r.versionNumber, status: r.status, details: r.details, sending: true },
				effects: [{ type: 'update', jobId: r.jobId, status: r.status, details: r.details, expectedVersion: r.versionNumber, final: true }],
			};
		default:
			return assertNever(r);
	}
}

export function step(s: OtaState, e: OtaEvent): OtaStep {
	if (e.type === 'boot') return s.value === 'idle' ? boot(e) : undefined;
	switch (s.value) {
		case 'idle':
			if (e.type === 'online' || (e.type === 'notified' && e.jobId !== undefined)) return { state: { value: 'starting' }, effects: [{ type: 'startNext', details: { step: 'download' } }] };
			return undefined;
		case 'starting':
			if (e.type === 'started') return start(e);
			if (e.type === 'startFailed') return { state: IDLE, effects: [{ type: 'log', level: 'warn', event: 'ota.start_failed', detail: e.reason }] };
			return undefined;
		case 'downloading':
		case 'stalled':
		case 'verifying': {
			const job = s.job;
			// cancelled (or replaced): the next pending execution is no longer ours
			const cancelled = (e.type === 'notified' && e.jobId !== job.jobId) || (e.type === 'updateFailed' && e.code === 'TerminalStateReached');
			if (cancelled) {
				const effects: OtaEffect[] = [{ type: 'abort' }, { type: 'persist', record: undefined }, { type: 'log', level: 'warn', event: 'ota.cancelled', detail: job.jobId }];
				if (e.type === 'notified' && e.jobId !== undefined) return { state: { value: 'starting' }, effects: [...effects, { type: 'startNext', details: { step: 'download' } }] };
				return { state: IDLE, effects };
			}
			if ((e.type === 'updated' || e.type === 'updateFailed') && e.final) return undefined;
			if (e.type === 'updated') return { state: s.value === 'downloading' ? { ...withVersion(s, e.versionNumber), updating: false } : withVersion(s, e.versionNumber), effects: [] };
			if (e.type === 'updateFailed') return s.value === 'downloading' ? { state: { ...(e.versionNumber !== undefined ? withVersion(s, e.versionNumber) : s), updating: false }, effects: [] } : undefined;
			if (s.value === 'downloading') {
				if (e.type === 'progress') {
					const pct = percent(e.bytes, job.firmware.size);
					if (pct > s.reported && pct < 100 && !s.updating)
						return {
							state: { ...s, bytes: e.bytes, reported: pct, updating: true },
							effects: [{ type: 'update', jobId: job.jobId, status: 'IN_PROGRESS', details: { step: 'download', progress: String(pct) }, expectedVersion: job.versionNumber, final: false }],
						};
					return { state: { ...s, bytes: e.bytes }, effects: [] };
				}
				if (e.type === 'downloaded') return { state: { value: 'verifying', job }, effects: [{ type: 'verify', job }] };
				if (e.type === 'downloadFailed') {
					const attempt = s.attempt + 1;
					if (!e.retryable || attempt >= MAX_DOWNLOAD_ATTEMPTS) return report(job.jobId, job.versionNumber, 'FAILED', { reason: 'download failed: ' + e.reason, version: job.from });
					return {
						state: { value: 'stalled', job, bytes: e.bytes, attempt, reason: e.reason },
						effects: [
							{ type: 'log', level: 'warn', event: 'ota.download_stalled', detail: e.reason },
							{ type: 'wait', attempt },
						],
					};
				}
				return undefined;
			}
			if (s.value === 'stalled')
				return e.type === 'retry'
					? {
							state: { value: 'downloading', job, bytes: s.bytes, attempt: s.attempt, reported: percent(s.bytes, job.firmware.size), updating: false },
							effects: [{ type: 'download', job, from: s.bytes }],
						}
					: undefined;
			if (e.type === 'verified')
				return {
					state: { value: 'rebooting', job },
					effects: [{ type: 'persist', record: { phase: 'activated', job } }, { type: 'log', level: 'info', event: 'ota.install', detail: job.firmware.version }, { type: 'install' }],
				};
			if (e.type === 'invalid') return report(job.jobId, job.versionNumber, 'FAILED', { reason: e.reason, version: job.from });
			return undefined;
		}
		case 'rebooting':
			// the install could not happen (the slot refused to activate, or the store to record it):
			// no reboot comes, the old image runs on; the job fails with the reason
			if (e.type === 'invalid') return report(s.job.jobId, s.job.versionNumber, 'FAILED', { reason: e.reason, version: s.job.from });
			return undefined; // nothing happens until the reboot
		case 'rollingBack':
			return undefined; // nothing happens until the reboot
		case 'testing': {
			if (e.type !== 'selfTest') return undefined;
			const job = s.job;
			if (e.passed) return report(job.jobId, job.versionNumber, 'SUCCEEDED', { version: job.firmware.version }, [{ type: 'markValid', counter: job.firmware.counter ?? 0 }]);
			const reason = 'self-test failed: ' + (e.reason ?? 'unknown');
			const record: OtaRecord = { phase: 'report', jobId: job.jobId, versionNumber: job.versionNumber, status: 'FAILED', details: { reason, version: job.from } };
			return {
				state: { value: 'rollingBack', job, reason },
				effects: [{ type: 'persist', record }, { type: 'log', level: 'warn', event: 'ota.rollback', detail: reason }, { type: 'rollback' }],
			};
		}
		case 'reporting': {
			const resend = (versionNumber: number): OtaStep => ({
				state: { ...s, versionNumber, sending: true },
				effects: [{ type: 'update', jobId: s.jobId, status: s.status, details: s.details, expectedVersion: versionNumber, final: true }],
			});
			// a progress update that was in flight: its outcome says nothing about the report
			if ((e.type === 'updated' || e.type === 'updateFailed') && !e.final) return undefined;
			if (e.type === 'updated')
				return {
					state: { value: 'starting' },
					effects: [
						{ type: 'persist', record: undefined },
						{ type: 'startNext', details: { step: 'download' } },
					],
				};
			if (e.type === 'updateFailed') {
				if (e.code === 'VersionMismatch' && e.versionNumber !== undefined && e.versionNumber !== s.versionNumber) return resend(e.versionNumber);
				if (e.code === 'TerminalStateReached' || e.code === 'ResourceNotFound' || e.code === 'InvalidStateTransition' || e.code === 'VersionMismatch')
					return {
						state: IDLE,
						effects: [
							{ type: 'persist', record: undefined },
							{ type: 'log', level: 'warn', event: 'ota.report_dropped', detail: s.jobId + ' ' + e.code },
						],
					};
				return { state: { ...s, sending: false }, effects: [{ type: 'wait', attempt: 1 }] };
			}
			if ((e.type === 'online' || e.type === 'retry') && !s.sending) return resend(s.versionNumber);
			return undefined;
		}
		default:
			return assertNever(s);
	}
}
