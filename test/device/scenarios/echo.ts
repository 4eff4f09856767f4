/*
 * The shipped entry connects: mutual TLS with the credentials from Preference (never in the
 * image: mc.so is searched for them), CONNECT, SUBSCRIBE and QoS 1 round trips of the
 * schedule shadow sync, to the endpoint from the endpoint record. Metric: boot to CONNACK
 * and to a synced schedule, from the robot's own log.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Checks } from '../checks';
import { BUILD_OUT, THING, metric, say, until, type Scenario } from '../suite';

const scenario: Scenario = {
	name: 'echo',
	async run(s) {
		s.clearStorage();
		(await s.up()).record.clear();
		await s.provision();
		const d = s.power('echo', { verbose: true });
		const boot = await d.waitFor('main.boot');
		const online = await d.waitFor('link.online');
		const synced = await d.untilStatus('link connected, schedule synced', (x) => x.link === 'connected' && x.schedule === 'synced');
		if (synced.thing !== THING) return `status names ${String(synced.thing)}, expected ${THING}`;
		metric({ name: 'device.connect', bootToConnackMs: online.t - boot.t });
		// the health report the shipped entry wires (platform/moddable/health.ts): made once the link is up
		await d.waitFor('health.reported');
		const c = new Checks(s);
		let health: Record<string, unknown> | undefined;
		try {
			health = await until('status shadow reported.health', async () => (await c.shadow('status'))?.state.reported?.health as Record<string, unknown> | undefined, 10_000);
		} finally {
			c.close();
		}
		// lin has no RSSI and no system heap figure (0 there: left out), and no budget-bounded storage by default
		if (health.firmware !== '1.0.0' || health.rebootReason !== 'unknown' || health.reconnects !== 1 || typeof health.uptimeS !== 'number' || 'freeHeap' in health || 'rssi' in health)
			return `status shadow reported.health ${JSON.stringify(health)}: expected firmware 1.0.0, rebootReason 'unknown', 1 reconnect, an uptime, no heap or RSSI figure on lin`;
		say(`status shadow reported.health ${JSON.stringify(health)}`);
		// debug builds print an `instruments:` line once a second: stay up for one, still connected
		await new Promise((r) => setTimeout(r, 1_100));
		await d.off();
		const subscribed = s.events.filter((e) => e.event === 'broker.subscribe' && e.thing === THING).length;
		say(`connected to ${s.port} as ${THING}; schedule synced; broker saw ${subscribed} SUBSCRIBE(s)`);
		return credentialsNotInImage(s.work, s.deviceCredentials);
	},
};
export default scenario;

/** undefined when no credential is inside the built image (mc.so holds the app's resources too). */
function credentialsNotInImage(work: string, c: { cert: Uint8Array; key?: Uint8Array }): string | undefined {
	const so = findFile(join(work, BUILD_OUT, 'bin'), 'mc.so');
	if (!so) return 'no mc.so built';
	const image = readFileSync(so);
	const found = Object.entries({ cert: c.cert, key: c.key }).filter(([, der]) => der && image.indexOf(der) >= 0);
	return found.length ? `credentials inside the image ${so}: ${found.map(([k]) => k).join(', ')}` : undefined;
}

export function findFile(dir: string, name: string): string | undefined {
	if (!existsSync(dir)) return undefined;
	for (const e of readdirSync(dir, { withFileTypes: true })) {
		const p = join(dir, e.name);
		if (e.isDirectory()) {
			const f = findFile(p, name);
			if (f) return f;
		} else if (e.name === name) return p;
	}
	return undefined;
}
