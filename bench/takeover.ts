/*
 * Two robots of one identity for 30 s against the local broker (bench section `storm`): how
 * many connections they make between them with the firmware's link (default backoff and
 * timing), against the same run with the reset-on-every-CONNACK behaviour the link had before
 * (minConnectedMs 0, which the issue measured at 267 connects in 30 s).
 */
import { Link } from '../firmware/core/link/link';
import { DEFAULT_TIMING } from '../firmware/core/link/machine';
import { createMemoryStorage, hostPorts, memoryLog } from '../firmware/platform/host/index';
import { startBroker } from '../cloud/local/broker';
import { createDevPki } from '../cloud/local/dev-pki';

export interface TakeoverResult {
	readonly seconds: number;
	/** CONNACKs of both robots together. */
	readonly connects: { readonly firmware: number; readonly resetOnConnack: number };
	readonly warnings: number;
}

async function run(dir: string, seconds: number, minConnectedMs: number): Promise<{ connects: number; warnings: number }> {
	const pki = await createDevPki(dir, { things: ['twin-1'] });
	const identity = pki.things.get('twin-1')!;
	const broker = await startBroker({ ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem });
	const logs = [memoryLog(), memoryLog()];
	const links = logs.map(
		(log) =>
			new Link(hostPorts(createMemoryStorage(), log), {
				endpoint: { host: '127.0.0.1', port: broker.port, tls: { ca: identity.caDer, certificates: [identity.certDer], key: identity.keyDer, serverName: 'localhost' } },
				clientId: identity.thing,
				timing: { ...DEFAULT_TIMING, minConnectedMs },
			}),
	);
	for (const l of links) l.start();
	await new Promise((r) => setTimeout(r, seconds * 1000));
	for (const l of links) l.stop();
	await broker.close();
	return { connects: links.reduce((n, l) => n + l.stats.connects, 0), warnings: logs.reduce((n, l) => n + l.lines.filter((x) => x.event === 'link.takeover_suspected').length, 0) };
}

export async function benchTakeover(dir: string, seconds = 30): Promise<TakeoverResult> {
	const firmware = await run(dir, seconds, DEFAULT_TIMING.minConnectedMs);
	const before = await run(dir, seconds, 0);
	return { seconds, connects: { firmware: firmware.connects, resetOnConnack: before.connects }, warnings: firmware.warnings };
}
