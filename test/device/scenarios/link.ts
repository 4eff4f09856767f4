/*
 * The link of the shipped firmware against the broker's faults:
 *   outbox          broker down: a mission's report waits in the durable outbox; the power goes;
 *                   the next power-on, broker up, delivers it exactly once.
 *   broker-restart  the broker restarts under a connected robot: the link notices, backs off,
 *                   reconnects, and a mission's report then goes through once.
 *   foreign-ca      a device certificate from another CA (with the right trust anchor): every
 *                   handshake refused by the broker (broker.tls.refused), never a CONNACK.
 *   malformed-frame a frame with a 5-byte remaining length from the broker (a TLS relay
 *                   injects it): mqtt.bad_frame, reconnect, a report goes through once.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Checks } from '../checks';
import { startRelay } from '../relay';
import { HOST, THING, say, type Scenario } from '../suite';
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

export const brokerRestart: Scenario = {
	name: 'broker-restart',
	async run(s) {
		const c = new Checks(s);
		try {
			await missionBefore(s, c);
			const d = s.power('restart');
			await d.waitFor('link.online');
			await s.down();
			await new Promise((r) => setTimeout(r, 1_500));
			await s.up();
			await d.until('a second CONNACK', () => (d.count('link.online') >= 2 ? true : undefined), 20_000);
			const backoffs = d.count('link.backoff');
			const id = await pressButton(d);
			await d.waitFor('mission.report', (l) => l.mission === id, 30_000);
			await d.untilStatus('the report delivered', (x) => x.pendingReports === 0);
			await d.off();
			if (backoffs < 1) return 'the link reconnected without a backoff';
			say(`broker restarted under the robot: ${backoffs} backoff(s), reconnected`);
			return c.reportOnce(id) ?? (await c.onlyItem(id, 'finished'));
		} finally {
			c.close();
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
		const relay = await startRelay({ port: relayPort, host: HOST, upstream: { host: HOST, port: s.port }, ca: s.cloud.pki.ca.certPem, serverCert: s.cloud.pki.server.certPem, serverKey: s.cloud.pki.server.keyPem, deviceCert: device.certPem, deviceKey: device.keyPem });
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
