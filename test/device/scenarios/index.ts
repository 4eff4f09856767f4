/* The device scenarios of the link (issue #13), by the name passed as `scenario=`. */
import type { Link } from '../../../firmware/core/link/link';
import echo from './echo';
import outboxQueue from './outbox-queue';
import outboxDeliver from './outbox-deliver';
import brokerRestart from './broker-restart';
import foreignCa from './foreign-ca';
import malformedFrame from './malformed-frame';

export interface Context {
	readonly link: Link;
	readonly thing: string;
	/** Time.ticks when the app's main module started. */
	readonly startedAt: number;
	/** A line `step {"event":...}` the Node runner may act on (restart the broker...). */
	step(event: string, fields?: Record<string, string | number | boolean>): void;
	/** A line `device-metric {...}` for the benchmark. */
	metric(fields: Record<string, string | number | boolean>): void;
	pass(): void;
	fail(why: string): void;
}

export interface Scenario {
	readonly timeoutMs: number;
	/** Resource name prefix of the credentials to use ('' = the device's own). */
	readonly credentials?: string;
	run(c: Context): void;
}

export const SCENARIOS: Readonly<Record<string, Scenario>> = Object.freeze({
	echo,
	'outbox-queue': outboxQueue,
	'outbox-deliver': outboxDeliver,
	'broker-restart': brokerRestart,
	'foreign-ca': foreignCa,
	'malformed-frame': malformedFrame,
});
