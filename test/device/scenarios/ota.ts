/*
 * Firmware update on the device (issue #9): the robot of firmware/main.ts with its OTA
 * agent (createRobot's `ota`, platform/moddable/firmware.ts: file slots on lin, native
 * SHA-256 and ECDSA), against the local cloud's Jobs and S3. The Node runner creates the
 * job with tools/ota before the app starts; the same scenario runs at every boot:
 *
 *   boot on the old version: start-next, the image streamed over the SDK's http into the
 *   inactive slot, SHA-256 and signature checked, the slot activated, reboot: the slot
 *   adapter traces `step reboot` and the run ends; the runner starts the app again over
 *   the same files (the "boot" record now names the new version).
 *   boot on the new version (on probation): self-test (link up, schedule synced), markValid,
 *   SUCCEEDED.
 *   a refused job (bad signature, downgrade): FAILED or REJECTED, no reboot.
 *
 *   ota-cut: the run ends (PASS, then the runner stops mcsim: a power loss) once half the
 *   image is in the slot; the next boot (`ota`) resumes the download with a Range request
 *   from what the slot holds (`from` in its ota.download metric).
 *
 * PASS when a job's last report is accepted (the agent is idle again after `reporting`):
 * `step ota-done` says with what status, and the runner checks the job and the status
 * shadow. During the download the XS heap is sampled at every chunk: `device-metric
 * ota.download` (bytes, ms, peaks) lets the runner compare a small and a large image.
 */
import Instrumentation from 'instrumentation';
import Time from 'time';
import Timer from 'timer';
import type { Context, Scenario } from './index';
import { heapNow, type Heap } from './map-upload';

export function watchOta(c: Context, done: (status: string, version: string) => void): string | undefined {
	const ota = c.robot?.ota;
	if (!ota) return 'scenario needs robot: true and ota: true (and the code-signing resource)';
	const ids = { slot: Instrumentation.map('XS Slot Heap Used') ?? -1, chunk: Instrumentation.map('XS Chunk Heap Used') ?? -1 };
	if (ids.slot < 0 || ids.chunk < 0) return 'no XS heap instruments (a debug build is needed)';
	const { agent } = ota;
	c.step('firmware', { version: agent.version, state: agent.state.value });
	let download: { t0: number; from: number; base: Heap; peak: Heap; chunks: number } | undefined;
	let downloaded: number | undefined;
	let reported: { status: string } | undefined;
	c.onLog((event) => {
		if (event === 'firmware.reboot' && downloaded !== undefined) c.metric({ name: 'ota.verify_activate', ms: Time.ticks - downloaded });
	});
	agent.onState((s) => {
		if (s.value === 'downloading') {
			const h = heapNow(ids);
			if (!download) download = { t0: Time.ticks, from: s.bytes, base: h, peak: { ...h }, chunks: 0 };
			download.chunks++;
			download.peak = { slot: Math.max(download.peak.slot, h.slot), chunk: Math.max(download.peak.chunk, h.chunk) };
			const size = s.job.firmware.size;
			if (s.bytes === size && downloaded === undefined) {
				downloaded = Time.ticks;
				const ms = Math.max(1, downloaded - download.t0);
				const bytes = size - download.from;
				c.metric({ name: 'ota.download', version: s.job.firmware.version, imageBytes: size, from: download.from, bytes, ms, kBps: Math.round(bytes / ms), chunks: download.chunks, slotBaseline: download.base.slot, chunkBaseline: download.base.chunk, slotPeak: download.peak.slot, chunkPeak: download.peak.chunk });
				c.step('downloaded', { version: s.job.firmware.version, bytes: size, from: download.from, ms, slotPeak: download.peak.slot, chunkPeak: download.peak.chunk });
			}
		} else if (s.value === 'reporting') {
			reported = { status: s.status };
		} else if (s.value === 'idle' && reported) {
			const status = reported.status;
			reported = undefined;
			c.step('ota-done', { status, version: agent.version });
			done(status, agent.version);
		}
	});
	return undefined;
}

export const ota: Scenario = {
	timeoutMs: 40_000,
	robot: true,
	ota: true,
	run(c) {
		const why = watchOta(c, () => Timer.set(() => c.pass(), 1_100)); // one more `instruments:` line first
		if (why) return c.fail(why);
		c.robot!.start();
	},
};

export const otaCut: Scenario = {
	timeoutMs: 40_000,
	robot: true,
	ota: true,
	run(c) {
		const agent = c.robot?.ota?.agent;
		if (!agent) return c.fail('scenario needs robot: true and ota: true');
		let cut = false;
		agent.onState((s) => {
			if (cut || s.value !== 'downloading' || s.bytes * 2 < s.job.firmware.size) return;
			cut = true;
			// the power goes now: nothing more is written, the slot file holds what came so far
			c.step('cut', { version: s.job.firmware.version, bytes: s.bytes, size: s.job.firmware.size });
			c.pass();
		});
		c.robot!.start();
	},
};
