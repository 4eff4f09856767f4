/*
 * Firmware updates and the robot day on the Moddable runtime (lin), for device.lin: the
 * `device-metric` lines of test/device/run.ts's `ota` and `robot-day` cases, as tables.
 *
 * - ota.download: one per image the device took in (64 KB and 512 KB in `ota`, 64 KB in the
 *   robot day); throughput is the HTTP GET over the SDK's `http` into the file slot, the
 *   heap figures are XS slot and chunk heap sampled at every chunk: the point is that the
 *   peak does not grow with the image (ota.download_memory).
 * - robot-day: the phase times of the day (ms from the app's start), the map upload, the
 *   self-test after the reboot, and the day's heap, chunk and stack peaks (device.memory,
 *   sampled once a second by the debug build).
 */
import { fmt } from './stats';

type Metric = Record<string, unknown>;

/** The device scenarios this needs (test/device/run.ts case names). */
export const OTA_SCENARIOS = ['ota', 'robot-day'] as const;

const n = (v: unknown) => fmt(Number(v));

export function otaMarkdown(metrics: readonly Metric[], table: (head: string[], rows: (string | number)[][]) => string): string[] {
	const md: string[] = [];
	const downloads = metrics.filter((m) => m.name === 'ota.download');
	if (downloads.length) {
		md.push('### Firmware update download on the device (lin)', '');
		md.push(
			table(
				['scenario', 'version', 'image', 'time', 'throughput', 'chunks', 'slot heap peak (baseline)', 'chunk heap peak (baseline)'],
				downloads.map((d) => [String(d.scenario), String(d.version), n(d.imageBytes) + ' B', n(d.ms) + ' ms', n(d.kBps) + ' kB/s', n(d.chunks), `${n(d.slotPeak)} (${n(d.slotBaseline)}) B`, `${n(d.chunkPeak)} (${n(d.chunkBaseline)}) B`]),
			),
			'',
		);
		const g = metrics.find((m) => m.name === 'ota.download_memory');
		if (g)
			md.push(
				`Peak heap growth from a ${n(g.smallBytes)} B to a ${n(g.largeBytes)} B image: slot ${n(g.slotGrowth)} B, chunk ${n(g.chunkGrowth)} B (the run fails above 16,384 B): the image is streamed into the slot one chunk at a time.`,
				'',
			);
		const v = metrics.filter((m) => m.name === 'ota.verify_activate').map((m) => Number(m.ms));
		if (v.length) md.push(`Read back, SHA-256 and ECDSA P-256 (native), activate: ${v.map((x) => fmt(x) + ' ms').join(', ')}.`, '');
	}
	const day = metrics.find((m) => m.name === 'robot-day' && m.boot === 'day');
	if (day) {
		const updated = metrics.find((m) => m.name === 'robot-day' && m.boot === 'updated');
		const map = metrics.find((m) => m.name === 'robot-day.map');
		const mem = metrics.find((m) => m.name === 'device.memory' && m.scenario === 'robot-day');
		const rows: (string | number)[][] = [
			['connected', n(day.connected) + ' ms'],
			['schedule synced (offline edit applied and reported)', n(day.synced) + ' ms'],
			['mission started (button)', n(day.missionStarted) + ' ms'],
			['mission report (about an hour of cleaning at 50 ms per minute; ' + n(day.events) + ' events)', n(day.report) + ' ms'],
			['report PUBACK (out of the durable outbox)', n(day.reportAcked) + ' ms'],
			['map uploaded', n(day.mapUploaded) + ' ms'],
			['firmware downloaded, verified, activated: reboot', n(day.reboot) + ' ms'],
		];
		if (map) rows.push(['map: plaintext / message, time, throughput', `${n(map.mapBytes)} / ${n(map.messageBytes)} B, ${n(map.ms)} ms, ${n(map.kBps)} kB/s`]);
		if (updated) rows.push(['after the reboot: self-test passed, ' + String(updated.status), n(updated.selfTestMs) + ' ms']);
		if (mem) {
			rows.push(['peak chunk heap used / available', `${n(mem.chunkUsedPeak)} / ${n(mem.chunkAvailablePeak)} B`]);
			rows.push(['peak slot heap used / available', `${n(mem.slotUsedPeak)} / ${n(mem.slotAvailablePeak)} B`]);
			rows.push(['peak stack used / available', `${n(mem.stackUsedPeak)} / ${n(mem.stackAvailablePeak)} B`]);
		}
		md.push('### A robot day on the device (lin, `robot-day`)', '', table(['phase', 'value'], rows), '');
	}
	return md;
}
