/*
 * Bench section `health.billing`: billed AWS IoT units per robot per day of health
 * reporting (core/health), by the metering bench/missions.ts uses: a shadow update is one
 * message per 5 KB of topic + payload and one shadow operation per 1 KB of payload; its
 * accepted reply, delivered to the robot, is one more message. The real HealthReporter runs
 * a day on a simulated clock against a status shadow that answers like AWS's, over three
 * days of figures: quiet, a flaky link (a reconnect every 10 minutes, heap and RSSI
 * wandering), and everything changing every minute (the bound). Beside it: a robot that
 * reported every minute.
 */
import { HealthReporter } from '../firmware/core/health/reporter';
import { DEFAULT_HEALTH, type HealthReport } from '../firmware/core/health/policy';
import { fakeTime, memoryLog, seededRandom } from '../firmware/core/testing/fakes';
import type { LinkState } from '../firmware/core/link/machine';
import { fmt } from './stats';
import { benchSection } from './section';

const KB5 = 5 * 1024;
const KB1 = 1024;
const units = (bytes: number, per: number) => Math.max(1, Math.ceil(bytes / per));
const TOPIC = '$aws/things/robot-0001/shadow/name/status/update';

export interface HealthDay {
	readonly day: string;
	readonly reports: number;
	readonly messages: number;
	readonly shadowOps: number;
}

export interface HealthBilling {
	readonly minIntervalMin: number;
	readonly days: HealthDay[];
	readonly everyMinute: { reports: number; messages: number; shadowOps: number };
}

function meter(body: string): { messages: number; ops: number } {
	const reply = JSON.stringify({ state: JSON.parse(body).state, metadata: {}, version: 1, timestamp: 0, clientToken: 'x'.repeat(10) });
	return { messages: units(TOPIC.length + body.length, KB5) + units(TOPIC.length + 9 + reply.length, KB5), ops: units(body.length, KB1) };
}

async function day(name: string, figures: (minute: number, random: () => number) => Partial<HealthReport>): Promise<HealthDay> {
	const time = fakeTime();
	const random = seededRandom(42);
	let messages = 0;
	let ops = 0;
	const shadow = {
		update(state: { reported?: unknown }) {
			const m = meter(JSON.stringify({ state, clientToken: 'robot-0001-1' }));
			messages += m.messages;
			ops += m.ops;
			return Promise.resolve({ ok: true as const, value: { state: {}, version: 1, timestamp: 0 } });
		},
	};
	const connected: LinkState = { value: 'connected', sessionPresent: true, attempt: 0, flaps: 0, since: 0 };
	let minute = 0;
	const base: HealthReport = {
		firmware: '1.4.2',
		uptimeS: 0,
		rebootReason: 'power-on',
		reconnects: 1,
		lastLinkError: null,
		rssi: -58,
		freeHeap: 96_000,
		largestFreeBlock: 38_000,
		storageUsed: 6_000,
		storageTotal: 16_384,
	};
	const reporter = new HealthReporter({ listen: () => () => {}, state: connected }, shadow, { clock: time.clock, timers: time.timers, log: memoryLog() }, () => ({
		...base,
		uptimeS: minute * 60,
		...figures(minute, random),
	}));
	reporter.start();
	await reporter.check();
	for (minute = 1; minute < 24 * 60; minute++) {
		time.advance(60_000);
		for (let i = 0; i < 5; i++) await Promise.resolve();
	}
	reporter.stop();
	return { day: name, reports: reporter.sent, messages, shadowOps: ops };
}

export async function healthBilling(): Promise<HealthBilling> {
	const days = [
		await day('quiet: heap within 5%, RSSI within 4 dB', (_m, r) => ({ freeHeap: 96_000 * (0.95 + 0.1 * r()), rssi: -58 + Math.round(8 * r() - 4) })),
		await day('flaky: a reconnect every 10 min, heap and RSSI wandering', (m, r) => ({
			reconnects: 1 + Math.floor(m / 10),
			lastLinkError: m >= 10 ? 'closed by peer' : null,
			freeHeap: 96_000 * (0.6 + 0.4 * r()),
			rssi: -58 - Math.round(20 * r()),
		})),
		await day('everything changing every minute (the bound)', (m) => ({ reconnects: 1 + m, freeHeap: m % 2 ? 40_000 : 96_000, rssi: m % 2 ? -80 : -50 })),
	];
	const body = JSON.stringify({
		state: {
			reported: {
				health: {
					firmware: '1.4.2',
					uptimeS: 86_399,
					rebootReason: 'power-on',
					reconnects: 1,
					rssi: -58,
					freeHeap: 96_000,
					largestFreeBlock: 38_000,
					storageUsed: 6_000,
					storageTotal: 16_384,
				},
			},
		},
		clientToken: 'robot-0001-1',
	});
	const one = meter(body);
	return { minIntervalMin: DEFAULT_HEALTH.minIntervalMs / 60_000, days, everyMinute: { reports: 1440, messages: 1440 * one.messages, shadowOps: 1440 * one.ops } };
}

export function healthMarkdown(r: HealthBilling): string[] {
	return [
		`The robot's health report on its status shadow (core/health: only on a change beyond a threshold, at most every ${r.minIntervalMin} min), a simulated day each: the real reporter and policy, AWS IoT's metering (a shadow update: 1 message per 5 KB and 1 shadow operation per 1 KB; its accepted reply: 1 message).`,
		'',
		'| day | reports | billed messages | shadow operations |',
		'| --- | --- | --- | --- |',
		...r.days.map((d) => `| ${d.day} | ${fmt(d.reports)} | ${fmt(d.messages)} | ${fmt(d.shadowOps)} |`),
		`| for comparison: a report every minute | ${fmt(r.everyMinute.reports)} | ${fmt(r.everyMinute.messages)} | ${fmt(r.everyMinute.shadowOps)} |`,
		'',
	];
}

export const healthBillingSection = benchSection({ name: 'health.billing', title: 'billed messages per robot per day of health reporting', run: healthBilling, markdown: healthMarkdown });
