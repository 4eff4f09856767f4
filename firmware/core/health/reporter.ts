/*
 * The health reporter: reads the figures every `checkMs` while the link is up (and once
 * right after it comes up), asks the policy (policy.ts) whether they are worth a report,
 * and writes them to the status shadow as `reported.health`. A report the cloud did not
 * accept (offline, rejected, timeout) is not remembered as made, so the next check tries
 * again; the policy's interval counts from the last accepted one.
 */
import type { ClockPort, LogPort, TimerPort } from '../../ports';
import type { LinkListener } from '../link/link';
import type { LinkState } from '../link/machine';
import type { JsonObject, ShadowClient } from '../shadow/client';
import { Periodic } from '../util/timers';
import { DEFAULT_HEALTH, checkHealthPolicy, decide, type HealthPolicy, type HealthReport } from './policy';

export interface HealthReporterPorts {
	readonly clock: ClockPort;
	readonly timers: TimerPort;
	readonly log: LogPort;
}

export class HealthReporter {
	readonly #shadow: Pick<ShadowClient, 'update'>;
	readonly #ports: HealthReporterPorts;
	readonly #read: () => HealthReport;
	readonly #policy: HealthPolicy;
	readonly #checks: Periodic;
	#last: { report: HealthReport; at: number } | undefined;
	#busy = false;
	#up = false;
	/** Reports the cloud accepted. */
	sent = 0;

	constructor(link: { listen(l: LinkListener): () => void; readonly state: LinkState }, shadow: Pick<ShadowClient, 'update'>, ports: HealthReporterPorts, read: () => HealthReport, policy: HealthPolicy = DEFAULT_HEALTH) {
		if (typeof read !== 'function') throw new TypeError('"read" expected a function');
		this.#shadow = shadow;
		this.#ports = ports;
		this.#read = read;
		this.#policy = checkHealthPolicy(policy);
		this.#checks = new Periodic(ports.timers);
		this.#up = link.state.value === 'connected';
		link.listen({
			state: (s) => {
				const was = this.#up;
				this.#up = s.value === 'connected';
				if (this.#up && !was) void this.check();
			},
		});
	}

	start(): void {
		this.#checks.start(() => void this.check(), this.#policy.checkMs);
	}

	stop(): void {
		this.#checks.stop();
	}

	/** One check: resolves true when a report was made and accepted. */
	async check(): Promise<boolean> {
		if (!this.#up || this.#busy) return false;
		const now = this.#ports.clock.monotonic();
		const next = this.#read();
		const d = decide(this.#last, next, now, this.#policy);
		if (!d.report) return false;
		this.#busy = true;
		try {
			const r = await this.#shadow.update({ reported: { health: toJson(next) } });
			if (!r.ok) {
				this.#ports.log.log('warn', 'health.report_failed', { code: r.error.code });
				return false;
			}
			this.#last = { report: next, at: now };
			this.sent++;
			this.#ports.log.log('info', 'health.reported', { why: d.why.join(',') });
			return true;
		} finally {
			this.#busy = false;
		}
	}
}

function toJson(r: HealthReport): JsonObject {
	const out: JsonObject = {};
	for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v as string | number | null;
	return out;
}
