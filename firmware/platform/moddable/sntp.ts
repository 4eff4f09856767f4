/*
 * Wall clock from SNTP (Moddable's `sntp` module, modules/network/sntp) on boards
 * without a battery-backed RTC: after power loss an ESP32 counts from 1970 and the
 * clock port reports the time unknown (system.ts) until this sets it.
 *
 * What `sntp` does itself: it resolves the host, sends a request to UDP port 123 and
 * repeats it every 5 s, 5 times; then it reports an error and takes the next host
 * from its callback's return value. This adapter hands it the configured hosts in
 * order. When all of them failed it starts over after a full-jitter backoff
 * (core link/backoff), and after a success it syncs again every `refreshMs` to keep
 * the RTC's drift small. The time is set with setWallClock (system.ts): Time.set, and on
 * lin, where Time.set does nothing, the clock port keeps the difference.
 */
import SNTP from 'sntp';
import Timer from 'timer';
import { backoffDelay, type BackoffPolicy } from '../../core/link/backoff';
import type { LogPort } from '../../ports';
import { setWallClock } from './system';

export interface SntpOptions {
	/** Host names or IPv4 addresses, tried in order. */
	readonly hosts: readonly string[];
	readonly log: LogPort;
	/** Called after Time.set with the time the server gave, seconds since the epoch. */
	readonly onTime?: (seconds: number) => void;
	/** Wait between rounds after every host failed. */
	readonly retry?: BackoffPolicy;
	/** Sync again this long after a success (ms); 0 = never. */
	readonly refreshMs?: number;
}

export interface SntpHandle {
	/** Ends the running request and any timer. */
	stop(): void;
}

const RETRY: BackoffPolicy = Object.freeze({ baseMs: 30_000, capMs: 15 * 60_000 });
const REFRESH_MS = 6 * 60 * 60_000;

interface SntpLike {
	close(): void;
}

export function startSntp(o: SntpOptions): SntpHandle {
	const hosts = o.hosts.filter((h) => typeof h === 'string' && h.length > 0);
	if (hosts.length === 0) throw new RangeError('"hosts" expected at least one host name, got ' + JSON.stringify(o.hosts));
	const refreshMs = o.refreshMs ?? REFRESH_MS;
	let client: SntpLike | undefined;
	let timer: Timer | undefined;
	let failedRounds = 0;
	let stopped = false;

	const later = (ms: number) => {
		timer = Timer.set(() => {
			timer = undefined;
			round();
		}, ms);
	};

	const round = () => {
		if (stopped) return;
		let next = 0;
		const host = hosts[next++]!;
		o.log.log('debug', 'sntp.request', { host });
		try {
			client = new SNTP({ host }, (message: number, value?: number | string) => {
				if (message === SNTP.time) {
					client = undefined; // sntp closed itself
					const seconds = Number(value);
					setWallClock(seconds);
					failedRounds = 0;
					o.log.log('info', 'sntp.time', { host: hosts[next - 1], seconds });
					if (refreshMs > 0 && !stopped) later(refreshMs);
					o.onTime?.(seconds);
					return;
				}
				if (message === SNTP.retry) return;
				// SNTP.error: this host did not answer (or its name did not resolve)
				o.log.log('warn', 'sntp.host_failed', { host: hosts[next - 1], error: String(value) });
				if (!stopped && next < hosts.length) return hosts[next++];
				client = undefined; // sntp closes itself when no next host is returned
				if (stopped) return;
				const ms = Math.max(1000, backoffDelay(o.retry ?? RETRY, ++failedRounds, Math.random()));
				o.log.log('warn', 'sntp.failed', { hosts: hosts.length, retryMs: ms });
				later(ms);
				return;
			}) as unknown as SntpLike;
		} catch (e) {
			// the UDP socket could not be made (no network interface yet): try again later
			client = undefined;
			const ms = Math.max(1000, backoffDelay(o.retry ?? RETRY, ++failedRounds, Math.random()));
			o.log.log('warn', 'sntp.failed', { error: String((e as Error)?.message ?? e), retryMs: ms });
			later(ms);
		}
	};

	round();
	return {
		stop() {
			stopped = true;
			if (timer !== undefined) Timer.clear(timer);
			timer = undefined;
			const c = client;
			client = undefined;
			try {
				c?.close();
			} catch {
				// already closed by sntp
			}
		},
	};
}
