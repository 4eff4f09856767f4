import * as assert from '../testing/assert';
import type { FirmwareJob } from './document';
import { IMAGE_SHA256, hex } from './testdata';
import { IDLE, MAX_DOWNLOAD_ATTEMPTS, step, type OtaEffect, type OtaEvent, type OtaState } from './machine';

function run(s: OtaState, ...events: OtaEvent[]): { state: OtaState; effects: OtaEffect[] } {
	const effects: OtaEffect[] = [];
	for (const e of events) {
		const r = step(s, e);
		assert.ok(r, 'event ' + e.type + ' does not apply in ' + s.value);
		s = r.state;
		effects.push(...r.effects);
	}
	return { state: s, effects };
}
const types = (fx: OtaEffect[]) => fx.filter((f) => f.type !== 'log').map((f) => f.type);
const FW: FirmwareJob = { version: '1.1.0', size: 10000, sha256: hex(IMAGE_SHA256), counter: 1, url: 'http://127.0.0.1/firmware/x' };
/** start-next's answer, as the runner checked its document (checkJobDocument); `counter` is the installed one. */
const started = (fw: Partial<FirmwareJob> = {}, counter = 0): OtaEvent => ({
	type: 'started',
	execution: { jobId: 'j1', versionNumber: 2, document: {} },
	running: '1.0.0',
	counter,
	checked: { ok: true, value: { ...FW, ...fw } },
});

const refused = (error: string): OtaEvent => ({
	type: 'started',
	execution: { jobId: 'j1', versionNumber: 2, document: {} },
	running: '1.0.0',
	counter: 0,
	checked: { ok: false, error },
});

describe('ota machine', () => {
	it('starts a job on connect and downloads from 0', () => {
		const r = run(IDLE, { type: 'online' }, started());
		assert.equal(r.state.value, 'downloading');
		assert.deepEqual(types(r.effects), ['startNext', 'persist', 'download']);
	});

	it('reports progress in quarters, one update in flight, with expectedVersion', () => {
		let r = run(IDLE, { type: 'online' }, started(), { type: 'progress', bytes: 2600 });
		const u = r.effects.find((f) => f.type === 'update');
		assert.ok(u && u.type === 'update');
		assert.equal(u.expectedVersion, 2);
		assert.equal(u.details.progress, '25');
		r = run(r.state, { type: 'progress', bytes: 5100 }); // 50 %, but 25 % is still in flight
		assert.deepEqual(types(r.effects), []);
		r = run(r.state, { type: 'updated', versionNumber: 3, final: false }, { type: 'progress', bytes: 7600 });
		const u2 = r.effects.find((f) => f.type === 'update');
		assert.ok(u2 && u2.type === 'update' && u2.expectedVersion === 3 && u2.details.progress === '75');
	});

	it('verifies, installs, self-tests after boot and reports SUCCEEDED', () => {
		let r = run(IDLE, { type: 'online' }, started(), { type: 'downloaded' }, { type: 'verified' });
		assert.equal(r.state.value, 'rebooting');
		assert.deepEqual(types(r.effects).slice(-2), ['persist', 'install']);
		const persisted = r.effects.filter((f) => f.type === 'persist').pop();
		assert.ok(persisted && persisted.type === 'persist' && persisted.record?.phase === 'activated');
		// the new image boots on probation
		r = run(IDLE, { type: 'boot', record: persisted.record, running: { version: '1.1.0', valid: false }, resumable: 0 });
		assert.equal(r.state.value, 'testing');
		r = run(r.state, { type: 'selfTest', passed: true });
		assert.deepEqual(types(r.effects), ['markValid', 'persist', 'update']);
		const u = r.effects.find((f) => f.type === 'update');
		assert.ok(u && u.type === 'update' && u.status === 'SUCCEEDED' && u.details.version === '1.1.0');
		r = run(r.state, { type: 'updated', versionNumber: 5, final: true });
		assert.deepEqual(types(r.effects), ['persist', 'startNext']);
	});

	it('rolls back when the self-test fails and reports FAILED from the old image', () => {
		const job = { jobId: 'j1', versionNumber: 4, firmware: { version: '1.1.0', size: 1, sha256: new Uint8Array(32), counter: 0, url: 'http://x' }, from: '1.0.0' };
		let r = run(IDLE, { type: 'boot', record: { phase: 'activated', job }, running: { version: '1.1.0', valid: false }, resumable: 0 }, { type: 'selfTest', passed: false, reason: 'no link' });
		assert.equal(r.state.value, 'rollingBack');
		assert.deepEqual(types(r.effects), ['selfTest', 'persist', 'rollback']);
		const p = r.effects.find((f) => f.type === 'persist');
		assert.ok(p && p.type === 'persist' && p.record?.phase === 'report' && p.record.status === 'FAILED');
		r = run(IDLE, { type: 'boot', record: p.record, running: { version: '1.0.0', valid: true }, resumable: 0 });
		const u = r.effects.find((f) => f.type === 'update');
		assert.ok(u && u.type === 'update' && u.status === 'FAILED' && /self-test failed: no link/.test(u.details.reason!) && u.details.version === '1.0.0');
		// the bootloader rolled back by itself: FAILED too
		r = run(IDLE, { type: 'boot', record: { phase: 'activated', job }, running: { version: '1.0.0', valid: true }, resumable: 0 });
		assert.ok(r.effects.some((f) => f.type === 'update' && f.status === 'FAILED' && f.details.reason === 'new image did not boot'));
	});

	it('REJECTS refused documents, signed versions that are not newer and counters below the installed one', () => {
		let r = run(IDLE, { type: 'online' }, refused('manifest signature does not verify with the code-signing certificate'));
		let u = r.effects.find((f) => f.type === 'update');
		assert.ok(u && u.type === 'update' && u.status === 'REJECTED' && u.details.reason === 'job document refused: manifest signature does not verify with the code-signing certificate');
		for (const version of ['1.0.0', '0.9.9']) {
			r = run(IDLE, { type: 'online' }, started({ version }));
			u = r.effects.find((f) => f.type === 'update');
			assert.ok(u && u.type === 'update' && u.status === 'REJECTED' && u.details.reason === 'signed version ' + version + ' is not newer than running 1.0.0');
			assert.ok(!r.effects.some((f) => f.type === 'download'));
		}
		r = run(IDLE, { type: 'online' }, started({ counter: 2 }, 3));
		u = r.effects.find((f) => f.type === 'update');
		assert.ok(u && u.type === 'update' && u.status === 'REJECTED' && u.details.reason === 'security counter 2 is below the installed 3');
		// equal is fine: a counter rises only with a security fix
		assert.equal(run(IDLE, { type: 'online' }, started({ counter: 3 }, 3)).state.value, 'downloading');
	});

	it('marks a passing image valid with its counter', () => {
		const job = { jobId: 'j1', versionNumber: 4, firmware: { ...FW, counter: 5 }, from: '1.0.0' };
		const r = run(IDLE, { type: 'boot', record: { phase: 'activated', job }, running: { version: '1.1.0', valid: false }, resumable: 0 }, { type: 'selfTest', passed: true });
		assert.ok(r.effects.some((f) => f.type === 'markValid' && f.counter === 5));
	});

	it('FAILS on a bad image without installing', () => {
		const r = run(IDLE, { type: 'online' }, started(), { type: 'downloaded' }, { type: 'invalid', reason: 'bad signature' });
		assert.ok(!r.effects.some((f) => f.type === 'install'));
		assert.ok(r.effects.some((f) => f.type === 'update' && f.status === 'FAILED' && f.details.reason === 'bad signature'));
	});

	it('resumes after a power loss from what the slot holds', () => {
		const first = run(IDLE, { type: 'online' }, started());
		const p = first.effects.find((f) => f.type === 'persist');
		assert.ok(p && p.type === 'persist');
		const r = run(IDLE, { type: 'boot', record: p.record, running: { version: '1.0.0', valid: true }, resumable: 6000 });
		const d = r.effects.find((f) => f.type === 'download');
		assert.ok(d && d.type === 'download' && d.from === 6000);
	});

	it('retries a failed download from where it stopped, then gives up', () => {
		let r = run(IDLE, { type: 'online' }, started(), { type: 'progress', bytes: 100 }, { type: 'downloadFailed', reason: 'reset', retryable: true, bytes: 100 }, { type: 'retry' });
		const d = r.effects.filter((f) => f.type === 'download').pop();
		assert.ok(d && d.type === 'download' && d.from === 100);
		for (let i = 1; i < MAX_DOWNLOAD_ATTEMPTS; i++) {
			r = run(r.state, { type: 'downloadFailed', reason: 'reset', retryable: true, bytes: 100 });
			if (r.state.value === 'stalled') r = run(r.state, { type: 'retry' });
		}
		assert.equal(r.state.value, 'reporting');
	});

	it('stops the download when the job is cancelled', () => {
		let r = run(IDLE, { type: 'online' }, started(), { type: 'notified', jobId: undefined });
		assert.equal(r.state.value, 'idle');
		assert.deepEqual(types(r.effects).slice(-2), ['abort', 'persist']);
		r = run(IDLE, { type: 'online' }, started(), { type: 'notified', jobId: 'j2' });
		assert.equal(r.state.value, 'starting');
		r = run(IDLE, { type: 'online' }, started(), { type: 'updateFailed', code: 'TerminalStateReached', final: false });
		assert.equal(r.state.value, 'idle');
		// a notification of the same job changes nothing
		assert.equal(step(run(IDLE, { type: 'online' }, started()).state, { type: 'notified', jobId: 'j1' }), undefined);
	});

	it('keeps a final report until accepted, following VersionMismatch', () => {
		let r = run(IDLE, { type: 'online' }, refused('url is not under a configured firmware source'));
		r = run(r.state, { type: 'updateFailed', code: 'timeout', final: true });
		assert.equal(r.state.value, 'reporting');
		r = run(r.state, { type: 'online' });
		assert.ok(r.effects.some((f) => f.type === 'update'));
		r = run(r.state, { type: 'updateFailed', code: 'VersionMismatch', versionNumber: 7, final: true });
		assert.ok(r.effects.some((f) => f.type === 'update' && f.expectedVersion === 7));
	});

	it('does not take a late progress reply for the final report', () => {
		let r = run(IDLE, { type: 'online' }, started(), { type: 'progress', bytes: 7600 }, { type: 'downloaded' }, { type: 'invalid', reason: 'bad signature' });
		assert.equal(r.state.value, 'reporting');
		assert.equal(step(r.state, { type: 'updated', versionNumber: 3, final: false }), undefined);
		// the report, sent with the old version, is refused; it follows the service's version
		r = run(r.state, { type: 'updateFailed', code: 'VersionMismatch', versionNumber: 3, final: true });
		assert.ok(r.effects.some((f) => f.type === 'update' && f.final && f.status === 'FAILED' && f.expectedVersion === 3));
		r = run(r.state, { type: 'updated', versionNumber: 4, final: true });
		assert.equal(r.state.value, 'starting');
	});
});
