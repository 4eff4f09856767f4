/*
 * The link of the shipped firmware against the broker's faults:
 *   outbox          broker down: a mission's report waits in the durable outbox; the power goes;
 *                   the next power-on, broker up, delivers it exactly once.
 *   broker-restart  the broker restarts under a connected robot: the link notices, backs off
 *                   (each attempt's spacing, seen by a TCP forwarder, within the backoff's
 *                   windows), reconnects, and a mission's report then goes through once.
 *   foreign-ca      a device certificate from another CA (with the right trust anchor): every
 *                   handshake refused by the broker (broker.tls.refused), never a CONNACK.
 *   malformed-frame a frame with a 5-byte remaining length from the broker (a TLS relay
 *                   injects it): mqtt.bad_frame, reconnect, a report goes through once.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Checks } from '../checks';
import { startRelay } from '../relay';
import { BASE_TEST, HOST, THING, say, type LogLine, type Scenario } from '../suite';
import { badEvents, missionBefore, pressButton } from './mission';

export const outbox: Scenario = {
	name: 'outbox',
	async run(s) {
		const c = new Checks(s);
		try {
			await missionBefore(s, c);
			await s.down();
			const d = s.power('queue');
			const id = await d.command({ cmd: 'mission' }).then((r) => String(r.mission));
			await d.waitFor('mission.report', (l) => l.mission === id, 30_000);
			const queued = await d.untilStatus('the report queued durably', (x) => x.mission === 'idle' && Number(x.outbox) >= 1);
			await d.off();
			say(`broker down: the report of ${id} is queued (outbox ${String(queued.outbox)}); power off`);
			(await s.up()).record.clear();
			const e = s.power('deliver');
			const boot = await e.waitFor('main.boot');
			if (Number(boot.outbox) < 1) return `the outbox came back with ${String(boot.outbox)} messages`;
			await e.untilStatus('the outbox delivered', (x) => x.link === 'connected' && x.pendingReports === 0 && x.outbox === 0, 20_000);
			await e.off();
			// offline, the mission's QoS 0 events are dropped (mission.events_dropped); nothing else may go wrong
			return badEvents(d, ['mission.events_dropped']) ?? badEvents(e) ?? c.reportOnce(id) ?? (await c.onlyItem(id, 'finished'));
		} finally {
			c.close();
		}
	},
};

/** How long broker-restart keeps the broker down: the test backoff's windows (0.5, 1, 2, 2 s...) give at least 3 attempts in it. */
const OUTAGE_MS = 8_000;
/** The device's own time to notice a refused attempt and arm its next timer, beyond the backoff it logs. */
const NOTICE_MS = 1_500;

/**
 * A plain TCP forwarder between the robot and the broker that notes when each of the robot's
 * connections opened and closed: with the broker down it still accepts, finds the broker's port
 * refused and closes, so every reconnect attempt is seen on the host, timed by the host's clock.
 */
async function attemptCounter(port: number, upstream: number): Promise<{ readonly attempts: { opened: number; closed?: number }[]; close(): Promise<void> }> {
	const attempts: { opened: number; closed?: number }[] = [];
	const sockets = new Set<Socket>();
	const server = createServer((device) => {
		const a: { opened: number; closed?: number } = { opened: Date.now() };
		attempts.push(a);
		const up = connect(upstream, HOST);
		for (const x of [device, up]) {
			sockets.add(x);
			x.on('error', () => x.destroy()); // the broker's refusal, or the robot's reset: both close the pair below
			x.on('close', () => {
				sockets.delete(x);
				a.closed ??= Date.now();
				device.destroy();
				up.destroy();
			});
		}
		device.pipe(up);
		up.pipe(device);
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, HOST, () => resolve());
	});
	return {
		attempts,
		close() {
			for (const x of sockets) x.destroy();
			return new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}

/**
 * The backoff the link claims, against what the forwarder saw: the robot's link.backoff lines
 * after the drop are attempts 1, 2, 3... each within its full-jitter window (the test policy,
 * BASE_TEST.link.backoff); the robot's next connection opened no sooner than the delay it logged
 * after the previous one opened, and no later than the window after the previous one was refused
 * (plus NOTICE_MS).
 */
function backoffProblem(backoffs: readonly LogLine[], attempts: readonly { opened: number; closed?: number }[]): string | undefined {
	const policy = BASE_TEST.link.backoff;
	// attempts[0] is the connection the broker's restart dropped; attempts[k] follows backoff k
	if (backoffs.length < 3) return `${backoffs.length} backoff(s) in an outage of ${OUTAGE_MS} ms, expected at least 3`;
	if (attempts.length !== backoffs.length + 1) return `the forwarder saw ${attempts.length} connections for ${backoffs.length} backoffs (expected one more: the first connection)`;
	for (let k = 1; k <= backoffs.length; k++) {
		const b = backoffs[k - 1]!;
		const ms = Number(b.ms);
		const window = Math.min(policy.capMs, policy.baseMs * 2 ** (k - 1));
		if (b.attempt !== k) return `backoff ${k} logged attempt ${String(b.attempt)}`;
		if (!(ms >= 0 && ms < window)) return `backoff ${k}: ${ms} ms, outside the full-jitter window [0, ${window}) of base ${policy.baseMs}, cap ${policy.capMs}`;
		const prev = attempts[k - 1]!;
		const next = attempts[k]!;
		if (prev.closed === undefined) return `connection ${k - 1} never closed`;
		// 20 ms: the host's and the device's clocks read in whole milliseconds, at different moments
		if (next.opened - prev.opened < ms - 20) return `attempt ${k} opened ${next.opened - prev.opened} ms after the previous one, sooner than the ${ms} ms backoff logged`;
		if (next.opened - prev.closed > window + NOTICE_MS) return `attempt ${k} opened ${next.opened - prev.closed} ms after the previous one was refused, later than the window ${window} ms (+${NOTICE_MS} ms)`;
	}
	return undefined;
}

export const brokerRestart: Scenario = {
	name: 'broker-restart',
	async run(s) {
		const c = new Checks(s);
		const counter = await attemptCounter(s.port + 1, s.port);
		try {
			await missionBefore(s, c);
			await s.provision({ endpoint: `${HOST}:${s.port + 1}` });
			const d = s.power('restart');
			await d.waitFor('link.online');
			await s.down();
			const downAt = Date.now();
			await new Promise((r) => setTimeout(r, OUTAGE_MS));
			await s.up();
			await d.until('a second CONNACK', () => (d.count('link.online') >= 2 ? true : undefined), 20_000);
			const online = d.log.filter((l) => l.event === 'link.online');
			const backoffs = d.log.filter((l) => l.event === 'link.backoff' && l.t > online[0]!.t && l.t < online[1]!.t);
			const attempts = counter.attempts.slice();
			const id = await pressButton(d);
			await d.waitFor('mission.report', (l) => l.mission === id, 30_000);
			await d.untilStatus('the report delivered', (x) => x.pendingReports === 0);
			await d.off();
			const problem = backoffProblem(backoffs, attempts);
			if (problem) return problem;
			const spacing = attempts.slice(1).map((a, i) => a.opened - attempts[i]!.opened);
			say(
				`broker down ${OUTAGE_MS} ms under the robot: backoffs ${backoffs.map((b) => `${String(b.attempt)}:${String(b.ms)}ms`).join(' ')}; connections seen by the forwarder ${spacing.join(', ')} ms apart (first ${attempts[1]!.opened - downAt} ms after the broker went down); reconnected`,
			);
			return c.reportOnce(id) ?? (await c.onlyItem(id, 'finished'));
		} finally {
			c.close();
			await counter.close();
		}
	},
};

export const foreignCa: Scenario = {
	name: 'foreign-ca',
	async run(s) {
		s.clearStorage();
		(await s.up()).record.clear();
		const { createCa, issueDevice } = await import('../../../cloud/local/dev-pki');
		const paths = { cert: join(s.work, 'pki/rogue-cert.der'), key: join(s.work, 'pki/rogue-key.der') };
		if (!existsSync(paths.cert) || !existsSync(paths.key)) {
			const rogue = await issueDevice(await createCa('Rogue CA'), THING);
			writeFileSync(paths.cert, rogue.certDer);
			writeFileSync(paths.key, rogue.keyDer, { mode: 0o600 });
		}
		await s.provision({ credentials: { ca: s.deviceCredentials.ca, cert: readFileSync(paths.cert), key: readFileSync(paths.key) } });
		const since = s.events.length;
		const d = s.power('rogue');
		await d.until('two refused attempts', () => (d.count('link.backoff') >= 2 ? true : undefined), 20_000);
		await d.off();
		if (d.count('link.online')) return 'connected with a certificate from a foreign CA';
		if (s.broker()!.record.size !== 0) return 'broker recorded publishes from a refused device';
		const refused = s.events.slice(since).filter((e) => e.event === 'broker.tls.refused');
		if (!refused.length) return 'broker did not log a refused TLS handshake';
		say(`broker refused ${refused.length} handshake(s): ${JSON.stringify(refused[0])}`);
		return undefined;
	},
};

export const malformedFrame: Scenario = {
	name: 'malformed-frame',
	async run(s) {
		const c = new Checks(s);
		const relayPort = s.port + 1;
		const device = s.cloud.pki.things.get(THING)!;
		const relay = await startRelay({
			port: relayPort,
			host: HOST,
			upstream: { host: HOST, port: s.port },
			ca: s.cloud.pki.ca.certPem,
			serverCert: s.cloud.pki.server.certPem,
			serverKey: s.cloud.pki.server.keyPem,
			deviceCert: device.certPem,
			deviceKey: device.keyPem,
		});
		try {
			await missionBefore(s, c);
			await s.provision({ endpoint: `${HOST}:${relayPort}` });
			const d = s.power('bad-frame');
			await d.waitFor('link.online');
			// remaining length with a 5th length byte: malformed [MQTT-2.2.3]
			relay.inject(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
			const bad = await d.waitFor('mqtt.bad_frame');
			await d.until('a second CONNACK', () => (d.count('link.online') >= 2 ? true : undefined), 20_000);
			const id = await pressButton(d);
			await d.waitFor('mission.report', (l) => l.mission === id, 30_000);
			await d.untilStatus('the report delivered', (x) => x.pendingReports === 0);
			await d.off();
			say(`bad frame: ${JSON.stringify(bad)}; reconnected`);
			return c.reportOnce(id) ?? (await c.onlyItem(id, 'finished'));
		} finally {
			c.close();
			await relay.close();
		}
	},
};
